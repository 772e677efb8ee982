// The reference's inflated form made on demand (compressed-aware deltas, issue #18), against real local R2 and
// the Cache API: nothing is stored for it; GETs are byte-exact with an empty cache and a warm one; deltas made
// while the form was stored still read; reads out of order (a decoder with a small source cache over entries in
// another order) restart the form and still rebuild; a replaced reference.bin is a clean error, never wrong bytes.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { ReferenceBlockCache } from "../../src/cache/index";
import type { EngineConfig } from "../../src/engine/config";
import { encodeHeader, scanContainer } from "../../src/engine/containers";
import type { DeltaEngine } from "../../src/engine/engine";
import { formCursorTotals, formSource, type FormCursorStats } from "../../src/engine/form-cursor";
import { S3Error } from "../../src/errors";
import type { Backend } from "../../src/storage/backend";
import { R2Backend } from "../../src/storage/r2";
import { rebuiltFromInflatedForm } from "../../src/engine/recompressed";
import { createEngine, workerCodec } from "../../src/wiring";
import { bytesOf, sha256Hex } from "./engine-helpers";
import { npmGzip, packageFiles, tarOf, zipOf } from "./helpers/artifacts";
import { asStoredFormLayout, inflatedFormOf } from "./helpers/reference-form";

const KiB = 1024;
const bucket = env.BUCKET;
let run = 0;

/** An engine with compressed-aware deltas on, its own (fresh, empty) block cache or none, and a log of its GETs. */
async function isolate(options: { cache?: boolean; codec?: EngineConfig["codec"] } = {}) {
  const gets: string[] = [];
  const r2 = new R2Backend(bucket, "BUCKET");
  const backend = new Proxy(r2, {
    get(target, property) {
      if (property === "get") return (key: string, range?: never) => (gets.push(key), target.get(key, range));
      const value = Reflect.get(target, property);
      return typeof value === "function" ? value.bind(target) : value;
    },
  }) as Backend;
  const cache = options.cache === false ? undefined : await caches.open(`reference-form-${Date.now()}-${run++}`);
  const referenceCache = cache && new ReferenceBlockCache({ blockSize: 256 * KiB, cache });
  const engine = createEngine(backend, { compressedDeltas: true, codec: options.codec ?? {} }, { referenceCache });
  return { engine, gets, cache, referenceGets: (prefix: string) => gets.filter((key) => key === `${prefix}/reference.bin`).length };
}

async function put(engine: DeltaEngine, key: string, body: Uint8Array) {
  return engine.put(key, { body, size: body.length });
}

async function getAll(engine: DeltaEngine, key: string): Promise<Uint8Array> {
  const opened = await engine.open(key, { forRead: true });
  if (!opened) throw new Error(`${key} not found`);
  return bytesOf(await opened.read());
}

function sourceOf(bytes: Uint8Array) {
  return { size: bytes.length, read: async (offset: number, length: number) => bytes.subarray(offset, offset + length) };
}

