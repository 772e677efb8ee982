// Ranged decoding (CodecOptions.targetRange): a Range GET of a delta object decodes only the windows that hold
// the range. Every kind of range is compared against slices of the original, for deltas made by our encoder
// and by the Debian xdelta3 CLI (default LZMA secondary with DeltaGlider's -B64M, and -S none).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decode, encode, isCodecError, type CodecOptions, type CodecStats } from "../../src/codec/index";
import {
  codecModule, hasNativeXdelta3, memorySource, ourDecode, ourEncode, readBytes, runNative, sameBytes, scratchDir, streamOf,
} from "./codec-helpers";

const MiB = 1024 * 1024;

function randomBytes(size: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let at = 0; at < size; at += 65536) crypto.getRandomValues(out.subarray(at, at + 65536));
  return out;
}

/** A new version of `source`: edits all over, a block moved, and fresh (incompressible) data in the middle, so
 *  windows copy from all over the source and the delta is several MiB (more than one input chunk). */
function newVersion(source: Uint8Array): Uint8Array {
  const fresh = randomBytes(3 * MiB);
  const moved = source.subarray(2 * MiB, 3 * MiB);
  const parts = [source.subarray(0, 7 * MiB), fresh, moved, source.subarray(7 * MiB)];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  for (let i = 12345; i < out.length; i += 97 * 1024) out[i] ^= 0xa5;
  return out;
}

const source = randomBytes(15 * MiB + 12345);
const target = newVersion(source); // ~19 MiB: 19 windows from our encoder (-W 1M), 3 from the CLI's default -W 8M

interface Case { name: string; delta: Uint8Array; window: number }
const cases: Case[] = [];
let fullDecodeSourceBytes = new Map<string, number>();

async function decodeRange(delta: Uint8Array, range: { start: number; end: number }, options: CodecOptions = {},
  from: Uint8Array = source): Promise<{ bytes: Uint8Array; stats: CodecStats }> {
  let stats: CodecStats | undefined;
  const stream = decode(codecModule, memorySource(from), streamOf(delta, 256 * 1024),
    { ...options, targetRange: range, onStats: (s) => (stats = s) });
  const bytes = new Uint8Array(await new Response(stream).arrayBuffer());
  return { bytes, stats: stats! };
}

function rangesFor(window: number): [string, { start: number; end: number }][] {
  const last = target.length - 1;
  return [
    ["first byte", { start: 0, end: 0 }],
    ["start", { start: 0, end: 64 * 1024 - 1 }],
    ["middle", { start: 9 * MiB + 4321, end: 9 * MiB + 4321 + 300 * 1024 }],
    ["end (last 1 MiB)", { start: last + 1 - MiB, end: last }],
    ["last byte", { start: last, end: last }],
    ["single byte at a window's last byte", { start: window - 1, end: window - 1 }],
    ["single byte at a window's first byte", { start: window, end: window }],
    ["spanning one window boundary", { start: window - 10, end: window + 10 }],
    ["spanning several windows", { start: window - 1, end: 2 * window + 1 }],
    ["whole object", { start: 0, end: last }],
  ];
}

let dir: ReturnType<typeof scratchDir>;
beforeAll(async () => {
  dir = scratchDir();
  cases.push({ name: "ours (LZMA)", delta: (await ourEncode(source, target, { inputWindow: MiB })).delta, window: MiB });
  cases.push({ name: "ours (-S none)", delta: (await ourEncode(source, target, { secondary: "none", inputWindow: MiB })).delta, window: MiB });
  cases.push({ name: "ours (DJW)", delta: (await ourEncode(source, target, { secondary: "djw", inputWindow: MiB })).delta, window: MiB });
  if (hasNativeXdelta3) {
    const src = dir.file("source", source);
    const tgt = dir.file("target", target);
    runNative(["-e", "-f", "-B", String(64 * MiB), "-s", src, tgt, dir.file("default.vcdiff")]);
    runNative(["-e", "-f", "-S", "none", "-s", src, tgt, dir.file("none.vcdiff")]);
    runNative(["-e", "-f", "-n", "-s", src, tgt, dir.file("nocksum.vcdiff")]);
    cases.push({ name: "xdelta3 CLI default (LZMA, -B64M)", delta: readBytes(dir.file("default.vcdiff")), window: 8 * MiB });
    cases.push({ name: "xdelta3 CLI -S none", delta: readBytes(dir.file("none.vcdiff")), window: 8 * MiB });
  }
  for (const c of cases) {
    let stats: CodecStats | undefined;
    const whole = await new Response(decode(codecModule, memorySource(source), streamOf(c.delta),
      { onStats: (s) => (stats = s) })).arrayBuffer();
    expect(sameBytes(new Uint8Array(whole), target)).toBe(true);
    fullDecodeSourceBytes.set(c.name, stats!.sourceBytesRead);
  }
}, 120_000);
afterAll(() => dir?.cleanup());

