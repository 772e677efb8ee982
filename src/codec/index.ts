// Streaming xdelta3 (VCDIFF) codec on WebAssembly, byte-compatible with the xdelta3 command line tool.
//
//   encode(module, source, target)  -> delta stream   (like `xdelta3 -e -s SOURCE TARGET`)
//   decode(module, source, delta)   -> target stream  (like `xdelta3 -d -s SOURCE DELTA`)
//
// `module` is the compiled wasm/xdelta3.wasm (src/codec/module.ts in the Worker, loadCodecModule() in Node).
// Streams are pull-based: nothing is read or computed until the consumer reads. Every job runs in a fresh
// WebAssembly instance whose memory is capped by options.maxMemory, after reserving that cap from the isolate's
// codec budget (jobs wait their turn). Failures error the returned stream with a CodecError.

import type { CodecOptions, CodecStats, Secondary, SourceInfo } from "./api";
import {
  DEFAULT_DECODE_BLOCK, DEFAULT_DECODE_CACHE, WHOLE_SOURCE_LEVEL, WHOLE_SOURCE_MAX, DEFAULT_INPUT_WINDOW, DEFAULT_LEVEL, DEFAULT_MAX_MEMORY,
  DEFAULT_MAX_OUTPUT, DEFAULT_SECONDARY, DEFAULT_SOURCE_WINDOW, ISOLATE_CODEC_BUDGET,
} from "./defaults";
import { CodecError } from "./errors";
import { MemoryBudget } from "./limiter";
import { runJob, XD3_ADLER32, XD3_NOCOMPRESS, XD3_SEC_DJW, XD3_SEC_LZMA, type JobConfig } from "./job";

export type { CodecOptions, CodecStats, Secondary, SourceInfo, SourceReader } from "./api";
export { CodecError, isCodecError, type CodecErrorKind } from "./errors";
export * from "./defaults";
export { MemoryBudget } from "./limiter";

/** The isolate-wide budget every job reserves its WASM cap from. */
export let isolateCodecBudget = new MemoryBudget(ISOLATE_CODEC_BUDGET);

/** Replaces the isolate codec budget (Node tools that are not bound by the Worker's 128 MB, and tests).
 *  Only while no job holds a reservation. */
export function setIsolateCodecBudget(totalBytes: number): void {
  if (isolateCodecBudget.reservedBytes > 0) throw new CodecError("internal", "codec jobs are running");
  isolateCodecBudget = new MemoryBudget(totalBytes);
}

const MIN_WINDOW = 16 * 1024; // xdelta3's XD3_ALLOCSIZE: smallest input window the library accepts
const MIN_SOURCE_WINDOW = 512 * 1024; // XD3_MINSRCWINSZ
const MAX_WINDOW = 16 * 1024 * 1024; // XD3_HARDMAXWINSIZE of this build (and of Debian's 3.0.11)

/** Delta-encodes `target` against `source` (null: no source, plain compression). Returns the delta stream. */
export function encode(module: WebAssembly.Module, source: SourceInfo | null, target: ReadableStream<Uint8Array>,
  options: CodecOptions = {}): ReadableStream<Uint8Array> {
  return jobStream(module, () => encoderConfig(options, source?.size), source, target, "encode", options);
}

/** Rebuilds the target from `source` and `delta`. Returns the target stream. */
export function decode(module: WebAssembly.Module, source: SourceInfo | null, delta: ReadableStream<Uint8Array>,
  options: CodecOptions = {}): ReadableStream<Uint8Array> {
  return jobStream(module, () => decoderConfig(options), source, delta, "decode", options);
}

/** xdelta3 CLI level -> string-matcher preset (xdelta3-main.h). Level 0 also disables compression. */
function smatchForLevel(level: number): number {
  const SLOW = 1, FAST = 2, FASTER = 3, FASTEST = 4, DEFAULT = 0;
  if (level <= 1) return FASTEST;
  if (level === 2) return FASTER;
  if (level <= 5) return FAST;
  if (level === 6) return DEFAULT;
  return SLOW;
}

function secondaryFlags(secondary: Secondary): number {
  if (secondary === "lzma") return XD3_SEC_LZMA;
  if (secondary === "djw") return XD3_SEC_DJW;
  if (secondary === "none") return 0;
  throw new CodecError("internal", `unknown secondary compressor "${secondary}" (use lzma, djw or none)`);
}

