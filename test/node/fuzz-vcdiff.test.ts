// Fuzzing the VCDIFF (xdelta3) decoder with generated damage: valid deltas of generated edits, then bit flips,
// truncations, insertions and splices (also against a damaged or wrong source, and delivered in random slices)
// decode to exactly the target or fail with a typed CodecError other than "internal" -- never a crash, never a
// hang (each case is timed), never more output than the cap. A different output is possible for damage the
// format cannot see; the engine's SHA-256 check on GET refuses it, so here it only has to differ in hash.
// DG_FUZZ_RUNS raises the number of cases.
import { createHash } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CodecError, decode } from "../../src/codec/index";
import { concat, nextVersion, textLike } from "../fixtures/codec/data";
import { codecModule, memorySource, ourEncode, streamOf } from "./codec-helpers";

const RUNS = Number(process.env.DG_FUZZ_RUNS || 0);
const runs = (base: number) => (RUNS > 0 ? RUNS : base);
/** Per decode: a few hundred KiB of delta decode in milliseconds; anything near this is a hang. */
const CASE_TIME_LIMIT_MS = 5_000;
const MAX_MEMORY = 16 * 1024 * 1024;

const source = textLike(24_000, 500);
/** Targets made from the source by generated edits, each with its delta (all three secondary compressors). */
const targets = [
  concat([nextVersion(source, 501, 2_000), textLike(1_000, 502)]),
  concat([source.subarray(4_000, 9_000), textLike(3_000, 503), source.subarray(0, 2_000)]),
  textLike(6_000, 504),
];
const cases = await Promise.all(targets.flatMap((target) => (["lzma", "djw", "none"] as const).map(async (secondary) => ({
  target,
  sha: sha256(target),
  delta: (await ourEncode(source, target, { secondary })).delta,
}))));

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

type Verdict = "target" | "other-output" | CodecError["kind"];

/** Decode `delta` against `src` in slices of `chunk` bytes; classify the result; time it. */
async function verdictOf(src: Uint8Array, delta: Uint8Array, target: { sha: string; length: number }, chunk: number): Promise<Verdict> {
  const maxOutputSize = 2 * target.length;
  const started = performance.now();
  try {
    const stream = decode(codecModule, memorySource(src), streamOf(delta, chunk), { maxOutputSize, maxMemory: MAX_MEMORY });
    const out = new Uint8Array(await new Response(stream).arrayBuffer());
    expect(out.length).toBeLessThanOrEqual(maxOutputSize);
    return sha256(out) === target.sha ? "target" : "other-output";
  } catch (error) {
    if (!(error instanceof CodecError)) throw error;
    // "internal" from the decoder means a trap or a bug, never an acceptable answer to bad input.
    expect(error.kind, error.message).not.toBe("internal");
    return error.kind;
  } finally {
    expect(performance.now() - started).toBeLessThan(CASE_TIME_LIMIT_MS);
  }
}


// ---- damage ----

type Damage = { kind: "flip"; at: number; bit: number } | { kind: "byte"; at: number; value: number } | { kind: "truncate"; at: number }
  | { kind: "insert"; at: number; bytes: Uint8Array } | { kind: "delete"; at: number; length: number }
  | { kind: "splice"; at: number; from: number; length: number };