describe("a ranged decode returns exactly the requested bytes", () => {
  it("has the native xdelta3 CLI to make interop deltas", () => expect(hasNativeXdelta3).toBe(true));

  for (const kind of ["ours (LZMA)", "ours (-S none)", "ours (DJW)", "xdelta3 CLI default (LZMA, -B64M)", "xdelta3 CLI -S none"]) {
    it(`for every range kind of a delta made by ${kind}`, async () => {
      const c = cases.find((x) => x.name === kind);
      if (!c) throw new Error(`no ${kind} delta (native xdelta3 missing?)`);
      for (const [name, range] of rangesFor(c.window)) {
        const { bytes, stats } = await decodeRange(c.delta, range);
        const expected = target.subarray(range.start, range.end + 1);
        expect(bytes.length, name).toBe(expected.length);
        expect(sameBytes(bytes, expected), name).toBe(true);
        expect(stats.bytesOut, name).toBe(expected.length);
      }
    }, 120_000);
  }
});

describe("a ranged decode skips the windows before the range", () => {
  it("decodes only the last window for the last 1 MiB and reads only the source blocks it copies from", async () => {
    const c = cases.find((x) => x.name === "ours (LZMA)")!;
    const { stats } = await decodeRange(c.delta, { start: target.length - MiB, end: target.length - 1 });
    expect(stats.windowsSkipped).toBe(Math.ceil(target.length / MiB) - 2);
    expect(stats.windowsDecoded).toBe(2); // the last window is not a whole MiB, so 1 MiB spans two
    expect(stats.sourceBytesRead).toBeLessThan(fullDecodeSourceBytes.get(c.name)! / 4);
  });

  it("stops reading the delta after the window that holds the range's last byte", async () => {
    const c = cases.find((x) => x.name === "ours (-S none)")!;
    expect(c.delta.length).toBeGreaterThan(3 * MiB);
    const { stats } = await decodeRange(c.delta, { start: 0, end: 1000 });
    expect(stats.windowsDecoded).toBe(1);
    expect(stats.bytesIn).toBeLessThanOrEqual(2 * MiB); // one input chunk plus the lookahead
    expect(stats.sourceBytesRead).toBeLessThanOrEqual(1.5 * MiB);
  });
});

