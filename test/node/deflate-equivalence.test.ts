// The shipped deflaters make the same bytes as the zlibs they pin, at every parameter set a recipe may name:
// wasm/zlib-chromium.wasm as Node's bundled zlib (the Chromium fork: native code with whatever SIMD this CPU
// has, so a difference caused by CPU features would show here), wasm/zlib.wasm as Debian's vanilla zlib through
// Python. Inputs: text, a real binary, incompressible bytes, long runs, and a mix crossing the 32 KiB window.
import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { deflateRawSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import type { DeflateParams } from "../../src/deflate/api";
import { loadDeflaterModules } from "../../src/deflate/node";
import { CANDIDATES } from "../../src/deflate/recipe-search";
import { deflateWhole, ZLIB_CHROMIUM_ID, ZLIB_VANILLA_ID } from "../../src/deflate/wasm-deflater";
import { concat, textLike } from "../fixtures/codec/data";
import { randomBytes } from "../fixtures/random";

const modules = await loadDeflaterModules();
const python = spawnSync("python3", ["-c", "import zlib"]).status === 0;
if (!python) console.warn("deflate-equivalence: python3 with zlib not found: skipping the vanilla zlib comparison");

const INPUTS: Record<string, Uint8Array> = {
  text: textLike(200_000, 77),
  binary: new Uint8Array(readFileSync(process.execPath).subarray(1_000_000, 1_300_000)),
  random: randomBytes(100_000, 78),
  runs: concat([new Uint8Array(70_000), new Uint8Array(70_000).fill(0x61), textLike(10_000, 79)]),
  mixed: concat([textLike(50_000, 80), randomBytes(20_000, 81), textLike(50_000, 80), new Uint8Array(5000)]),
};

/** Every parameter set the recipe search may produce, once per deflater. */
function paramSets(id: string): DeflateParams[] {
  return CANDIDATES.filter((c) => c.deflater === id);
}

function firstDifference(a: Uint8Array, b: Uint8Array): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i === a.length && i === b.length ? -1 : i;
}

/** Python's zlib deflate of `content` with each parameter set, in one python3 process. */
function pythonDeflateAll(params: DeflateParams[], content: Uint8Array): Uint8Array[] {
  const script = "import sys,zlib,struct,json\n" +
    "d=sys.stdin.buffer.read()\n" +
    "for l,m,w,s in json.loads(sys.argv[1]):\n" +
    "  c=zlib.compressobj(l,zlib.DEFLATED,-w,m,s); o=c.compress(d)+c.flush()\n" +
    "  sys.stdout.buffer.write(struct.pack('<I',len(o))+o)";
  const spec = JSON.stringify(params.map((p) => [p.level, p.memLevel, p.windowBits, p.strategy]));
  const out = execFileSync("python3", ["-c", script, spec], { input: content, maxBuffer: 1 << 28 });
  const streams: Uint8Array[] = [];
  for (let at = 0; at < out.length;) {
    const len = out.readUInt32LE(at);
    streams.push(out.subarray(at + 4, at + 4 + len));
    at += 4 + len;
  }
  return streams;
}

describe(`${ZLIB_CHROMIUM_ID} (wasm) vs Node's zlib ${process.versions.zlib} (native)`, () => {
  for (const [name, content] of Object.entries(INPUTS)) {
    it(`${name}: same bytes at every candidate parameter set`, () => {
      const differing = paramSets(ZLIB_CHROMIUM_ID).filter((p) =>
        firstDifference(deflateWhole(modules[ZLIB_CHROMIUM_ID], p, content), deflateRawSync(content, p)) !== -1);
      expect(differing).toEqual([]);
    });
  }
});

describe.skipIf(!python)(`${ZLIB_VANILLA_ID} (wasm) vs Debian's vanilla zlib (Python)`, () => {
  for (const [name, content] of Object.entries(INPUTS)) {
    it(`${name}: same bytes at every candidate parameter set`, () => {
      const sets = paramSets(ZLIB_VANILLA_ID);
      const made = pythonDeflateAll(sets, content);
      expect(made.length).toBe(sets.length);
      const differing = sets.filter((p, i) => firstDifference(deflateWhole(modules[ZLIB_VANILLA_ID], p, content), made[i]) !== -1);
      expect(differing).toEqual([]);
    });
  }

  it("the two deflaters are different deflaters: the Chromium fork's bytes differ from vanilla zlib's", () => {
    const p = { level: 9, memLevel: 8, windowBits: 15, strategy: 0 };
    expect(firstDifference(deflateWhole(modules[ZLIB_CHROMIUM_ID], p, INPUTS.text), pythonDeflateAll([p], INPUTS.text)[0])).not.toBe(-1);
  });
});
