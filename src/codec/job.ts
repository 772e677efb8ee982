// One codec job: a fresh WebAssembly instance driving xdelta3's streaming API (see wasm/xd3glue.c).
// Input is fed in chunks with one chunk of lookahead (the last one carries XD3_FLUSH), source blocks are read
// lazily by range when the library asks for them, and output is handed out in slices as the consumer pulls.

import type { CodecStats, SourceInfo } from "./api";
import { parseAppHeader } from "./appheader";
import { IO_CHUNK, SOURCE_READ_CHUNK } from "./defaults";
import { CodecError, type CodecErrorKind } from "./errors";

// xdelta3 return codes (xdelta3.h) and the wasi errno for ENOMEM.
const XD3_INPUT = -17703;
const XD3_OUTPUT = -17704;
const XD3_GETSRCBLK = -17705;
const XD3_GOTHEADER = -17706;
const XD3_INVALID_INPUT = -17712;
const XG_UNVERIFIABLE = -17800; // wasm/xd3glue.c: a ranged decode met a window without Adler-32
const ENOMEM = 48;

// xdelta3 stream flags.
export const XD3_SEC_DJW = 1 << 5;
export const XD3_ADLER32 = 1 << 10;
export const XD3_NOCOMPRESS = 1 << 13;
export const XD3_SEC_LZMA = 1 << 24;

const WASM_PAGE = 65536;
const INITIAL_PAGES = 32; // the module's declared minimum (2 MiB: data, 256 KiB stack)

interface GlueExports {
  xg_new(encode: number, winsize: number, srcwin: number, blksize: number, flags: number, smatch: number,
    srcSize: number, inbufCap: number): number;
  xg_new_error(): number;
  xg_inbuf(ctx: number): number;
  xg_input(ctx: number, len: number, eof: number): void;
  xg_step(ctx: number): number;
  xg_out_ptr(ctx: number): number;
  xg_out_len(ctx: number): number;
  xg_out_offset(ctx: number): number;
  xg_set_range(ctx: number, start: number, end: number): void;
  xg_prefer_blocks(on: number): void;
  xg_windows_skipped(ctx: number): number;
  xg_windows_emitted(ctx: number): number;
  xg_consume(ctx: number): void;
  xg_req_offset(ctx: number): number;
  xg_req_len(ctx: number): number;
  xg_req_buf(ctx: number): number;
  xg_provide(ctx: number, n: number): number;
  xg_appheader_ptr(ctx: number): number;
  xg_appheader_len(ctx: number): number;
  xg_header_done(ctx: number): number;
  xg_close(ctx: number): number;
  xg_msg(ctx: number): number;
  xg_strerror(code: number): number;
}

/** Everything the glue needs to configure one stream (already resolved from CodecOptions). */
export interface JobConfig {
  encode: boolean;
  /** xdelta3 -W (encoder input window). */
  winsize: number;
  /** xdelta3 -B (encoder) / source cache size (decoder). */
  srcwin: number;
  /** Decoder cache block size (0 = CLI default). */
  blksize: number;
  flags: number;
  smatch: number;
  maxMemory: number;
  maxOutputSize: number;
  /** Decode only target bytes [start, end] (inclusive); windows before them are not emitted. */
  range?: { start: number; end: number };
}