function encoderConfig(o: CodecOptions, sourceSize?: number): JobConfig {
  const whole = wholeSourceSettings(o, sourceSize);
  const level = o.level ?? whole?.level ?? DEFAULT_LEVEL;
  if (!Number.isInteger(level) || level < 0 || level > 9) {
    throw new CodecError("internal", `level must be an integer 0..9, got ${level}`);
  }
  let winsize = checkSize("inputWindow", o.inputWindow ?? DEFAULT_INPUT_WINDOW, MIN_WINDOW, MAX_WINDOW);
  if (o.targetSize !== undefined) winsize = Math.min(winsize, Math.max(MIN_WINDOW, o.targetSize));
  return {
    encode: true,
    winsize,
    srcwin: checkSize("sourceWindow", o.sourceWindow ?? whole?.sourceWindow ?? DEFAULT_SOURCE_WINDOW, MIN_SOURCE_WINDOW, 2 ** 31),
    blksize: 0,
    flags: XD3_ADLER32 | secondaryFlags(o.secondary ?? DEFAULT_SECONDARY) | (level === 0 ? XD3_NOCOMPRESS : 0),
    smatch: smatchForLevel(level),
    maxMemory: o.maxMemory ?? DEFAULT_MAX_MEMORY,
    maxOutputSize: Number.MAX_SAFE_INTEGER,
  };
}

/**
 * A source a little larger than the default window: xdelta3 only finds matches inside its source window, and
 * with a window smaller than the source which matches it finds depends on where the window happens to sit (a
 * 22 MB inflated zip: 198 KB of delta under -6 -B 16M, 99 KB with the whole source in the window). The whole
 * source fits the job's memory cap only at a cheaper string matcher, so take that trade when the caller chose
 * neither: measured in docs/PERFORMANCE.md "Codec" (peak WASM ≈ source + 28.5 MiB at -3 against
 * window + 44.5 MiB at -6).
 */
function wholeSourceSettings(o: CodecOptions, sourceSize: number | undefined): { level: number; sourceWindow: number } | null {
  if (o.level !== undefined || o.sourceWindow !== undefined || o.maxMemory !== undefined || sourceSize === undefined) return null;
  if (sourceSize <= DEFAULT_SOURCE_WINDOW || sourceSize > WHOLE_SOURCE_MAX) return null;
  return { level: WHOLE_SOURCE_LEVEL, sourceWindow: sourceSize };
}

function decoderConfig(o: CodecOptions): JobConfig {
  return {
    encode: false,
    winsize: MIN_WINDOW,
    srcwin: checkSize("sourceWindow", o.sourceWindow ?? DEFAULT_DECODE_CACHE, MIN_SOURCE_WINDOW, 2 ** 31),
    blksize: checkSize("blockSize", o.blockSize ?? DEFAULT_DECODE_BLOCK, MIN_WINDOW, 2 ** 31),
    flags: 0,
    smatch: 0,
    maxMemory: o.maxMemory ?? DEFAULT_MAX_MEMORY,
    maxOutputSize: o.maxOutputSize ?? DEFAULT_MAX_OUTPUT,
    range: o.targetRange && checkRange(o.targetRange),
  };
}

function checkRange(range: { start: number; end: number }): { start: number; end: number } {
  if (!Number.isSafeInteger(range.start) || !Number.isSafeInteger(range.end) || range.start < 0 || range.end < range.start) {
    throw new CodecError("internal", `targetRange must be integers with 0 <= start <= end, got ${range.start}-${range.end}`);
  }
  return { start: range.start, end: range.end };
}

function checkSize(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new CodecError("internal", `${name} must be an integer between ${min} and ${max} bytes, got ${value}`);
  }
  return value;
}

function jobStream(module: WebAssembly.Module, configure: () => JobConfig, source: SourceInfo | null,
  input: ReadableStream<Uint8Array>, mode: "encode" | "decode", options: CodecOptions): ReadableStream<Uint8Array> {
  const stats: CodecStats = { mode, bytesIn: 0, bytesOut: 0, wasmMemoryPeakBytes: 0, sourceReads: 0, sourceBytesRead: 0 };
  let job: AsyncGenerator<Uint8Array, void, undefined> | undefined;
  let release: (() => void) | undefined;
  const finish = () => {
    release?.();
    release = undefined;
  };
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          if (!job) {
            const config = configure();
            if (source && (!Number.isSafeInteger(source.size) || source.size < 0)) {
              throw new CodecError("internal", `source size must be a non-negative integer, got ${source.size}`);
            }
            release = await isolateCodecBudget.acquire(config.maxMemory);
            job = runJob(module, config, source, input, stats);
          }
          const step = await job.next();
          if (step.done) {
            finish();
            controller.close();
            options.onStats?.(stats);
          } else {
            controller.enqueue(step.value);
          }
        } catch (e) {
          finish();
          if (!job) await input.cancel().catch(() => {});
          controller.error(e instanceof CodecError ? e : new CodecError("internal", String(e), { cause: e }));
        }
      },
      async cancel() {
        try {
          if (job) await job.return(undefined);
          else await input.cancel().catch(() => {});
        } finally {
          finish();
        }
      },
    },
    { highWaterMark: 0 },
  );
}