describe("a ranged decode never hands out wrong bytes", () => {
  it("a source of the right size but other content fails the window's Adler-32", async () => {
    const c = cases.find((x) => x.name === "ours (LZMA)")!;
    const other = randomBytes(source.length);
    const error = await decodeRange(c.delta, { start: 5 * MiB, end: 5 * MiB + 99 }, {}, other).catch((e) => e);
    expect(isCodecError(error) && error.kind).toBe("checksum");
  });

  it("a delta without Adler-32 (xdelta3 -n) is refused as unverifiable before any byte is output", async () => {
    const delta = readBytes(dir.file("nocksum.vcdiff"));
    expect(sameBytes(await ourDecode(source, delta), target)).toBe(true); // a whole decode is still fine
    const out: Uint8Array[] = [];
    const stream = decode(codecModule, memorySource(source), streamOf(delta), { targetRange: { start: 100, end: 200 } });
    const error = await (async () => { for await (const chunk of stream) out.push(chunk); })().catch((e) => e);
    expect(isCodecError(error) && error.kind).toBe("unverifiable");
    expect(out).toEqual([]);
  });

  it("corrupting the delta in the range's windows is reported or leaves the range's bytes right", async () => {
    // The last windows of this target are copies only, so they are the delta's last few hundred bytes.
    const c = cases.find((x) => x.name === "ours (LZMA)")!;
    const range = { start: target.length - MiB, end: target.length - 1 };
    const expected = target.subarray(range.start, range.end + 1);
    let reported = 0;
    let tried = 0;
    for (let back = 1; back <= 150; back += 3) {
      const delta = c.delta.slice();
      delta[delta.length - back] ^= 0x10;
      const result = await decodeRange(delta, range).catch((e) => e);
      tried++;
      if (isCodecError(result)) reported++;
      else expect(sameBytes(result.bytes, expected)).toBe(true);
    }
    expect(reported).toBeGreaterThan(tried / 2);
  }, 60_000);

  it("the encoder makes windows of the -W it was given, not of the size its input arrives in", async () => {
    const small = randomBytes(2 * MiB);
    const next = small.slice();
    for (let i = 999; i < next.length; i += 100 * 1024) next[i] ^= 0x11;
    for (const inputWindow of [256 * 1024, 512 * 1024, MiB]) {
      // The body arrives in 2 MiB chunks, as R2 and staged bodies can.
      const delta = new Uint8Array(await new Response(encode(codecModule, memorySource(small), streamOf(next, 2 * MiB),
        { inputWindow, targetSize: next.length })).arrayBuffer());
      let stats: CodecStats | undefined;
      const tail = await new Response(decode(codecModule, memorySource(small), streamOf(delta),
        { targetRange: { start: next.length - 1, end: next.length - 1 }, onStats: (st) => (stats = st) })).arrayBuffer();
      expect(new Uint8Array(tail)[0]).toBe(next[next.length - 1]);
      expect(stats!.windowsDecoded! + stats!.windowsSkipped!, `-W ${inputWindow}`).toBe(next.length / inputWindow);
    }
  });

  it("every single-byte change of a delta is reported or leaves the range's bytes right (headers of skipped windows included)", async () => {
    const small = randomBytes(2 * MiB);
    const next = new Uint8Array(2.5 * MiB);
    next.set(small);
    next.set(small.subarray(0, MiB / 2), 2 * MiB);
    for (let i = 777; i < next.length; i += 64 * 1024) next[i] ^= 0x3c;
    const range = { start: next.length - 1000, end: next.length - 1 };
    const expected = next.subarray(range.start);
    for (const secondary of ["lzma", "none"] as const) {
      const { delta } = await ourEncode(small, next, { secondary, inputWindow: MiB }); // 1 MiB windows: 2 skipped
      let reported = 0;
      for (let at = 0; at < delta.length; at++) {
        const damaged = delta.slice();
        damaged[at] ^= 0x41;
        let stats: CodecStats | undefined;
        const result = await new Response(decode(codecModule, memorySource(small), streamOf(damaged),
          { targetRange: range, onStats: (st) => (stats = st) })).arrayBuffer().catch((e) => e);
        if (isCodecError(result)) reported++;
        else expect(sameBytes(new Uint8Array(result), expected), `${secondary} byte ${at}`).toBe(true);
        if (!isCodecError(result)) expect(stats!.windowsSkipped).toBe(2);
      }
      expect(reported, secondary).toBeGreaterThan(0);
    }
  }, 120_000);

  it("a range past the end of the delta's target is an error, not a short answer", async () => {
    const c = cases.find((x) => x.name === "ours (-S none)")!;
    const error = await decodeRange(c.delta, { start: target.length - 10, end: target.length + 10 }).catch((e) => e);
    expect(isCodecError(error) && error.kind).toBe("corrupt");
  });

  it("the output limit still applies to a ranged decode", async () => {
    const c = cases.find((x) => x.name === "ours (-S none)")!;
    const error = await decodeRange(c.delta, { start: 5 * MiB, end: 5 * MiB + 10 }, { maxOutputSize: 5 * MiB }).catch((e) => e);
    expect(isCodecError(error) && error.kind).toBe("output-limit");
  });

  it("an invalid range is refused", async () => {
    const c = cases[0];
    for (const range of [{ start: -1, end: 5 }, { start: 10, end: 9 }, { start: 0.5, end: 9 }]) {
      const error = await decodeRange(c.delta, range).catch((e) => e);
      expect(isCodecError(error) && error.kind).toBe("internal");
    }
  });
});
