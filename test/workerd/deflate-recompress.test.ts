// Verified recompression inside workerd: the runtime's node:zlib as the fast path for the shipped Chromium zlib,
// and the shipped wasm deflater as the automatic fallback when the fast path makes other bytes: caught by the
// probe, caught by the SHA-256 before anything was released (transparent), or caught at the end of a long
// stream (the stream errors, never completes with wrong bytes, and the next call is right).
import { deflateRawSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import type { DeflateParams, DeflateRecipe, Deflater } from "../../src/deflate/api";
import { deflaterModules, workerRecompressor } from "../../src/deflate/modules";
import { nodeZlibDeflater } from "../../src/deflate/node-zlib";
import { probeContent, RecompressMismatchError, Recompressor, UnknownDeflaterError } from "../../src/deflate/recompress";
import { WasmDeflate, ZLIB_CHROMIUM_ID, ZLIB_VANILLA_ID } from "../../src/deflate/wasm-deflater";
import { bytesToHex } from "../../src/encoding";
import { textLike } from "../fixtures/codec/data";
import { flipsByteAt } from "./helpers/wrong-fast-path";

const NPM: DeflateRecipe = { deflater: ZLIB_CHROMIUM_ID, level: 9, memLevel: 8, windowBits: 15, strategy: 0 };

async function sha256(bytes: Uint8Array): Promise<string> {
  return bytesToHex(await crypto.subtle.digest("SHA-256", bytes));
}

function chunked(bytes: Uint8Array, size = 50_000): () => Promise<ReadableStream<Uint8Array>> {
  return async () => {
    let at = 0;
    return new ReadableStream<Uint8Array>({
      pull(c) {
        if (at >= bytes.length) return c.close();
        c.enqueue(bytes.slice(at, at + size));
        at += size;
      },
    });
  };
}

async function readAll(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** Reads until the stream ends or errors; returns what arrived and the error, if any. */
async function drain(stream: ReadableStream<Uint8Array>): Promise<{ bytes: number; error?: unknown }> {
  const reader = stream.getReader();
  let bytes = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return { bytes };
      bytes += value.length;
    }
  } catch (error) {
    return { bytes, error };
  }
}

/** A fast path that uses other parameters than asked: differs everywhere, so the probe catches it. */
function wrongLevel(): Deflater & { calls: number } {
  const real = nodeZlibDeflater();
  const fake = {
    id: real.id,
    calls: 0,
    deflateRaw(params: DeflateParams) {
      fake.calls++;
      return real.deflateRaw({ ...params, level: params.level === 9 ? 1 : 9 });
    },
  };
  return fake;
}