export async function* runJob(
  module: WebAssembly.Module,
  config: JobConfig,
  source: SourceInfo | null,
  input: ReadableStream<Uint8Array>,
  stats: CodecStats,
): AsyncGenerator<Uint8Array, void, undefined> {
  const memory = new WebAssembly.Memory({
    initial: INITIAL_PAGES,
    maximum: Math.max(INITIAL_PAGES, Math.floor(config.maxMemory / WASM_PAGE)),
  });
  const instance = new WebAssembly.Instance(module, { env: { memory } });
  const xg = instance.exports as unknown as GlueExports;
  const reader = new ChunkReader(input.getReader());
  const mode = config.encode ? "encode" : "decode";
  try {
    // Decoding reads the source in blocks even when all of it fits the cache: each window then waits only for the
    // blocks it copies from, so the first bytes go out before the whole reference has been read (and a ranged
    // decode reads only what its windows need).
    if (!config.encode) xg.xg_prefer_blocks(1);
    // xdelta3 encodes an input piece of winsize or more as one window of the piece's length (1 MiB pieces gave
    // 1 MiB windows under -W 256K), so the encoder is fed window-sized pieces: -W then means what it says.
    const piece = config.encode ? Math.min(IO_CHUNK, config.winsize) : IO_CHUNK;
    const ctx = xg.xg_new(config.encode ? 1 : 0, config.winsize, config.srcwin, config.blksize, config.flags,
      config.smatch, source ? source.size : -1, piece);
    if (ctx === 0) throw libraryError(mode, xg.xg_new_error(), "could not configure the stream", memory);
    if (config.range) xg.xg_set_range(ctx, config.range.start, config.range.end);

    let last = await feed(xg, ctx, memory, reader, stats, piece);
    for (;;) {
      const code = xg.xg_step(ctx);
      if (code === XD3_INPUT) {
        if (last) break;
        last = await feed(xg, ctx, memory, reader, stats, piece);
      } else if (code === XD3_OUTPUT) {
        if (!config.range) {
          yield* drainOutput(xg, ctx, memory, config, stats);
        } else if (yield* drainRange(xg, ctx, memory, config, config.range, stats)) {
          countWindows(xg, ctx, stats);
          return; // the range is complete: the rest of the delta is never read
        }
      } else if (code === XD3_GETSRCBLK) {
        await readSourceBlock(xg, ctx, memory, source!, stats);
      } else if (code === XD3_GOTHEADER) {
        refuseExternalCompression(xg, ctx, memory);
      } else {
        throw libraryError(mode, code, cString(memory, xg.xg_msg(ctx)), memory, xg);
      }
    }
    if (!config.encode && !xg.xg_header_done(ctx)) {
      throw new CodecError(stats.bytesIn === 0 ? "truncated" : "truncated", "the delta ends inside its VCDIFF header");
    }
    const closed = xg.xg_close(ctx);
    if (closed !== 0) {
      if (!config.encode) throw new CodecError("truncated", "the delta ends in the middle of a window");
      throw libraryError(mode, closed, cString(memory, xg.xg_msg(ctx)), memory, xg);
    }
    if (config.range) {
      throw new CodecError("corrupt", `the delta's target ends before the requested range ${config.range.start}-${config.range.end}`);
    }
    stats.wasmMemoryPeakBytes = memory.buffer.byteLength;
  } catch (e) {
    if (e instanceof CodecError) throw e;
    // A trap (e.g. RangeError/RuntimeError from the engine) or a failed source read.
    throw new CodecError("internal", e instanceof Error ? e.message : String(e), { cause: e });
  } finally {
    stats.wasmMemoryPeakBytes = memory.buffer.byteLength;
    await reader.cancel();
  }
}

/** Copies the next input piece into wasm memory; returns true when it was the last one. */
async function feed(xg: GlueExports, ctx: number, memory: WebAssembly.Memory, reader: ChunkReader,
  stats: CodecStats, piece: number): Promise<boolean> {
  const { bytes, last } = await reader.next(piece);
  new Uint8Array(memory.buffer, xg.xg_inbuf(ctx), bytes.length).set(bytes);
  stats.bytesIn += bytes.length;
  xg.xg_input(ctx, bytes.length, last ? 1 : 0);
  return last;
}

function* drainOutput(xg: GlueExports, ctx: number, memory: WebAssembly.Memory, config: JobConfig,
  stats: CodecStats): Generator<Uint8Array> {
  const len = xg.xg_out_len(ctx);
  if (!config.encode && stats.bytesOut + len > config.maxOutputSize) {
    throw new CodecError("output-limit", `decoded output would exceed ${config.maxOutputSize} bytes`);
  }
  for (let done = 0; done < len; done += IO_CHUNK) {
    const n = Math.min(IO_CHUNK, len - done);
    // The output stays valid in wasm memory until xg_consume; the consumer gets its own copy.
    const slice = new Uint8Array(memory.buffer, xg.xg_out_ptr(ctx) + done, n).slice();
    stats.bytesOut += n;
    yield slice;
  }
  xg.xg_consume(ctx);
}

/**
 * Ranged decode: hands out the part of the window just decoded that lies in `range` (the library has already
 * verified the window's Adler-32). Returns true once the range's last byte has been handed out.
 */
function* drainRange(xg: GlueExports, ctx: number, memory: WebAssembly.Memory, config: JobConfig,
  range: { start: number; end: number }, stats: CodecStats): Generator<Uint8Array, boolean> {
  const windowStart = xg.xg_out_offset(ctx);
  const windowEnd = windowStart + xg.xg_out_len(ctx); // exclusive
  if (windowEnd > config.maxOutputSize) {
    throw new CodecError("output-limit", `decoded output would exceed ${config.maxOutputSize} bytes`);
  }
  const to = Math.min(range.end + 1, windowEnd);
  for (let from = Math.max(range.start, windowStart); from < to; from += IO_CHUNK) {
    const n = Math.min(IO_CHUNK, to - from);
    const slice = new Uint8Array(memory.buffer, xg.xg_out_ptr(ctx) + (from - windowStart), n).slice();
    stats.bytesOut += n;
    yield slice;
  }
  xg.xg_consume(ctx);
  return windowEnd > range.end;
}

function countWindows(xg: GlueExports, ctx: number, stats: CodecStats): void {
  stats.windowsSkipped = xg.xg_windows_skipped(ctx);
  stats.windowsDecoded = xg.xg_windows_emitted(ctx);
}

