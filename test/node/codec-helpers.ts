// Shared helpers for the Node codec tests: run our WebAssembly codec on in-memory data and the native
// Debian `xdelta3` CLI on files.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decode, encode, type CodecOptions, type CodecStats, type SourceInfo } from "../../src/codec/index";
import { loadCodecModule } from "../../src/codec/node";

export const codecModule = await loadCodecModule();

export const nativeXdelta3 = spawnSync("xdelta3", ["-V"], { encoding: "utf8" });
export const hasNativeXdelta3 = nativeXdelta3.status === 0 || /xdelta3/i.test(nativeXdelta3.stderr ?? "");

export function memorySource(bytes: Uint8Array, log?: { offset: number; length: number }[]): SourceInfo {
  return {
    size: bytes.length,
    async read(offset, length) {
      log?.push({ offset, length });
      return bytes.slice(offset, offset + length);
    },
  };
}

export function streamOf(bytes: Uint8Array, chunk = 64 * 1024): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream({
    pull(c) {
      if (at >= bytes.length) return c.close();
      c.enqueue(bytes.slice(at, at + chunk));
      at += chunk;
    },
  });
}

async function collect(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

export async function ourEncode(source: Uint8Array | null, target: Uint8Array, options: CodecOptions = {}):
  Promise<{ delta: Uint8Array; stats: CodecStats }> {
  let stats: CodecStats | undefined;
  const delta = await collect(encode(codecModule, source ? memorySource(source) : null, streamOf(target),
    { targetSize: target.length, ...options, onStats: (s) => (stats = s) }));
  return { delta, stats: stats! };
}

export async function ourDecode(source: Uint8Array | null, delta: Uint8Array, options: CodecOptions = {}):
  Promise<Uint8Array> {
  return collect(decode(codecModule, source ? memorySource(source) : null, streamOf(delta), options));
}

/** A scratch directory removed by the returned cleanup function. */
export function scratchDir(): { dir: string; file(name: string, bytes?: Uint8Array): string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), "codec-test-"));
  return {
    dir,
    file(name, bytes) {
      const path = join(dir, name);
      if (bytes) writeFileSync(path, bytes);
      return path;
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** Runs the native xdelta3; throws with its stderr on failure; returns stdout. */
export function runNative(args: string[], stdin?: Uint8Array): Uint8Array {
  const r = spawnSync("xdelta3", args, { input: stdin, maxBuffer: 1 << 30 });
  if (r.status !== 0) throw new Error(`xdelta3 ${args.join(" ")} failed (${r.status}): ${r.stderr?.toString()}`);
  return new Uint8Array(r.stdout);
}

export function readBytes(path: string): Uint8Array {
  return new Uint8Array(readFileSync(path));
}

export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}
