// The codec inside workerd: the module comes from the `.wasm` import (precompiled by wrangler, as in
// production) and the source is read lazily by range from the real local R2 binding.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { CodecError, decode, encode, isolateCodecBudget, type SourceInfo } from "./index";
import { xdelta3Module } from "./module";
import { randomBytes } from "../../test/fixtures/random";

/** A new version of `base`: a few edits, an insert and a moved block. */
function nextVersion(base: Uint8Array): Uint8Array {
  const moved = base.subarray(100_000, 180_000);
  const parts = [
    base.subarray(0, 50_000),
    new TextEncoder().encode("inserted bytes that were not in the source"),
    base.subarray(50_000, 100_000),
    base.subarray(180_000, base.length - 200_000),
    moved,
    base.subarray(base.length - 200_000),
  ];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  for (let i = 7; i < out.length; i += 400_009) out[i] ^= 0x5a;
  return out;
}

function r2Source(key: string, size: number, reads: { offset: number; length: number }[]): SourceInfo {
  return {
    size,
    async read(offset, length) {
      reads.push({ offset, length });
      const obj = await env.BUCKET.get(key, { range: { offset, length } });
      if (!obj) throw new Error(`missing ${key}`);
      return new Uint8Array(await obj.arrayBuffer());
    },
  };
}

function chunked(bytes: Uint8Array, chunk = 100_000): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream({
    pull(c) {
      if (at >= bytes.length) return c.close();
      c.enqueue(bytes.slice(at, at + chunk));
      at += chunk;
    },
  });
}

/** Index of the first differing byte, or -1 (vitest's deep equality is far too slow on megabytes). */
function firstDifference(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}

async function collect(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

describe("xdelta3 codec in workerd", () => {
  it("round-trips a new version through the .wasm import with the source read by range from R2", async () => {
    const source = randomBytes(3_000_000, 1);
    const target = nextVersion(source);
    await env.BUCKET.put("ref/reference.bin", source);

    const encodeReads: { offset: number; length: number }[] = [];
    // A 512 KiB source window is smaller than the source, so the encoder reads it block by block.
    const delta = await collect(encode(xdelta3Module, r2Source("ref/reference.bin", source.length, encodeReads),
      chunked(target), { sourceWindow: 512 * 1024, targetSize: target.length }));
    // The 80 KB block moved from the start to the end lies outside the sliding 512 KiB window: it is stored
    // literally. Everything else is copied from the source.
    expect(delta.length).toBeLessThan(90_000);
    expect(encodeReads.length).toBeGreaterThan(1);
    expect(Math.max(...encodeReads.map((r) => r.length))).toBeLessThanOrEqual(512 * 1024 / 32 * 32);

    const decodeReads: { offset: number; length: number }[] = [];
    let peak = 0;
    const rebuilt = await collect(decode(xdelta3Module, r2Source("ref/reference.bin", source.length, decodeReads),
      chunked(delta, 100), { onStats: (s) => (peak = s.wasmMemoryPeakBytes) }));
    expect(rebuilt.length).toBe(target.length);
    expect(firstDifference(rebuilt, target)).toBe(-1);
    expect(decodeReads.length).toBeGreaterThan(0);
    expect(peak).toBeLessThanOrEqual(64 * 1024 * 1024);
    expect(isolateCodecBudget.reservedBytes).toBe(0);
  });

  it("errors the output stream with a typed error when the delta is rebuilt against the wrong source", async () => {
    const source = randomBytes(200_000, 2);
    const target = nextVersion(randomBytes(400_000, 2)).subarray(0, 150_000);
    await env.BUCKET.put("ref/other.bin", randomBytes(200_000, 3));
    const delta = await collect(encode(xdelta3Module, { size: source.length, read: async (o, l) => source.slice(o, o + l) },
      chunked(target)));
    const err = await collect(decode(xdelta3Module, r2Source("ref/other.bin", 200_000, []), chunked(delta)))
      .then(() => null, (e) => e);
    expect(err).toBeInstanceOf(CodecError);
    expect(["checksum", "wrong-source"]).toContain((err as CodecError).kind);
  });

  it("concurrent jobs queue for the isolate codec budget and all complete", async () => {
    const source = randomBytes(500_000, 4);
    await env.BUCKET.put("ref/shared.bin", source);
    const targets = [5, 6, 7].map((seed) => nextVersion(randomBytes(500_000, seed)));
    let maxReserved = 0;
    const results = await Promise.all(targets.map(async (target) => {
      const delta = await collect(encode(xdelta3Module, r2Source("ref/shared.bin", source.length, []), chunked(target)));
      maxReserved = Math.max(maxReserved, isolateCodecBudget.reservedBytes);
      return delta;
    }));
    expect(results.every((d) => d.length > 0)).toBe(true);
    expect(maxReserved).toBeLessThanOrEqual(isolateCodecBudget.totalBytes);
    expect(isolateCodecBudget.reservedBytes).toBe(0);
    expect(isolateCodecBudget.waiting).toBe(0);
  });
});
