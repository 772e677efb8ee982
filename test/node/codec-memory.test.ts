// Bounded memory at a size CI can afford (the 1 GiB run is in `npm run bench:codec`): a 48 MiB target against a
// 48 MiB source -- both larger than the encoder's 16 MiB source window and the decoder's 32 MiB cache -- encodes
// and decodes with the default options inside the default 64 MiB WASM cap, reading the source lazily.
import { createHash } from "node:crypto";
import { createWriteStream } from "node:fs";
import { once } from "node:events";
import { describe, expect, it } from "vitest";
import { decode, DEFAULT_MAX_MEMORY, encode, type CodecStats } from "../../src/codec/index";
import { syntheticSource, syntheticTarget, syntheticTargetBlocks } from "../fixtures/codec/synthetic";
import { codecModule, hasNativeXdelta3, readBytes, runNative, scratchDir, streamOf } from "./codec-helpers";

const BLOCKS = 48;
const SEED = 7;
const MiB = 1 << 20;

function hashOf(blocks: Iterable<Uint8Array>): string {
  const h = createHash("sha256");
  for (const b of blocks) h.update(b);
  return h.digest("hex");
}

async function hashStream(stream: ReadableStream<Uint8Array>): Promise<{ sha: string; bytes: number }> {
  const h = createHash("sha256");
  let bytes = 0;
  await stream.pipeTo(new WritableStream({ write(c) { h.update(c); bytes += c.length; } }));
  return { sha: h.digest("hex"), bytes };
}

async function collect(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

describe("memory stays under the 64 MiB default cap", () => {
  const targetSha = hashOf(syntheticTargetBlocks(BLOCKS, SEED));
  let delta: Uint8Array;

  it("encoding a 48 MiB new version reads the source once and peaks under the cap", async () => {
    let stats: CodecStats | undefined;
    delta = await collect(encode(codecModule, syntheticSource(BLOCKS, SEED), syntheticTarget(BLOCKS, SEED),
      { onStats: (s) => (stats = s) }));
    expect(stats!.wasmMemoryPeakBytes).toBeLessThanOrEqual(DEFAULT_MAX_MEMORY);
    expect(stats!.sourceBytesRead).toBe(BLOCKS * MiB);
    // 1/128 of the blocks are new and random-ish: the delta is about that, not the target.
    expect(delta.length).toBeLessThan(BLOCKS * MiB * 0.03);
  }, 300_000);

  it("decoding it rebuilds the exact target under the cap", async () => {
    let stats: CodecStats | undefined;
    const out = await hashStream(decode(codecModule, syntheticSource(BLOCKS, SEED), streamOf(delta),
      { onStats: (s) => (stats = s) }));
    expect(out.sha).toBe(targetSha);
    expect(stats!.wasmMemoryPeakBytes).toBeLessThanOrEqual(DEFAULT_MAX_MEMORY);
    expect(stats!.sourceBytesRead).toBeLessThan(2 * BLOCKS * MiB);
  }, 300_000);

  it.skipIf(!hasNativeXdelta3)("a DeltaGlider-style delta (xdelta3 -e -D, default -B 64M) decodes under the cap", async () => {
    const tmp = scratchDir();
    try {
      const src = tmp.file("source.bin");
      const tgt = tmp.file("target.bin");
      for (const [path, blocks] of [[src, Array.from({ length: BLOCKS }, (_, i) => i)], [tgt, null]] as const) {
        const file = createWriteStream(path);
        const source = syntheticSource(BLOCKS, SEED);
        const chunks = blocks ? null : syntheticTargetBlocks(BLOCKS, SEED);
        for (const b of chunks ?? []) if (!file.write(b)) await once(file, "drain");
        for (const i of blocks ?? []) if (!file.write(await source.read(i * MiB, MiB))) await once(file, "drain");
        file.end();
        await once(file, "finish");
      }
      const out0 = tmp.file("dg.vcdiff");
      runNative(["-e", "-D", "-f", "-s", src, tgt, out0]);
      const native = readBytes(out0);
      let stats: CodecStats | undefined;
      const out = await hashStream(decode(codecModule, syntheticSource(BLOCKS, SEED), streamOf(native),
        { onStats: (s) => (stats = s) }));
      expect(out.sha).toBe(targetSha);
      expect(stats!.wasmMemoryPeakBytes).toBeLessThanOrEqual(DEFAULT_MAX_MEMORY);
      // The 32 MiB cache is smaller than the encoder's 64 MiB window: some blocks are read again, boundedly.
      expect(stats!.sourceBytesRead).toBeLessThan(4 * BLOCKS * MiB);
    } finally {
      tmp.cleanup();
    }
  }, 300_000);
});

describe("a source a little larger than the default window is encoded whole, under the cap", () => {
  // Rotated: the target starts with the source's last 4 MiB. A 16 MiB window starts at the source's start and
  // never sees them; with the whole 32 MiB source in the window they are copies.
  const WHOLE = 32;
  const order = [...Array.from({ length: 4 }, (_, i) => WHOLE - 4 + i), ...Array.from({ length: WHOLE - 4 }, (_, i) => i)];
  const rotated = () => {
    const source = syntheticSource(WHOLE, SEED);
    let next = 0;
    return new ReadableStream<Uint8Array>({
      async pull(c) {
        if (next >= order.length) return c.close();
        c.enqueue(await source.read(order[next++] * MiB, MiB));
      },
    });
  };

  it("finds matches anywhere in a 32 MiB source and rebuilds the target, both under the 64 MiB cap", async () => {
    let encoded: CodecStats | undefined;
    const delta = await collect(encode(codecModule, syntheticSource(WHOLE, SEED), rotated(), { targetSize: WHOLE * MiB, onStats: (s) => (encoded = s) }));
    expect(encoded!.wasmMemoryPeakBytes).toBeLessThanOrEqual(DEFAULT_MAX_MEMORY);
    expect(delta.length).toBeLessThan(MiB / 4);
    let decoded: CodecStats | undefined;
    const out = await hashStream(decode(codecModule, syntheticSource(WHOLE, SEED), streamOf(delta), { onStats: (s) => (decoded = s) }));
    const expected = createHash("sha256");
    for await (const chunk of rotated()) expected.update(chunk);
    expect(out.sha).toBe(expected.digest("hex"));
    expect(decoded!.wasmMemoryPeakBytes).toBeLessThanOrEqual(DEFAULT_MAX_MEMORY);
  }, 300_000);
});
