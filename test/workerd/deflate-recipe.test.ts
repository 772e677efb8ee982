// Recipe search inside workerd, with the shipped wasm deflaters as the Worker imports them: streams made by the
// runtime's own zlib (node:zlib, the Chromium fork, as the npm CLI uses it), by Debian's Python zlib (vanilla,
// committed fixtures) and real npm-CLI tarballs are matched to a shipped deflater + parameters from a prefix,
// and that recipe then recompresses the WHOLE stream, streamed, to exactly the original bytes.
import { deflateRawSync, inflateRawSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import type { DeflateParams, DeflateRecipe } from "../../src/deflate/api";
import { deflaterModules } from "../../src/deflate/modules";
import { CANDIDATES, findRecipe, findRecipes } from "../../src/deflate/recipe-search";
import { recompress } from "../../src/deflate/recompress";
import { wasmDeflater, ZLIB_CHROMIUM_ID, ZLIB_VANILLA_ID } from "../../src/deflate/wasm-deflater";
import { textLike } from "../fixtures/codec/data";
import manifest from "../fixtures/deflate/manifest.json";
import { PYTHON_STREAMS, pythonContent } from "../fixtures/deflate/streams";
import { randomBytes } from "../fixtures/random";

const PREFIX = 256 * 1024;
const fromBase64 = (b64: string) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));

/** A tar-like mix: text files, a binary blob, runs of zeros (tar padding). */
function tarLike(seed: number, size: number): Uint8Array {
  const out = new Uint8Array(size);
  let at = 0;
  for (let i = 0; at < size; i++) {
    const piece = i % 3 === 2 ? randomBytes(3000, seed + i) : textLike(20_000 + (i % 5) * 1000, seed + i);
    out.set(piece.subarray(0, size - at), at);
    at += piece.length + 512; // zeros between "files"
  }
  return out;
}

/** The recipe's whole stream, recompressed through the shipped deflater's TransformStream in uneven chunks. */
async function recompressed(recipe: DeflateRecipe, content: Uint8Array): Promise<Uint8Array> {
  const deflater = wasmDeflater(recipe.deflater, deflaterModules[recipe.deflater]);
  let at = 0;
  const source = new ReadableStream<Uint8Array>({
    pull(c) {
      if (at >= content.length) return c.close();
      const n = 1 + ((at * 7919) % 70_000);
      c.enqueue(content.slice(at, at + n));
      at += n;
    },
  });
  return new Uint8Array(await new Response(recompress(deflater, recipe, source)).arrayBuffer());
}

/** Byte equality with a short message (a deep-equality diff of 300 KB arrays takes seconds). */
function expectSameBytes(actual: Uint8Array, expected: Uint8Array): void {
  let same = 0;
  while (same < actual.length && same < expected.length && actual[same] === expected[same]) same++;
  expect({ length: actual.length, firstDifferenceAt: same }).toEqual({ length: expected.length, firstDifferenceAt: expected.length });
}

function params(p: Partial<DeflateParams>): DeflateParams {
  return { level: 6, memLevel: 8, windowBits: 15, strategy: 0, ...p };
}

describe("findRecipe on streams made by the runtime's zlib (node:zlib = the Chromium fork)", () => {
  const content = tarLike(1, 1_200_000);
  const cases: Partial<DeflateParams>[] = [
    { level: 9, memLevel: 8 }, // the npm CLI
    { level: 6 }, { level: 1 }, { level: 4 }, { level: 9, memLevel: 9 }, { level: 2, memLevel: 9 },
  ];
  for (const p of cases) {
    it(`level ${p.level} memLevel ${p.memLevel ?? 8}: found from a 256 KiB prefix, the whole stream reproduced`, async () => {
      const original = deflateRawSync(content, params(p));
      const recipe = findRecipe(deflaterModules, content.subarray(0, PREFIX), original.subarray(0, PREFIX));
      expect(recipe).toEqual({ deflater: ZLIB_CHROMIUM_ID, ...params(p) });
      expectSameBytes(await recompressed(recipe!, content), original);
    });
  }

  it("the npm CLI's parameters are the first candidate", () => {
    expect(CANDIDATES[0]).toEqual({ deflater: ZLIB_CHROMIUM_ID, ...params({ level: 9 }) });
  });

  it("a short stream: complete inputs are compared to the last byte", async () => {
    const small = textLike(3000, 9);
    const original = deflateRawSync(small, params({ level: 9 }));
    const [match] = findRecipes(deflaterModules, small, original, { contentComplete: true, originalComplete: true, limit: 1 });
    expect(match).toMatchObject({ exact: true, comparedBytes: original.length, recipe: { deflater: ZLIB_CHROMIUM_ID } });
    expectSameBytes(await recompressed(match.recipe, small), original);
    // One byte more or less content than the stream holds: no candidate reproduces it.
    expect(findRecipe(deflaterModules, small.subarray(1), original, { contentComplete: true, originalComplete: true })).toBeNull();
  });
});