const damage: fc.Arbitrary<Damage> = fc.oneof(
  fc.record({ kind: fc.constant("flip" as const), at: fc.nat(), bit: fc.nat({ max: 7 }) }),
  fc.record({ kind: fc.constant("byte" as const), at: fc.nat(), value: fc.constantFrom(0x00, 0xff, 0x7f, 0x80, 0x01) }),
  fc.record({ kind: fc.constant("truncate" as const), at: fc.nat() }),
  fc.record({ kind: fc.constant("insert" as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
  fc.record({ kind: fc.constant("delete" as const), at: fc.nat(), length: fc.integer({ min: 1, max: 64 }) }),
  fc.record({ kind: fc.constant("splice" as const), at: fc.nat(), from: fc.nat(), length: fc.integer({ min: 1, max: 256 }) }),
);

/** Damage biased to the start of the delta, where the headers and the first window's sections are. */
function position(at: number, length: number): number {
  if (length === 0) return 0;
  return at % 2 === 0 ? (at >> 1) % Math.min(length, 64) : (at >> 1) % length;
}

function damaged(bytes: Uint8Array, d: Damage): Uint8Array {
  const at = position(d.at, bytes.length);
  switch (d.kind) {
    case "flip": case "byte": {
      const out = bytes.slice();
      if (out.length) out[at] = d.kind === "flip" ? out[at] ^ (1 << d.bit) : d.value;
      return out;
    }
    case "truncate": return bytes.slice(0, at);
    case "insert": return concat([bytes.subarray(0, at), d.bytes, bytes.subarray(at)]);
    case "delete": return concat([bytes.subarray(0, at), bytes.subarray(at + d.length)]);
    default: {
      const from = bytes.length ? d.from % bytes.length : 0;
      return concat([bytes.subarray(0, at), bytes.subarray(from, from + d.length), bytes.subarray(at)]);
    }
  }
}

const testCase = fc.nat({ max: cases.length - 1 }).map((i) => cases[i]);
const chunk = fc.oneof(fc.constant(64 * 1024), fc.integer({ min: 1, max: 4096 }));

describe("VCDIFF decoding under fuzzing", () => {
  it("the undamaged deltas decode to their targets in any slicing", async () => {
    await fc.assert(fc.asyncProperty(testCase, chunk, async (c, size) => {
      expect(await verdictOf(source, c.delta, { sha: c.sha, length: c.target.length }, size)).toBe("target");
    }), { numRuns: runs(20) });
  }, 120_000);

  it("damaged deltas decode to the target or fail with a typed CodecError, in bounded time and output", async () => {
    const seen = new Map<Verdict, number>();
    await fc.assert(fc.asyncProperty(testCase, fc.array(damage, { minLength: 1, maxLength: 3 }), chunk, async (c, ds, size) => {
      const bad = ds.reduce(damaged, c.delta);
      const verdict = await verdictOf(source, bad, { sha: c.sha, length: c.target.length }, size);
      seen.set(verdict, (seen.get(verdict) ?? 0) + 1);
      // A truncated delta never passes for the whole target.
      if (ds.length === 1 && ds[0].kind === "truncate" && bad.length < c.delta.length) expect(verdict).not.toBe("target");
    }), { numRuns: runs(600) });
    // Most damage is caught by the format itself (structure, Adler-32, secondary-compressor checks).
    const caught = [...seen].filter(([v]) => v !== "target" && v !== "other-output").reduce((n, [, count]) => n + count, 0);
    expect(caught).toBeGreaterThan((seen.get("other-output") ?? 0) * 2);
  }, 300_000);

  it("a valid delta against a damaged or shortened source gives the target (bytes it never copies) or a CodecError", async () => {
    await fc.assert(fc.asyncProperty(testCase, fc.array(damage, { minLength: 1, maxLength: 2 }), async (c, ds) => {
      const badSource = ds.reduce(damaged, source);
      const verdict = await verdictOf(badSource, c.delta, { sha: c.sha, length: c.target.length }, 64 * 1024);
      expect(verdict).not.toBe("other-output");
    }), { numRuns: runs(200) });
  }, 300_000);

  it("random bytes behind a VCDIFF header fail with a typed CodecError", async () => {
    const header = fc.constantFrom(new Uint8Array([0xd6, 0xc3, 0xc4, 0x00, 0x00]), new Uint8Array([0xd6, 0xc3, 0xc4, 0x00, 0x05]), cases[0].delta.subarray(0, 16), new Uint8Array(0));
    await fc.assert(fc.asyncProperty(header, fc.uint8Array({ maxLength: 2048, size: "large" }), chunk, async (h, tail, size) => {
      const verdict = await verdictOf(source, concat([h, tail]), { sha: cases[0].sha, length: cases[0].target.length }, size);
      expect(verdict).not.toBe("target");
    }), { numRuns: runs(300) });
  }, 300_000);
});
