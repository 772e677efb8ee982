// Byte-exact interoperability with Debian's xdelta3 CLI (3.0.11), both directions, on edge-case inputs.
// Skipped (with a message) where the native CLI is not installed; the committed fixtures in
// codec-fixtures.test.ts cover the native->ours direction without it.
import { afterAll, describe, expect, it } from "vitest";
import { concat, nextVersion, randomBytes, textLike } from "../fixtures/codec/data";
import { hasNativeXdelta3, ourDecode, ourEncode, readBytes, runNative, sameBytes, scratchDir } from "./codec-helpers";

if (!hasNativeXdelta3) console.warn("codec-interop: native xdelta3 not found (apt-get install xdelta3): skipping");

interface Case {
  name: string;
  source: Uint8Array;
  target: Uint8Array;
  /** xdelta3 window flags used by both sides, e.g. ["-B", "524288"]. */
  window?: { B?: number; W?: number };
}

const empty = new Uint8Array(0);
const text300k = textLike(300_000, 11);
const small = textLike(100_000, 12);
const big = textLike(600_000, 13);
const KiB = 1024;

const cases: Case[] = [
  { name: "empty source and empty target", source: empty, target: empty },
  { name: "empty source, 50 KB target", source: empty, target: textLike(50_000, 1) },
  { name: "50 KB source, empty target", source: textLike(50_000, 2), target: empty },
  { name: "1-byte source and 1-byte target", source: Uint8Array.of(0x41), target: Uint8Array.of(0x42) },
  { name: "1-byte source and identical 1-byte target", source: Uint8Array.of(7), target: Uint8Array.of(7) },
  { name: "identical 300 KB files", source: text300k, target: text300k },
  { name: "unrelated random files", source: randomBytes(200_000, 3), target: randomBytes(200_000, 4) },
  { name: "new version of a 300 KB file", source: text300k, target: nextVersion(text300k, 5, 5_000) },
  { name: "source larger than target", source: big, target: nextVersion(big, 6).subarray(200_000, 300_000) },
  { name: "source smaller than target", source: small, target: concat([nextVersion(small, 7), textLike(400_000, 8)]) },
  ...[16 * KiB - 1, 16 * KiB, 16 * KiB + 1, 48 * KiB + 1].map((n) => ({
    name: `${n}-byte target around 16 KiB input windows (-W 16384)`,
    source: textLike(70_000, 20),
    target: nextVersion(textLike(70_000, 20), 21, 3_000).subarray(0, n),
    window: { W: 16 * KiB },
  })),
  ...[512 * KiB - 1, 512 * KiB, 512 * KiB + 1, 512 * KiB + 16 * KiB + 1].map((n) => ({
    name: `${n}-byte source around the 512 KiB source window and its 16 KiB blocks (-B 524288)`,
    source: textLike(n, 30),
    target: nextVersion(textLike(n, 30), 31, 30_000),
    window: { B: 512 * KiB },
  })),
];

function windowFlags(c: Case): string[] {
  return [...(c.window?.B ? ["-B", String(c.window.B)] : []), ...(c.window?.W ? ["-W", String(c.window.W)] : [])];
}

const nativeEncodings: { name: string; flags: string[] }[] = [
  { name: "default flags (LZMA secondary)", flags: [] },
  { name: "-9", flags: ["-9"] },
  { name: "-S djw", flags: ["-S", "djw"] },
  { name: "-S none", flags: ["-S", "none"] },
];

const ourEncodings = [
  { name: "LZMA secondary", options: { secondary: "lzma" as const } },
  { name: "DJW secondary", options: { secondary: "djw" as const } },
  { name: "no secondary", options: { secondary: "none" as const } },
  { name: "-9 LZMA", options: { level: 9, secondary: "lzma" as const } },
  { name: "-1 no secondary", options: { level: 1, secondary: "none" as const } },
];

describe.skipIf(!hasNativeXdelta3)("interop with the native xdelta3 CLI", () => {
  const tmp = scratchDir();
  afterAll(() => tmp.cleanup());

  describe.each(cases)("$name", (c) => {
    const src = tmp.file(`${c.name}.src`.replace(/[^\w.-]/g, "_"), c.source);
    const tgt = tmp.file(`${c.name}.tgt`.replace(/[^\w.-]/g, "_"), c.target);

    it.each(nativeEncodings)("native delta made with $name decodes byte-exact with ours", async ({ flags }) => {
      const out = tmp.file("native.vcdiff");
      runNative(["-e", "-f", ...flags, ...windowFlags(c), "-s", src, tgt, out]);
      expect(sameBytes(await ourDecode(c.source, readBytes(out)), c.target)).toBe(true);
    });

    it("native delta made the proxy's way (xdelta3 -e -D -s SRC -c < TGT) decodes byte-exact with ours", async () => {
      const delta = runNative(["-e", "-D", ...windowFlags(c), "-s", src, "-c"], c.target);
      expect(sameBytes(await ourDecode(c.source, delta), c.target)).toBe(true);
    });

    it.each(ourEncodings)("our delta with $name decodes byte-exact with native xdelta3 -d", async ({ options }) => {
      const { delta } = await ourEncode(c.source, c.target,
        { ...options, sourceWindow: c.window?.B, inputWindow: c.window?.W });
      const d = tmp.file("ours.vcdiff", delta);
      const out = tmp.file("ours.out");
      runNative(["-d", "-f", "-s", src, d, out]);
      expect(sameBytes(readBytes(out), c.target)).toBe(true);
      // and with ours, piped like the proxy does
      expect(sameBytes(await ourDecode(c.source, delta), c.target)).toBe(true);
    });
  });

  it("our delta without a source (plain compression) decodes with native xdelta3 -d, and vice versa", async () => {
    const target = textLike(200_000, 40);
    const { delta } = await ourEncode(null, target);
    expect(delta.length).toBeLessThan(target.length / 2);
    expect(sameBytes(runNative(["-d", "-c"], delta), target)).toBe(true);
    const native = runNative(["-e", "-D", "-c"], target);
    expect(sameBytes(await ourDecode(null, native), target)).toBe(true);
  });
});
