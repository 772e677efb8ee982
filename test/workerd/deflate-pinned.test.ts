// The deflaters compressed-aware deltas use (src/deflate/pinned.ts), inside workerd with the real wasm modules
// and the runtime's node:zlib: recipes name shipped deflaters only; the node:zlib fast path is used only for
// parameters where it made the shipped deflater's bytes on the probe, and never again once a rebuild through it
// failed its check.
import { describe, expect, it } from "vitest";
import * as zlib from "node:zlib";
import type { DeflateParams, Deflater } from "../../src/deflate/api";
import { deflaterModules } from "../../src/deflate/modules";
import { nodeZlibDeflater } from "../../src/deflate/node-zlib";
import { PinnedDeflaters } from "../../src/deflate/pinned";
import { ZLIB_CHROMIUM_ID, ZLIB_VANILLA_ID } from "../../src/deflate/wasm-deflater";
import { packageFiles, tarOf } from "./helpers/artifacts";

const NPM = { deflater: ZLIB_CHROMIUM_ID, level: 9, memLevel: 8, windowBits: 15, strategy: 0 };

/** node:zlib, but always at level 1 whatever it is asked: a runtime zlib that makes other bytes. */
const wrongFastPath: Deflater = {
  id: ZLIB_CHROMIUM_ID,
  deflateRaw: (params: DeflateParams) => nodeZlibDeflater().deflateRaw({ ...params, level: 1 }),
};

describe("pinned deflaters", () => {
  it("find recipes that name the shipped deflaters (Chromium zlib for npm's level 9, vanilla zlib for its level 6)", () => {
    const deflaters = new PinnedDeflaters(deflaterModules, { [ZLIB_CHROMIUM_ID]: nodeZlibDeflater() });
    const content = tarOf(packageFiles(3)).subarray(0, 64 * 1024);
    const npm = new Uint8Array(zlib.deflateRawSync(content, { level: 9, memLevel: 8 }));
    expect(deflaters.findRecipe({ content, compressed: npm, whole: true }, undefined)).toEqual({ recipe: NPM, verified: true });
    const level6 = deflaters.findRecipe({ content, compressed: new Uint8Array(zlib.deflateRawSync(content, { level: 6 })), whole: true });
    expect([ZLIB_CHROMIUM_ID, ZLIB_VANILLA_ID]).toContain(level6?.recipe.deflater);
    expect(level6?.recipe.level).toBe(6);
  });

  it("use node:zlib only where it made the shipped deflater's bytes on the probe, and never after a failed check", async () => {
    const shipped = new PinnedDeflaters(deflaterModules).shippedFor(NPM)!;
    const trusted = new PinnedDeflaters(deflaterModules, { [ZLIB_CHROMIUM_ID]: nodeZlibDeflater() });
    const fast = await trusted.deflaterFor(NPM);
    expect(fast).not.toBe(trusted.shippedFor(NPM));
    expect(trusted.mayUseFastPath([NPM])).toBe(true);
    trusted.distrustFastPaths();
    expect(await trusted.deflaterFor(NPM)).toBe(trusted.shippedFor(NPM));
    expect(trusted.mayUseFastPath([NPM])).toBe(false);

    const refused = new PinnedDeflaters(deflaterModules, { [ZLIB_CHROMIUM_ID]: wrongFastPath });
    expect(await refused.deflaterFor(NPM)).toBe(refused.shippedFor(NPM));
    // Whichever is used, the bytes are the shipped deflater's.
    const content = tarOf(packageFiles(4));
    const made = async (deflater: Deflater) => new Uint8Array(await new Response(new Blob([content]).stream().pipeThrough(deflater.deflateRaw(NPM))).arrayBuffer());
    const want = await made(shipped);
    expect(await made((await refused.deflaterFor(NPM))!)).toEqual(want);
    expect(await made(fast!)).toEqual(want);
    expect(await trusted.deflaterFor({ ...NPM, deflater: "zlib-unknown" })).toBeNull();
  });
});
