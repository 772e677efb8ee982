// Deltas made by Debian's xdelta3 3.0.11 CLI (committed, see test/fixtures/codec/manifest.json) decode with our
// codec without the native tool installed; and every failure mode comes out as a typed CodecError.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { CodecError, decode, encode, isolateCodecBudget } from "../../src/codec/index";
import { FIXTURES, fixtureSource, fixtureTarget } from "../fixtures/codec/fixtures";
import { codecModule, memorySource, ourDecode, ourEncode, sameBytes, streamOf } from "./codec-helpers";

const manifest = JSON.parse(readFileSync(new URL("../fixtures/codec/manifest.json", import.meta.url), "utf8"));
const fixture = (file: string) => new Uint8Array(readFileSync(new URL(`../fixtures/codec/${file}`, import.meta.url)));
const source = fixtureSource();
const target = fixtureTarget();
const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

async function failure(p: Promise<unknown>): Promise<CodecError> {
  const e = await p.then(() => undefined, (err) => err);
  expect(e).toBeInstanceOf(CodecError);
  return e as CodecError;
}

describe("committed native xdelta3 fixtures", () => {
  it("rebuild the inputs they were made from", () => {
    expect(sha256(target)).toBe(manifest.target_sha256);
  });

  it.each(FIXTURES.filter((f) => !f.gzip))("$file decodes byte-exact", async ({ file }) => {
    const out = await ourDecode(source, fixture(file));
    expect(sha256(out)).toBe(manifest.target_sha256);
  });

  it("a delta whose app header records gzip external compression (xdelta3 without -D) is refused", async () => {
    const chunks: Uint8Array[] = [];
    const stream = decode(codecModule, memorySource(source), streamOf(fixture("external-gzip.vcdiff")));
    const e = await failure(stream.pipeTo(new WritableStream({ write: (c) => void chunks.push(c) })));
    expect(e.kind).toBe("external-compression");
    expect(e.message).toMatch(/without -D/);
    expect(chunks).toEqual([]);
  });
});

describe("typed codec errors", () => {
  const delta = fixture("default-lzma.vcdiff");

  it("no source for a delta that copies from one -> wrong-source", async () => {
    expect((await failure(ourDecode(null, delta))).kind).toBe("wrong-source");
  });

  it("a shorter source than the delta was made from -> wrong-source", async () => {
    expect((await failure(ourDecode(source.subarray(0, 1000), delta))).kind).toBe("wrong-source");
  });

  it("a different source of the same size -> checksum (Adler-32 mismatch)", async () => {
    const other = source.slice();
    other[5000] ^= 1;
    other[40000] ^= 1;
    expect((await failure(ourDecode(other, delta))).kind).toBe("checksum");
  });

  it("an empty delta, or one cut inside the header or a window -> truncated", async () => {
    for (const cut of [0, 3, 10, Math.floor(delta.length / 2), delta.length - 1]) {
      expect((await failure(ourDecode(source, delta.subarray(0, cut)))).kind).toBe("truncated");
    }
  });

  it("bytes that are not VCDIFF -> corrupt", async () => {
    expect((await failure(ourDecode(source, new TextEncoder().encode("definitely not a delta")))).kind).toBe("corrupt");
  });

  it("output beyond maxOutputSize -> output-limit, before the excess is produced", async () => {
    const e = await failure(ourDecode(source, delta, { maxOutputSize: target.length - 1 }));
    expect(e.kind).toBe("output-limit");
    expect(sameBytes(await ourDecode(source, delta, { maxOutputSize: target.length }), target)).toBe(true);
  });

  it("a configuration that does not fit the job's WASM cap -> memory, and the budget is released", async () => {
    const e = await failure(ourEncode(source, target, { level: 9, sourceWindow: 64 << 20, maxMemory: 16 << 20 }));
    expect(e.kind).toBe("memory");
    expect(isolateCodecBudget.reservedBytes).toBe(0);
  });

  it("a job whose cap exceeds the isolate budget is refused at once -> memory", async () => {
    const e = await failure(ourEncode(source, target, { maxMemory: isolateCodecBudget.totalBytes + 65536 }));
    expect(e.kind).toBe("memory");
    expect(e.message).toMatch(/isolate codec budget/);
  });

  it("invalid options -> internal, with the reason", async () => {
    const e = await failure(new Response(encode(codecModule, null, streamOf(target), { level: 12 })).arrayBuffer());
    expect(e.kind).toBe("internal");
    expect(e.message).toMatch(/level/);
  });
});