/** Byte equality without vitest's element-wise diff (slow on MiB-sized arrays). */
function same(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

async function stored(prefix: string): Promise<string[]> {
  return (await bucket.list({ prefix: `${prefix}/` })).objects.map((o) => o.key).sort();
}

function tgz(minor: number): Uint8Array {
  return npmGzip(tarOf(packageFiles(minor)));
}

/** v1 as the reference, v2 as a compressed-aware delta, written by `engine`. */
async function seeded(engine: DeltaEngine, label: string, v1 = tgz(1), v2 = tgz(2), name = (m: number) => `app-${m}.tgz`) {
  const prefix = `rf-${label}-${Date.now()}-${run++}`;
  expect((await put(engine, `${prefix}/${name(1)}`, v1)).storageType).toBe("reference");
  expect((await put(engine, `${prefix}/${name(2)}`, v2)).storageType).toBe("delta");
  const delta = await bucket.head(`${prefix}/${name(2)}.delta`);
  expect(delta?.customMetadata?.["dg-recompress"]).toBe("v2");
  return { prefix, v1, v2, key: `${prefix}/${name(2)}` };
}

describe("the reference's inflated form is made on demand", () => {
  it("nothing is stored for it; the delta records its size and the reference.bin it is made from", async () => {
    const { engine } = await isolate();
    const { prefix, v1, v2 } = await seeded(engine, "none");
    expect(await stored(prefix)).toEqual([
      `${prefix}/app-1.tgz.delta`, `${prefix}/app-1.tgz.delta.meta`, `${prefix}/app-2.tgz.delta`, `${prefix}/app-2.tgz.delta.meta`,
      `${prefix}/reference.bin`, `${prefix}/reference.bin.meta`,
    ]);
    const form = await inflatedFormOf(v1);
    const meta = (await bucket.head(`${prefix}/app-2.tgz.delta`))!.customMetadata!;
    expect(meta["dg-ref-sha256"]).toBe(await sha256Hex(form));
    expect(meta["dg-ref-inflated-size"]).toBe(String(form.length));
    expect(meta["dg-ref-inflated-from"]).toBe(await sha256Hex(v1));
    // The delta was encoded against exactly that form: decoded against the form made here, it rebuilds v2.
    const source = { size: form.length, read: async (offset: number, length: number) => form.subarray(offset, offset + length) };
    const delta = (await bucket.get(`${prefix}/app-2.tgz.delta`))!.body;
    expect(same(await bytesOf(rebuiltFromInflatedForm(workerCodec.decode(source, delta, {}))), v2)).toBe(true);
    const sidecar = await (await bucket.get(`${prefix}/app-2.tgz.delta.meta`))!.json<Record<string, unknown>>();
    expect(sidecar.ref_inflated_size).toBe(form.length);
    expect(sidecar.ref_inflated_from).toBe(await sha256Hex(v1));
  });

  it("GET is byte-exact with an empty cache, with a warm one (no read of reference.bin), and with none", async () => {
    const writer = await isolate();
    const { prefix, v2, key } = await seeded(writer.engine, "cold");
    const reader = await isolate();
    expect(same(await getAll(reader.engine, key), v2)).toBe(true);
    expect(reader.referenceGets(prefix)).toBeGreaterThan(0); // cold: the form was made from reference.bin
    const before = reader.referenceGets(prefix);
    expect(same(await getAll(reader.engine, key), v2)).toBe(true);
    expect(reader.referenceGets(prefix)).toBe(before); // warm: every block of the form came from the cache
    const uncached = await isolate({ cache: false });
    expect(same(await getAll(uncached.engine, key), v2)).toBe(true);
  });

  it("a later PUT of the deltaspace learns the form from the cache: no pass over reference.bin", async () => {
    const { engine, referenceGets } = await isolate();
    const { prefix, v2 } = await seeded(engine, "facts");
    const before = referenceGets(prefix);
    const v3 = tgz(3);
    expect((await put(engine, `${prefix}/app-3.tgz`, v3)).storageType).toBe("delta");
    expect(referenceGets(prefix)).toBe(before);
    const reader = await isolate();
    expect(same(await getAll(reader.engine, `${prefix}/app-3.tgz`), v3)).toBe(true);
    expect(same(await getAll(reader.engine, `${prefix}/app-2.tgz`), v2)).toBe(true);
  });

  it("a delta made while the form was stored (no dg-ref-inflated-*) still reads, cold and warm", async () => {
    const writer = await isolate();
    const { prefix, v2, key } = await seeded(writer.engine, "legacy");
    const form = await asStoredFormLayout(bucket, prefix, [`${key}.delta`]);
    expect((await bucket.head(`${key}.delta`))!.customMetadata!["dg-ref-sha256"]).toBe(await sha256Hex(form));
    const reader = await isolate();
    expect(same(await getAll(reader.engine, key), v2)).toBe(true);
    expect(same(await getAll(reader.engine, key), v2)).toBe(true);
    // Only its version byte is read (once, cold): the form comes from reference.bin.
    expect(reader.gets.filter((k) => k.endsWith("/.dg/reference.inflated.bin"))).toHaveLength(1);
    const uncached = await isolate({ cache: false });
    expect(same(await getAll(uncached.engine, key), v2)).toBe(true);
  });

  it("a v2 delta made against a v1 form an earlier build stored (before forms had versions) reads against a v1 form", async () => {
    const writer = await isolate();
    const { prefix, v1, v2, key } = await seeded(writer.engine, "legacy-v1");
    // The delta as that build wrote it: v2's form encoded against the v1 form of reference.bin, dg-recompress v2.
    const formV2 = await inflatedFormOf(v1, 2);
    const target = await bytesOf(workerCodec.decode(sourceOf(formV2), (await bucket.get(`${key}.delta`))!.body, {}));
    const formV1 = await asStoredFormLayout(bucket, prefix, [`${key}.delta`], 1);
    expect(same(formV1, formV2)).toBe(false);
    const delta = await bytesOf(workerCodec.encode(sourceOf(formV1), new Blob([target]).stream(), { targetSize: target.length }));
    const old = (await bucket.head(`${key}.delta`))!.customMetadata!;
    await bucket.put(`${key}.delta`, delta, { customMetadata: { ...old, "dg-ref-sha256": await sha256Hex(formV1), "dg-delta-size": String(delta.length) } });
    await bucket.delete(`${key}.delta.meta`);
    expect(old["dg-recompress"]).toBe("v2");
    const reader = await isolate();
    expect(same(await getAll(reader.engine, key), v2)).toBe(true);
    // The form it made is the v1 one: its first block, cached under the form's SHA-256, holds the v1 bytes.
    const block = await reader.cache!.match(`https://reference-cache.deltaglider.invalid/ref/${await sha256Hex(formV1)}/${256 * KiB}/0`);
    expect(same(new Uint8Array(await block!.arrayBuffer()), formV1.subarray(0, 256 * KiB))).toBe(true);
    // Without the stored form to say which layout it had, the delta's own version (v2) is taken: the two layouts
    // differ only in the header, so the rebuild may still come out right; either way never wrong bytes.
    await bucket.delete(`${prefix}/.dg/reference.inflated.bin`);
    const gone = await getAll((await isolate()).engine, key).then((bytes) => bytes, (e: unknown) => e);
    if (gone instanceof Uint8Array) expect(same(gone, v2)).toBe(true);
    else expect((gone as S3Error).code).toBe("InternalError");
  });

  it("a zip whose decode reads the reference out of order (entries reversed, small decoder cache) restarts the form and rebuilds", async () => {
    // ~7 MiB of form, entries in the opposite order in v2: the decoder (512 KiB source cache) asks for the
    // form's last entries first, then earlier ones, far behind the cursor's 4 MiB of kept bytes.
    const files = (minor: number) => packageFiles(minor, 100, 800);
    const v1 = zipOf(files(1));
    const v2 = zipOf(files(2).reverse());
    const writer = await isolate();
    const { key } = await seeded(writer.engine, "order", v1, v2, (m) => `pkg-${m}.zip`);
    const reader = await isolate({ cache: false, codec: { sourceWindow: 512 * KiB, blockSize: 64 * KiB } });
    const before = { ...formCursorTotals };
    expect(same(await getAll(reader.engine, key), v2)).toBe(true);
    const restarts = formCursorTotals.restarts - before.restarts;
    const produced = formCursorTotals.producedBytes - before.producedBytes;
    console.log(`reversed zip: form ${(await inflatedFormOf(v1)).length} B, restarts ${restarts}, jumps ${formCursorTotals.jumps - before.jumps}, produced ${produced} B`);
    expect(restarts).toBeGreaterThan(0);
  }, 60_000);

  it("reference.bin replaced by other bytes: a clean InternalError with an empty cache, never wrong bytes", async () => {
    const writer = await isolate();
    const { prefix, key, v2 } = await seeded(writer.engine, "replaced");
    const other = tgz(7);
    // Replaced behind the proxy's back, with an honest record of the new bytes.
    const old = (await bucket.head(`${prefix}/reference.bin`))!;
    await bucket.put(`${prefix}/reference.bin`, other, {
      customMetadata: { ...old.customMetadata, "dg-file-sha256": await sha256Hex(other), "dg-file-size": String(other.length) },
    });
    const reader = await isolate();
    const error = await getAll(reader.engine, key).then(() => null, (e: unknown) => e);
    expect(error).toBeInstanceOf(S3Error);
    expect((error as S3Error).code).toBe("InternalError");
    expect((error as S3Error).message).toMatch(/not the one its delta was made against/);
    // Replaced with its old record kept (the record lies): the rebuild fails its check, or is right.
    await bucket.put(`${prefix}/reference.bin`, other, { customMetadata: old.customMetadata });
    const liar = await isolate();
    const got = await getAll(liar.engine, key).then((bytes) => bytes, (e: unknown) => e);
    if (got instanceof Uint8Array) expect(same(got, v2)).toBe(true);
    else expect((got as S3Error).code).toBe("InternalError");
  });
});

describe("form cursor", () => {
  /** Reads at offsets in a shuffled order, each compared with the form made in one pass. */
  async function readsMatch(original: Uint8Array, keptBytes: number, stats: FormCursorStats) {
    const segments = (await scanContainer(new Blob([original]).stream(), { maxInflated: 1 << 30 }))!;
    const header = encodeHeader(segments, original.length);
    const expected = await inflatedFormOf(original);
    const source = formSource({ header, segments }, async (offset) => new Blob([original.subarray(offset)]).stream(), { stats, keptBytes });
    expect(source.size).toBe(expected.length);
    let seed = 12345;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const reads = Array.from({ length: 60 }, () => {
      const offset = Math.floor(random() * expected.length);
      return { offset, length: 1 + Math.floor(random() * 200 * KiB) };
    });
    reads.push({ offset: 0, length: 40 }, { offset: expected.length - 10, length: 100 }, { offset: header.length - 3, length: 10 });
    for (const { offset, length } of reads) {
      const got = await source.read(offset, length);
      expect(same(got, expected.subarray(offset, offset + length)), `read ${offset}+${length}`).toBe(true);
    }
    return expected.length;
  }

  it("random reads of a zip's form (many segments) and a tgz's (one) are the form's bytes; reads behind restart", async () => {
    for (const original of [zipOf(packageFiles(1, 60, 300), { stored: (name) => name.endsWith(".json") }), tgz(1)]) {
      const stats = { restarts: 0, jumps: 0, producedBytes: 0 };
      const size = await readsMatch(original, 64 * KiB, stats);
      expect(stats.restarts).toBeGreaterThan(0);
      // Each read restarts at most once: the work is bounded by reads × form size.
      expect(stats.restarts).toBeLessThanOrEqual(63);
      expect(stats.producedBytes).toBeLessThanOrEqual(63 * size);
    }
  });

  it("a pathological order (end, start, end, …) costs at most its budget, then fails cleanly: never a loop", async () => {
    const original = tgz(1);
    const segments = (await scanContainer(new Blob([original]).stream(), { maxInflated: 1 << 30 }))!;
    const header = encodeHeader(segments, original.length);
    const expected = await inflatedFormOf(original);
    const stats = { restarts: 0, jumps: 0, producedBytes: 0 };
    const source = formSource({ header, segments }, async (offset) => new Blob([original.subarray(offset)]).stream(),
      { stats, keptBytes: 16 * KiB, producedBudget: 4 * expected.length });
    const error = await (async () => {
      for (let i = 0; i < 1000; i++) {
        const offset = i % 2 ? 0 : expected.length - 100;
        expect(same(await source.read(offset, 100), expected.subarray(offset, offset + 100))).toBe(true);
      }
    })().then(() => null, (e: unknown) => e);
    expect(error).toBeInstanceOf(S3Error);
    expect((error as S3Error).code).toBe("InternalError");
    expect(stats.producedBytes).toBeLessThanOrEqual(4 * expected.length + 256 * KiB);
    expect(stats.restarts).toBeGreaterThanOrEqual(2);
  });

  it("keeps recent bytes: reads a little behind the cursor need no restart", async () => {
    const stats = { restarts: 0, jumps: 0, producedBytes: 0 };
    const original = tgz(1);
    const segments = (await scanContainer(new Blob([original]).stream(), { maxInflated: 1 << 30 }))!;
    const header = encodeHeader(segments, original.length);
    const expected = await inflatedFormOf(original);
    const source = formSource({ header, segments }, async (offset) => new Blob([original.subarray(offset)]).stream(), { stats });
    expect(same(await source.read(0, 16), expected.subarray(0, 16))).toBe(true);
    for (let at = 0; at + 64 * KiB < expected.length; at += 48 * KiB) {
      expect(same(await source.read(at + 16 * KiB, 48 * KiB), expected.subarray(at + 16 * KiB, at + 64 * KiB))).toBe(true);
      expect(same(await source.read(at, 16 * KiB), expected.subarray(at, at + 16 * KiB))).toBe(true);
    }
    expect(stats.restarts).toBe(0);
    // One pass: no byte of the form was made twice.
    expect(stats.producedBytes).toBeLessThanOrEqual(expected.length);
  });
});