describe("findRecipe on streams made by Python's zlib (vanilla zlib; committed fixtures)", () => {
  for (const s of PYTHON_STREAMS) {
    it(`${s.name} (level ${s.level}, memLevel ${s.memLevel}, strategy ${s.strategy})`, async () => {
      const original = fromBase64((manifest.python as Record<string, string>)[s.name]);
      const content = pythonContent(s);
      const recipe = findRecipe(deflaterModules, content, original.subarray(0, 16 * 1024), { contentComplete: true });
      expect(recipe).toEqual({ deflater: ZLIB_VANILLA_ID, level: s.level, memLevel: s.memLevel, windowBits: s.windowBits, strategy: s.strategy });
      expectSameBytes(await recompressed(recipe!, content), original);
    });
  }
});

describe("findRecipe on real npm tarballs (committed fixtures)", () => {
  const expected: Record<string, Partial<DeflateRecipe>> = {
    "@aws-sdk/core@3.981.2": { deflater: ZLIB_CHROMIUM_ID, level: 9 }, // npm CLI, Node with the Chromium zlib
    "yaml@2.9.1": { deflater: ZLIB_VANILLA_ID, level: 9 }, // npm CLI on an older Node (vanilla zlib)
    "@babel/compat-data@8.1.2": { deflater: ZLIB_CHROMIUM_ID, level: 6 }, // another packer (OS byte 3)
    "util-deprecate@1.0.2": { deflater: ZLIB_VANILLA_ID, level: 6 },
  };
  for (const [spec, want] of Object.entries(expected)) {
    it(`${spec}: the gzip member's deflate stream is rebuilt exactly, and with it the whole .tgz`, async () => {
      const tgz = fromBase64((manifest.npm as Record<string, string>)[spec]);
      expect([tgz[0], tgz[1], tgz[2], tgz[3]]).toEqual([0x1f, 0x8b, 8, 0]); // one gzip member, no name/extra
      const raw = tgz.subarray(10, tgz.length - 8);
      const content = new Uint8Array(inflateRawSync(raw));
      const isize = new DataView(tgz.buffer, tgz.byteOffset + tgz.length - 4, 4).getUint32(0, true);
      expect(content.length).toBe(isize);
      const recipe = findRecipe(deflaterModules, content.subarray(0, PREFIX), raw.subarray(0, PREFIX), {
        contentComplete: content.length <= PREFIX, originalComplete: raw.length <= PREFIX });
      expect(recipe).toEqual({ ...params({}), ...want });
      const rebuilt = await recompressed(recipe!, content);
      expectSameBytes(rebuilt, raw);
      const whole = new Uint8Array(tgz.length);
      whole.set(tgz.subarray(0, 10));
      whole.set(rebuilt, 10);
      whole.set(tgz.subarray(tgz.length - 8), 10 + rebuilt.length);
      expectSameBytes(whole, tgz);
    });
  }
});

describe("findRecipe refuses what no shipped deflater made", () => {
  it("a stream from parameters outside the candidates (level 5, windowBits 12) or a damaged one gets null", () => {
    const content = tarLike(3, 300_000);
    const odd = deflateRawSync(content, params({ level: 5, windowBits: 12 }));
    expect(findRecipe(deflaterModules, content.subarray(0, PREFIX), odd.subarray(0, PREFIX))).toBeNull();
    const damaged = deflateRawSync(content, params({ level: 9 }));
    damaged[2000] ^= 1;
    expect(findRecipe(deflaterModules, content.subarray(0, PREFIX), damaged.subarray(0, PREFIX))).toBeNull();
  });

  it("content that is not the stream's gets null", () => {
    const original = deflateRawSync(textLike(200_000, 4), params({ level: 9 }));
    expect(findRecipe(deflaterModules, textLike(200_000, 5), original)).toBeNull();
  });
});