/** Answers XD3_GETSRCBLK: reads the block by range (in pieces of at most SOURCE_READ_CHUNK) into the cache. */
async function readSourceBlock(xg: GlueExports, ctx: number, memory: WebAssembly.Memory, source: SourceInfo,
  stats: CodecStats): Promise<void> {
  const offset = xg.xg_req_offset(ctx);
  const length = xg.xg_req_len(ctx);
  let filled = 0;
  while (filled < length) {
    const want = Math.min(SOURCE_READ_CHUNK, length - filled);
    // A fresh view per piece: nothing grows memory while the job awaits (one job per instance), but a view
    // must never outlive a growth.
    const target = new Uint8Array(memory.buffer, xg.xg_req_buf(ctx) + filled, want);
    const got = source.readInto ? await source.readInto(offset + filled, target) : await readCopy(source, offset + filled, target);
    stats.sourceReads += 1;
    stats.sourceBytesRead += got;
    if (got !== want) {
      throw new CodecError("wrong-source",
        `source read at ${offset + filled} returned ${got} of ${want} bytes (source shorter than its declared size ${source.size})`);
    }
    filled += want;
  }
  const ret = xg.xg_provide(ctx, filled);
  if (ret !== 0) throw new CodecError("internal", cString(memory, xg.xg_msg(ctx)));
}

/** A source without readInto: read, then copy into wasm memory (the view is re-derived after the await). */
async function readCopy(source: SourceInfo, offset: number, target: Uint8Array): Promise<number> {
  const bytes = await source.read(offset, target.length);
  const n = Math.min(bytes.length, target.length);
  new Uint8Array(target.buffer, target.byteOffset, n).set(bytes.subarray(0, n));
  return bytes.length;
}

function refuseExternalCompression(xg: GlueExports, ctx: number, memory: WebAssembly.Memory): void {
  const ptr = xg.xg_appheader_ptr(ctx);
  if (ptr === 0) return;
  const header = new Uint8Array(memory.buffer, ptr, xg.xg_appheader_len(ctx)).slice();
  const parsed = parseAppHeader(header);
  if (parsed.targetCompression || parsed.sourceCompression) {
    throw new CodecError("external-compression",
      `the delta was made by xdelta3 without -D: its app header records external compression ` +
      `(target "${parsed.targetCompression}", source "${parsed.sourceCompression}"), so it cannot be rebuilt byte-exactly`);
  }
}

function libraryError(mode: "encode" | "decode", code: number, message: string, memory: WebAssembly.Memory,
  xg?: GlueExports): CodecError {
  const detail = message || (xg ? cString(memory, xg.xg_strerror(code)) : "") || `error ${code}`;
  return new CodecError(classify(mode, code, detail), `${detail} (code ${code}, wasm memory ${memory.buffer.byteLength} bytes)`);
}

function classify(mode: "encode" | "decode", code: number, message: string): CodecErrorKind {
  if (code === ENOMEM) return "memory";
  if (code === XG_UNVERIFIABLE) return "unverifiable";
  if (mode === "encode") return "internal";
  if (message.includes("checksum mismatch")) return "checksum";
  if (message.includes("source file too short") || message.includes("source input required")) return "wrong-source";
  if (message.includes("further input required")) return "truncated";
  if (code === XD3_INVALID_INPUT) return "corrupt";
  return "corrupt";
}

function cString(memory: WebAssembly.Memory, ptr: number): string {
  if (ptr === 0) return "";
  const bytes = new Uint8Array(memory.buffer, ptr);
  const end = bytes.indexOf(0);
  return new TextDecoder().decode(bytes.subarray(0, end < 0 ? 256 : Math.min(end, 256)));
}

/** Reads a byte stream in pieces of at most `max` bytes, knowing one piece ahead whether more follows. */
class ChunkReader {
  private pending: Uint8Array = new Uint8Array(0);
  private done = false;

  constructor(private readonly reader: ReadableStreamDefaultReader<Uint8Array>) {}

  async next(max: number): Promise<{ bytes: Uint8Array; last: boolean }> {
    await this.fillAtLeastOne();
    const bytes = this.pending.subarray(0, Math.min(max, this.pending.length));
    this.pending = this.pending.subarray(bytes.length);
    await this.fillAtLeastOne(); // lookahead: is there anything after this piece?
    return { bytes, last: this.pending.length === 0 && this.done };
  }

  async cancel(): Promise<void> {
    if (!this.done) {
      this.done = true;
      await this.reader.cancel().catch(() => {});
    }
    this.reader.releaseLock();
  }

  private async fillAtLeastOne(): Promise<void> {
    while (this.pending.length === 0 && !this.done) {
      const { value, done } = await this.reader.read();
      if (done) this.done = true;
      else if (value.length > 0) this.pending = value;
    }
  }
}
