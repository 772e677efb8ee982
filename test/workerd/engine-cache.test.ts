// The engine with the reference block cache, against workerd's real local R2 and Cache API: how many R2
// operations a delta GET and PUT cost cold and warm, and that cached reference data can never produce wrong
// bytes (content addressing by the delta's dg-ref-sha256, per-block hashes, the rebuilt object's SHA-256).
import { env } from "cloudflare:workers";
import { createScheduledController } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { ReferenceBlockCache } from "../../src/cache/index";
import type { DeltaEngine } from "../../src/engine/engine";
import { encodeMetadata, decodeMetadata } from "../../src/engine/metadata";
import { CountingBackend, emptyCounts, type OperationCounts } from "../../src/storage/counting";
import { R2Backend } from "../../src/storage/r2";
import worker from "../../src/index";
import { createEngine } from "../../src/wiring";
import { bucket, bytesOf, edited, pseudoRandom, sha256Hex } from "./engine-helpers";
import { s3 } from "./s3-support";

const KiB = 1024;
const MiB = 1024 * KiB;
let run = 0;

/** One "isolate": a counting backend over the real R2 binding, and an engine with its own block cache. */
async function isolate(cache: Cache) {
  const backend = new CountingBackend(new R2Backend(env.BUCKET, "BUCKET"));
  const referenceCache = new ReferenceBlockCache({ blockSize: 256 * KiB, cache });
  const engine = createEngine(backend, {}, { referenceCache });
  return { backend, referenceCache, engine };
}

/** A fresh, empty cache (a named Cache API cache per test, so tests never see each other's blocks). */
async function freshCache(): Promise<Cache> {
  return caches.open(`engine-cache-test-${Date.now()}-${run++}`);
}

async function opsOf<T>(backend: CountingBackend, action: () => Promise<T>): Promise<{ result: T; ops: OperationCounts }> {
  const before = { ...backend.counts };
  const result = await action();
  const ops = emptyCounts();
  for (const op of Object.keys(ops) as Array<keyof OperationCounts>) ops[op] = backend.counts[op] - before[op];
  return { result, ops };
}

/** What a GET request does: open for reading (the delta's body comes with its metadata), then read. */
async function getAll(engine: DeltaEngine, key: string, range?: { start: number; end: number }): Promise<Uint8Array> {
  const opened = await engine.open(key, { forRead: true });
  if (!opened) throw new Error(`${key} not found`);
  return bytesOf(await opened.read(range));
}

