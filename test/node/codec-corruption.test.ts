// Corrupted deltas never crash, hang or allocate without bound: every single-byte change and every truncation
// of a few small deltas gives either a typed CodecError or output whose SHA-256 differs from the original
// (which the engine's SHA-256 check on GET rejects) -- or, where the byte did not matter (e.g. a file name in
// the app header), exactly the original bytes.
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { CodecError, type CodecErrorKind } from "../../src/codec/index";
import { concat, nextVersion, textLike } from "../fixtures/codec/data";
import { hasNativeXdelta3, ourDecode, ourEncode, runNative, scratchDir } from "./codec-helpers";

const source = textLike(20_000, 300);
const target = concat([nextVersion(source, 301, 3_000), textLike(1_500, 302)]);
const targetSha = createHash("sha256").update(target).digest("hex");
const MAX_OUTPUT = 4 * target.length;
const MAX_MEMORY = 16 * 1024 * 1024;

type Outcome = CodecErrorKind | "original" | "different-output";

async function decodeOutcome(delta: Uint8Array): Promise<Outcome> {
  try {
    const out = await ourDecode(source, delta, { maxOutputSize: MAX_OUTPUT, maxMemory: MAX_MEMORY });
    return createHash("sha256").update(out).digest("hex") === targetSha ? "original" : "different-output";
  } catch (e) {
    if (!(e instanceof CodecError)) throw e;
    // "internal" from a decoder means a trap or a bug, never an acceptable answer to bad input.
    if (e.kind === "internal") throw e;
    return e.kind;
  }
}

async function deltas(): Promise<{ name: string; delta: Uint8Array }[]> {
  const list = [
    { name: "ours, LZMA secondary", delta: (await ourEncode(source, target, { secondary: "lzma" })).delta },
    { name: "ours, DJW secondary", delta: (await ourEncode(source, target, { secondary: "djw" })).delta },
    { name: "ours, no secondary", delta: (await ourEncode(source, target, { secondary: "none" })).delta },
  ];
  if (hasNativeXdelta3) {
    const tmp = scratchDir();
    try {
      const src = tmp.file("s", source);
      list.push({ name: "native xdelta3 default (LZMA)", delta: runNative(["-e", "-D", "-s", src, "-c"], target) });
    } finally {
      tmp.cleanup();
    }
  }
  return list;
}

describe("corrupted deltas", async () => {
  const cases = await deltas();

  it.each(cases)("every single-byte change of $name is caught or gives non-original output", async ({ delta }) => {
    expect(await decodeOutcome(delta)).toBe("original");
    const seen = new Map<Outcome, number>();
    for (let i = 0; i < delta.length; i++) {
      for (const flip of [0x01, 0xff]) {
        const bad = delta.slice();
        bad[i] ^= flip;
        const outcome = await decodeOutcome(bad);
        seen.set(outcome, (seen.get(outcome) ?? 0) + 1);
      }
    }
    // Most damage is detected by the format itself (Adler-32, VCDIFF structure, secondary compressor checks).
    const detected = [...seen].filter(([k]) => k !== "original" && k !== "different-output").reduce((n, [, v]) => n + v, 0);
    expect(detected).toBeGreaterThan(delta.length);
    expect(seen.get("different-output") ?? 0).toBeLessThan(delta.length / 4);
  }, 300_000);

  it.each(cases)("every truncation of $name is reported or gives non-original output", async ({ delta }) => {
    const seen = new Map<Outcome, number>();
    for (let cut = 0; cut < delta.length; cut++) {
      const outcome = await decodeOutcome(delta.subarray(0, cut));
      seen.set(outcome, (seen.get(outcome) ?? 0) + 1);
    }
    expect(seen.get("original") ?? 0).toBe(0);
    expect(seen.get("truncated") ?? 0).toBeGreaterThan(delta.length * 0.9);
  }, 300_000);
});
