// Range reads of delta objects through the engine on real local R2: only the VCDIFF windows that hold the
// range are decoded (the codec's targetRange), the bytes equal the original's slice, and the reference is
// read only where those windows copy from.
import { describe, expect, it } from "vitest";
import type { CodecStats } from "../../src/codec/api";
import { DEFAULT_INPUT_WINDOW } from "../../src/codec/defaults";
import type { DeltaCodec } from "../../src/engine/context";
import { workerCodec } from "../../src/wiring";
import { bodyStream, bucket, engineWith, pseudoRandom, readAll } from "./engine-helpers";

const MiB = 1024 * 1024;
/** The encoder's window with the engine's defaults: a range needs at most one window more than it spans. */
const WINDOW = DEFAULT_INPUT_WINDOW;

/** The Worker's codec, recording the stats of every decode it runs. */
function observedCodec(): { codec: DeltaCodec; decodes: CodecStats[] } {
  const real = workerCodec;
  const decodes: CodecStats[] = [];
  return {
    decodes,
    codec: {
      encode: real.encode,
      decode: (source, delta, options) => real.decode(source, delta, {
        ...options,
        onStats: (stats) => { decodes.push(stats); options.onStats?.(stats); },
      }),
      busy: real.busy,
    },
  };
}

/** Byte equality without vitest's element-by-element deep compare (slow on MiB-sized arrays). */
function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** v2: v1 with new bytes inserted after 2 MiB and scattered one-byte edits (4.5 MiB, several windows). */
function nextVersion(v1: Uint8Array): Uint8Array {
  const inserted = MiB / 2;
  const v2 = new Uint8Array(v1.length + inserted);
  v2.set(v1.subarray(0, 2 * MiB));
  v2.set(pseudoRandom(inserted, 99), 2 * MiB);
  v2.set(v1.subarray(2 * MiB), 2 * MiB + inserted);
  for (let i = 4321; i < v2.length; i += 200 * 1024) v2[i] ^= 0x5a;
  return v2;
}

describe("a Range GET of a delta object", () => {
  const v1 = pseudoRandom(4 * MiB + 777, 11);
  const v2 = nextVersion(v1);
  const { codec, decodes } = observedCodec();
  const engine = engineWith({}, codec);
  const storeVersions = async () => {
    await engine.put("ranged/v1.zip", { body: bodyStream(v1), size: v1.length });
    const put = await engine.put("ranged/v2.zip", { body: bodyStream(v2), size: v2.length });
    expect(put.storageType).toBe("delta");
  };

  it("returns exactly the requested bytes for every kind of range, decoding only the windows that hold it", async () => {
    await storeVersions();

    decodes.length = 0;
    expect(sameBytes(await readAll(engine, "ranged/v2.zip"), v2)).toBe(true);
    const whole = decodes[0];

    const last = v2.length - 1;
    const ranges: [string, number, number][] = [
      ["first byte", 0, 0],
      ["start", 0, 100_000],
      ["middle, inside the inserted block", 2 * MiB + 5, 2 * MiB + 70_000],
      ["spanning window boundaries", MiB - 3, 3 * MiB + 3],
      ["single byte at a window boundary", 3 * MiB, 3 * MiB],
      ["last 1 MiB", last + 1 - MiB, last],
      ["last byte", last, last],
    ];
    for (const [name, start, end] of ranges) {
      decodes.length = 0;
      const bytes = await readAll(engine, "ranged/v2.zip", { start, end });
      expect(bytes.length, name).toBe(end - start + 1);
      expect(sameBytes(bytes, v2.subarray(start, end + 1)), name).toBe(true);
      expect(decodes.length, name).toBe(1);
      expect(decodes[0].windowsDecoded, name).toBeLessThanOrEqual(Math.ceil((end - start + 1) / WINDOW) + 1);
      if (start >= MiB) expect(decodes[0].windowsSkipped, name).toBeGreaterThan(0);
    }

    decodes.length = 0;
    await readAll(engine, "ranged/v2.zip", { start: last + 1 - MiB, end: last });
    expect(decodes[0].windowsSkipped).toBeGreaterThanOrEqual(Math.floor((v2.length - MiB) / WINDOW) - 1);
    expect(decodes[0].sourceBytesRead).toBeLessThan(whole.sourceBytesRead / 2);

    // A range covering the whole object is an ordinary verified rebuild.
    decodes.length = 0;
    expect(sameBytes(await readAll(engine, "ranged/v2.zip", { start: 0, end: v2.length - 1 }), v2)).toBe(true);
    expect(decodes[0].windowsSkipped).toBeUndefined();
  });

  it("fails instead of serving bytes rebuilt from a reference that was swapped underneath", async () => {
    await storeVersions();
    // Same size, other content, metadata kept: only the windows' Adler-32 can notice.
    const reference = await bucket.get("ranged/reference.bin");
    const metadata = reference!.customMetadata;
    await reference!.body.cancel();
    await bucket.put("ranged/reference.bin", pseudoRandom(v1.length, 12), { customMetadata: metadata });
    const opened = await engine.open("ranged/v2.zip");
    const error = await opened!.read({ start: 3 * MiB, end: 3 * MiB + 999 }).then((s) => new Response(s).arrayBuffer()).catch((e) => e);
    expect(error).toBeInstanceOf(Error);
    expect(String(error)).toMatch(/checksum|rebuilt/i);
  });
});