describe("Recompressor.verifiedRecompress", () => {
  const content = textLike(900_000, 31);
  const original = deflateRawSync(content, NPM);
  // A byte the probe never reaches but this stream does: a fast path wrong only there passes the probe.
  const pastProbe = deflateRawSync(probeContent(), NPM).length + 1000;

  it("uses the runtime's node:zlib once it reproduced the shipped deflater on the probe", async () => {
    const fast = nodeZlibDeflater();
    let calls = 0;
    const counted: Deflater = { id: fast.id, deflateRaw: (p) => (calls++, fast.deflateRaw(p)) };
    const r = new Recompressor(deflaterModules, { [ZLIB_CHROMIUM_ID]: counted });
    expect(await r.fastPathState(NPM)).toBe("unchecked");
    const out = await readAll(r.verifiedRecompress(NPM, chunked(content), { size: original.length, sha256: await sha256(original) }));
    expect(out).toEqual(new Uint8Array(original));
    expect(await r.fastPathState(NPM)).toBe("trusted");
    expect(calls).toBe(2); // the probe and the real stream
  });

  it("a fast path that differs on the probe is never used: the shipped deflater makes the bytes", async () => {
    const fast = wrongLevel();
    const r = new Recompressor(deflaterModules, { [ZLIB_CHROMIUM_ID]: fast });
    const out = await readAll(r.verifiedRecompress(NPM, chunked(content), { size: original.length, sha256: await sha256(original) }));
    expect(out).toEqual(new Uint8Array(original));
    expect(await r.fastPathState(NPM)).toBe("refused");
    expect(fast.calls).toBe(1); // only the probe
  });

  it("a fast path that passes the probe but differs later is replaced transparently while nothing was released", async () => {
    const fast = flipsByteAt(pastProbe);
    expect(pastProbe).toBeLessThan(original.length);
    const r = new Recompressor(deflaterModules, { [ZLIB_CHROMIUM_ID]: fast }); // holds back up to 1 MiB
    expect(original.length).toBeLessThan(1 << 20);
    const out = await readAll(r.verifiedRecompress(NPM, chunked(content), { size: original.length, sha256: await sha256(original) }));
    expect(out).toEqual(new Uint8Array(original));
    expect(await r.fastPathState(NPM)).toBe("disabled");
    expect(fast.calls).toBe(2);
  });

  it("past the hold-back size, a wrong fast path errors the stream before its end; the next call is right", async () => {
    const fast = flipsByteAt(pastProbe);
    const r = new Recompressor(deflaterModules, { [ZLIB_CHROMIUM_ID]: fast }, { holdBackBytes: 16 * 1024 });
    const expected = { size: original.length, sha256: await sha256(original) };
    const first = await drain(r.verifiedRecompress(NPM, chunked(content), expected));
    expect(first.error).toBeInstanceOf(RecompressMismatchError);
    expect(first.bytes).toBeLessThan(original.length); // never a complete stream of wrong bytes
    expect(await r.fastPathState(NPM)).toBe("disabled");
    expect(await readAll(r.verifiedRecompress(NPM, chunked(content), expected))).toEqual(new Uint8Array(original));
    expect(fast.calls).toBe(2); // probe + the failed stream; the retry used the shipped deflater
  });

  it("the Worker's recompressor trusts node:zlib for the Chromium id only; vanilla recipes use the shipped wasm", async () => {
    const r = workerRecompressor();
    const out = await readAll(r.verifiedRecompress(NPM, chunked(content), { size: original.length, sha256: await sha256(original) }));
    expect(out).toEqual(new Uint8Array(original));
    expect(await r.fastPathState(NPM)).toBe("trusted");
    expect(await r.fastPathState({ ...NPM, deflater: ZLIB_VANILLA_ID })).toBe("none");
  });

  it("without a fast path the shipped deflater is used, verified", async () => {
    const r = new Recompressor(deflaterModules);
    expect(await r.fastPathState(NPM)).toBe("none");
    const out = await readAll(r.verifiedRecompress(NPM, chunked(content), { size: original.length, sha256: await sha256(original) }));
    expect(out).toEqual(new Uint8Array(original));
  });

  it("a wrong recipe or expected hash is an error, on either path, never a completed stream", async () => {
    const expected = { size: original.length, sha256: await sha256(original) };
    const choices: Record<string, Deflater>[] = [{}, { [ZLIB_CHROMIUM_ID]: nodeZlibDeflater() }];
    for (const fastPaths of choices) {
      const r = new Recompressor(deflaterModules, fastPaths);
      const wrongRecipe = await drain(r.verifiedRecompress({ ...NPM, level: 6 }, chunked(content), expected));
      expect(wrongRecipe.error).toBeInstanceOf(RecompressMismatchError);
      const wrongHash = await drain(r.verifiedRecompress(NPM, chunked(content), { ...expected, sha256: "00".repeat(32) }));
      expect(wrongHash.error).toBeInstanceOf(RecompressMismatchError);
      const vanilla = await drain(r.verifiedRecompress({ ...NPM, deflater: ZLIB_VANILLA_ID }, chunked(content), expected));
      expect(vanilla.error).toBeInstanceOf(RecompressMismatchError);
    }
  });

  it("a recipe naming a deflater this build does not ship is refused up front", () => {
    const r = new Recompressor(deflaterModules, { [ZLIB_CHROMIUM_ID]: nodeZlibDeflater() });
    expect(() => r.verifiedRecompress({ ...NPM, deflater: "zlib-chromium-9.9" }, chunked(content), { size: 1, sha256: "" }))
      .toThrow(UnknownDeflaterError);
  });
});

describe("shipped deflaters", () => {
  it("stay within their 2 MiB module memory at the largest parameters", () => {
    for (const id of [ZLIB_CHROMIUM_ID, ZLIB_VANILLA_ID]) {
      const stream = new WasmDeflate(deflaterModules[id], { level: 9, memLevel: 9, windowBits: 15, strategy: 0 });
      stream.push(textLike(300_000, 1), () => {});
      stream.finish(() => {});
      expect(stream.memoryBytes).toBeLessThanOrEqual(2 << 20);
    }
  });

  it("refuse parameters zlib would change or refuse", () => {
    for (const bad of [{ level: 10 }, { memLevel: 0 }, { windowBits: 8 }, { strategy: 5 }, { level: 1.5 }]) {
      expect(() => new WasmDeflate(deflaterModules[ZLIB_CHROMIUM_ID], { level: 6, memLevel: 8, windowBits: 15, strategy: 0, ...bad }))
        .toThrow(/unsupported deflate parameters/);
    }
  });
});
