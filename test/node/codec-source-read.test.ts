// How the codec reads its source: a SourceInfo with readInto gets its blocks written straight into WASM memory
// (no extra allocation and copy), one with only read() gets them copied; both rebuild the same bytes, and a
// short answer from either is refused as the wrong source.
import { describe, expect, it } from "vitest";
import { CodecError, decode, encode, type SourceInfo } from "../../src/codec/index";
import { codecModule, memorySource, ourEncode, sameBytes, streamOf } from "./codec-helpers";
import { randomBytes } from "../fixtures/random";

/** A source that only offers readInto, logging each call. */
function readIntoSource(bytes: Uint8Array, calls: number[], shortBy = 0): SourceInfo {
  return {
    size: bytes.length,
    read: () => Promise.reject(new Error("read() must not be used when readInto is there")),
    async readInto(offset, target) {
      calls.push(target.length);
      const piece = bytes.subarray(offset, Math.min(bytes.length, offset + target.length) - shortBy);
      target.set(piece);
      return piece.length;
    },
  };
}

describe("codec source reads", () => {
  const source = randomBytes(3 * 1024 * 1024, 7);
  const target = source.slice();
  target.set(randomBytes(4096, 9), 1_000_000);
  target.set(randomBytes(4096, 11), 2_500_000);

  it("a source with readInto decodes byte-exact without calling read()", async () => {
    const { delta } = await ourEncode(source, target);
    const calls: number[] = [];
    const rebuilt = await decodeWith(readIntoSource(source, calls), delta);
    expect(sameBytes(rebuilt, target)).toBe(true);
    expect(calls.length).toBeGreaterThan(0);
  });

  it("a source with only read() decodes to the same bytes", async () => {
    const { delta } = await ourEncode(source, target);
    expect(sameBytes(await decodeWith(memorySource(source), delta), target)).toBe(true);
  });

  it("encoding through readInto gives the same delta as through read()", async () => {
    const viaRead = await collect(encode(codecModule, memorySource(source), streamOf(target)));
    const viaReadInto = await collect(encode(codecModule, readIntoSource(source, []), streamOf(target)));
    expect(sameBytes(viaReadInto, viaRead)).toBe(true);
  });

  it("the first decoded bytes come out before the whole source has been read (blocks on demand)", async () => {
    const big = randomBytes(8 * 1024 * 1024, 5);
    const next = big.slice();
    next.set(randomBytes(1000, 3), 6_000_000);
    const { delta } = await ourEncode(big, next, { inputWindow: 1024 * 1024 });
    const reads: { offset: number; length: number }[] = [];
    const reader = decode(codecModule, memorySource(big, reads), streamOf(delta)).getReader();
    const first = await reader.read();
    const bytesReadBeforeFirstChunk = reads.reduce((n, r) => n + r.length, 0);
    await reader.cancel();
    expect(first.value?.length).toBeGreaterThan(0);
    expect(bytesReadBeforeFirstChunk).toBeLessThanOrEqual(2 * 1024 * 1024); // the first 1 MiB window's blocks
  });

  it("a readInto that comes back short is refused as the wrong source", async () => {
    const { delta } = await ourEncode(source, target);
    const error = await decodeWith(readIntoSource(source, [], 1), delta).then(() => null, (e: unknown) => e);
    expect(error).toBeInstanceOf(CodecError);
    expect((error as CodecError).kind).toBe("wrong-source");
  });
});

function decodeWith(source: SourceInfo, delta: Uint8Array): Promise<Uint8Array> {
  return collect(decode(codecModule, source, streamOf(delta)));
}

async function collect(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(stream).arrayBuffer());
}