/** Byte equality without vitest's element-wise diff (slow on MiB-sized arrays). */
function same(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** A deltaspace with a 2 MiB reference (v1) and a delta (v2) of a few KiB, written by `engine`. */
async function seededDeltaspace(engine: DeltaEngine, label: string) {
  const prefix = `cache-${label}-${Date.now()}-${run++}`;
  const v1 = pseudoRandom(2 * MiB, run + 11);
  const v2 = edited(v1, run + 12);
  await engine.put(`${prefix}/v1.zip`, { body: v1, size: v1.length });
  return { prefix, v1, v2, refSha: await sha256Hex(v1) };
}

describe("R2 operations of delta GETs and PUTs with the reference cache", () => {
  it("a warm delta GET reads only the delta and the plain-object HEAD from R2, and serves exact bytes", async () => {
    const cache = await freshCache();
    const writer = await isolate(cache);
    const { prefix, v2 } = await seededDeltaspace(writer.engine, "warm");
    const put = await opsOf(writer.backend, () => writer.engine.put(`${prefix}/v2.zip`, { body: v2, size: v2.length }));
    expect(put.result.storageType).toBe("delta");

    // Another isolate (own engine and in-memory state, same edge cache): the PUT left the blocks and the size there.
    const reader = await isolate(cache);
    const first = await opsOf(reader.backend, () => getAll(reader.engine, `${prefix}/v2.zip`));
    const second = await opsOf(reader.backend, () => getAll(reader.engine, `${prefix}/v2.zip`));
    expect(same(first.result, v2)).toBe(true);
    expect(same(second.result, v2)).toBe(true);
    for (const { ops } of [first, second]) {
      expect(ops.head + ops.get, JSON.stringify(ops)).toBeLessThanOrEqual(2);
      expect(ops.put + ops.delete + ops.list).toBe(0);
    }
    expect(reader.referenceCache.stats.misses).toBe(0);
    console.log(`R2 ops: first delta PUT (cold cache) ${JSON.stringify(put.ops)}; warm delta GET ${JSON.stringify(second.ops)}`);
  });

  it("a cold delta GET confirms the reference, fills the cache, and the next GET needs no reference read", async () => {
    const writer = await isolate(await freshCache());
    const { prefix, v2 } = await seededDeltaspace(writer.engine, "cold");
    await writer.engine.put(`${prefix}/v2.zip`, { body: v2, size: v2.length });

    const reader = await isolate(await freshCache()); // an isolate in a colo whose cache is empty
    const cold = await opsOf(reader.backend, () => getAll(reader.engine, `${prefix}/v2.zip`));
    expect(same(cold.result, v2)).toBe(true);
    // GETs of the delta (body with metadata) and of the plain key (absent), reference HEAD, one ranged GET per
    // 256 KiB block of the 2 MiB reference.
    expect(cold.ops).toMatchObject({ head: 1, get: 2 + 8, put: 0 });
    const warm = await opsOf(reader.backend, () => getAll(reader.engine, `${prefix}/v2.zip`));
    expect(same(warm.result, v2)).toBe(true);
    expect(warm.ops).toMatchObject({ head: 0, get: 2 });
    console.log(`R2 ops: cold delta GET ${JSON.stringify(cold.ops)}; warm ${JSON.stringify(warm.ops)}`);
  });

  it("a delta PUT reads no reference bytes from R2 when the cache holds them", async () => {
    const cache = await freshCache();
    const writer = await isolate(cache);
    const { prefix, v1 } = await seededDeltaspace(writer.engine, "put");
    const v2 = edited(v1, 91);
    const v3 = edited(v1, 92);
    const cold = await opsOf(writer.backend, () => writer.engine.put(`${prefix}/v2.zip`, { body: v2, size: v2.length }));
    const warm = await opsOf(writer.backend, () => writer.engine.put(`${prefix}/v3.zip`, { body: v3, size: v3.length }));
    expect(cold.result.storageType).toBe("delta");
    expect(warm.result.storageType).toBe("delta");
    expect(cold.ops.get).toBe(8); // the reference's 8 blocks, once
    // HEAD reference, write delta, write sidecar, and the coordinator's delete of the other variant at commit
    // (in the Worker the bucket's Durable Object issues that one): no reference bytes.
    expect(warm.ops).toMatchObject({ head: 1, get: 0, put: 2, delete: 1 });
    expect(same(await getAll(writer.engine, `${prefix}/v3.zip`), v3)).toBe(true);
    console.log(`R2 ops: delta PUT, cold cache ${JSON.stringify(cold.ops)}; warm ${JSON.stringify(warm.ops)}`);
  });

  it("a warm GET of a delta over 1 MiB, whole or ranged, reads the .delta once (body with metadata) + one GET of the plain key", async () => {
    const cache = await freshCache();
    const { engine, backend, referenceCache } = await isolate(cache);
    const prefix = `cache-long-${Date.now()}-${run++}`;
    const v1 = pseudoRandom(6 * MiB, 21);
    const v2 = v1.slice();
    v2.set(pseudoRandom(3 * MiB, 22), 2 * MiB); // new content: a delta of about 3 MiB
    await engine.put(`${prefix}/v1.zip`, { body: v1, size: v1.length });
    const put = await engine.put(`${prefix}/v2.zip`, { body: v2, size: v2.length });
    expect(put.storageType).toBe("delta");
    expect(put.storedSize).toBeGreaterThan(2 * MiB);
    const key = `${prefix}/v2.zip`;
    const misses = referenceCache.stats.misses;

    const whole = await opsOf(backend, () => getAll(engine, key));
    expect(same(whole.result, v2)).toBe(true);
    expect(whole.ops).toMatchObject({ head: 0, get: 2, put: 0, list: 0, delete: 0 });
    for (const range of [{ start: 0, end: 99_999 }, { start: 3 * MiB, end: 4 * MiB - 1 }, { start: v2.length - MiB, end: v2.length - 1 }]) {
      const ranged = await opsOf(backend, () => getAll(engine, key, range));
      expect(same(ranged.result, v2.subarray(range.start, range.end + 1)), `${range.start}-${range.end}`).toBe(true);
      expect(ranged.ops, `${range.start}-${range.end}`).toMatchObject({ head: 0, get: 2, put: 0 });
    }
    expect(referenceCache.stats.misses).toBe(misses); // every reference block came from the cache
    console.log(`R2 ops: warm GET of a ${put.storedSize}-byte delta ${JSON.stringify(whole.ops)}`);
  });

  it("opened without forRead (HEAD), a delta costs two HEADs and no body; read() then fetches the delta once", async () => {
    const { engine, backend } = await isolate(await freshCache());
    const { prefix, v2 } = await seededDeltaspace(engine, "head");
    await engine.put(`${prefix}/v2.zip`, { body: v2, size: v2.length });
    const described = await opsOf(backend, () => engine.open(`${prefix}/v2.zip`));
    expect(described.result?.info).toMatchObject({ storageType: "delta", size: v2.length });
    expect(described.ops).toMatchObject({ head: 2, get: 0 });
    const read = await opsOf(backend, async () => bytesOf(await described.result!.read()));
    expect(same(read.result, v2)).toBe(true);
    expect(read.ops).toMatchObject({ head: 0, get: 1 });
  });

  it("a body opened for reading and discarded (304, HEAD) is released; a later read() still fetches the same delta", async () => {
    const { engine, backend } = await isolate(await freshCache());
    const { prefix, v2 } = await seededDeltaspace(engine, "discard");
    await engine.put(`${prefix}/v2.zip`, { body: v2, size: v2.length });
    const opened = (await engine.open(`${prefix}/v2.zip`, { forRead: true }))!;
    await opened.discard();
    await opened.discard(); // twice is fine
    const read = await opsOf(backend, async () => bytesOf(await opened.read()));
    expect(same(read.result, v2)).toBe(true);
    expect(read.ops).toMatchObject({ get: 1 }); // the discarded body is not reused: one GET pinned to its ETag
  });
});

describe("cached reference data never yields wrong bytes", () => {
  it("a block missing from the cache is re-read after confirming the reference is still the one the delta names", async () => {
    const cache = await freshCache();
    const writer = await isolate(cache);
    const { prefix, v2, refSha } = await seededDeltaspace(writer.engine, "miss");
    await writer.engine.put(`${prefix}/v2.zip`, { body: v2, size: v2.length });
    await cache.delete(writer.referenceCache.blockKey({ sha256: refSha, size: 2 * MiB }, 3));

    const reader = await isolate(cache);
    const { result, ops } = await opsOf(reader.backend, () => getAll(reader.engine, `${prefix}/v2.zip`));
    expect(same(result, v2)).toBe(true);
    expect(ops).toMatchObject({ head: 1, get: 3 }); // + reference HEAD and one ranged GET of the missing block
    expect(reader.referenceCache.stats).toMatchObject({ misses: 1, hits: 7 });
  });

  it("a replaced reference.bin is refused on a cold cache (500), while cached blocks of the named reference still rebuild exactly", async () => {
    const cache = await freshCache();
    const writer = await isolate(cache);
    const { prefix, v2 } = await seededDeltaspace(writer.engine, "replaced");
    await writer.engine.put(`${prefix}/v2.zip`, { body: v2, size: v2.length });

    // Someone replaces the reference behind the proxy's back, with consistent metadata for the new bytes.
    const other = pseudoRandom(2 * MiB, 777);
    const refKey = `${prefix}/reference.bin`;
    const record = decodeMetadata((await bucket.head(refKey))!.customMetadata!)!;
    await bucket.put(refKey, other, { customMetadata: encodeMetadata({ ...record, sha256: await sha256Hex(other) }) });
    await bucket.delete(`${refKey}.meta`);

    const cold = await isolate(await freshCache());
    await expect(getAll(cold.engine, `${prefix}/v2.zip`)).rejects.toMatchObject({ code: "InternalError" });
    expect(cold.referenceCache.stats.misses).toBe(0); // nothing of the other reference was read or cached

    // Content addressing: the blocks cached under the delta's dg-ref-sha256 are the bytes it was made against.
    const warm = await isolate(cache);
    expect(same(await getAll(warm.engine, `${prefix}/v2.zip`), v2)).toBe(true);
  });

  it("a tampered cached block whose reference was replaced ends in a clean 500, not in wrong bytes", async () => {
    const cache = await freshCache();
    const writer = await isolate(cache);
    const { prefix, v2, refSha } = await seededDeltaspace(writer.engine, "tampered");
    await writer.engine.put(`${prefix}/v2.zip`, { body: v2, size: v2.length });
    const key = writer.referenceCache.blockKey({ sha256: refSha, size: 2 * MiB }, 0);
    const entry = (await cache.match(key))!;
    const bytes = new Uint8Array(await entry.arrayBuffer());
    bytes[10] ^= 0xff;
    await cache.put(key, new Response(bytes, { headers: entry.headers }));
    const other = pseudoRandom(2 * MiB, 778);
    await bucket.put(`${prefix}/reference.bin`, other, { customMetadata: (await bucket.head(`${prefix}/reference.bin`))!.customMetadata });

    const reader = await isolate(cache);
    // The per-block hash evicts the tampered block; its refill comes from the replaced bytes (whose metadata
    // still claims the old SHA-256), so the rebuilt object's SHA-256 check fails: a 500, never wrong bytes,
    // and the reference's cached blocks are dropped so the bad refill is not served again.
    await expect(getAll(reader.engine, `${prefix}/v2.zip`)).rejects.toMatchObject({ code: "InternalError" });
    expect(reader.referenceCache.stats.evictions).toBeGreaterThanOrEqual(1);
    expect(await cache.match(key)).toBeUndefined();
  });
});

describe("the Worker wires the cache into every engine", () => {
  it("a delta PUT and GET through the S3 API record the reference in caches.default", async () => {
    const prefix = `cache-worker-${Date.now()}-${run++}`;
    const v1 = pseudoRandom(300 * KiB, 41);
    const v2 = edited(v1, 42);
    expect((await s3("PUT", `/default/${prefix}/v1.zip`, { body: v1 })).status).toBe(200);
    expect((await s3("PUT", `/default/${prefix}/v2.zip`, { body: v2 })).status).toBe(200);
    const sizeRecord = await caches.default.match(`https://reference-cache.deltaglider.invalid/ref/${await sha256Hex(v1)}/size`);
    expect(await sizeRecord?.text()).toBe(`${await sha256Hex(v1)}:${v1.length}`);
    const got = await s3("GET", `/default/${prefix}/v2.zip`);
    expect(got.status).toBe(200);
    expect(same(new Uint8Array(await got.arrayBuffer()), v2)).toBe(true);
  });

  it("the scheduled handler removes staged uploads older than a day and keeps newer ones", async () => {
    await bucket.put(".dg/tmp/cache-test-leftover", "x");
    const later = createScheduledController({ scheduledTime: Date.now() + 25 * 3600 * 1000 });
    await worker.scheduled!(later, env as never);
    expect(await bucket.head(".dg/tmp/cache-test-leftover")).toBeNull();

    await bucket.put(".dg/tmp/cache-test-fresh", "x");
    await worker.scheduled!(createScheduledController({ scheduledTime: Date.now() }), env as never);
    expect(await bucket.head(".dg/tmp/cache-test-fresh")).not.toBeNull();
    await bucket.delete(".dg/tmp/cache-test-fresh");
  });


});

describe("odd stored deltas", () => {
  it("a zero-byte .delta beside a plain object does not hide the plain object", async () => {
    const { engine } = await isolate(await freshCache());
    const key = `cache-empty-${Date.now()}-${run++}/a.zip`;
    const plain = pseudoRandom(1000, 51);
    await engine.put(key, { body: plain, size: plain.length }); // first upload: reference seeded, stored as delta
    const stored = await engine.open(key);
    // Replace the variants by hand: a plain object and an empty .delta next to it.
    await bucket.delete([`${key}.delta`, `${key}.delta.meta`]);
    await bucket.put(key, plain);
    await bucket.put(`${key}.delta`, new Uint8Array(0));
    expect(stored).not.toBeNull();
    expect(same(await getAll(engine, key), plain)).toBe(true);
  });
});
