// The optional rebuilt-object cache (DG_CACHE_REBUILT_MAX_SIZE) against workerd's real Cache API and local R2:
// a hot delta object is decoded once and then read from the cache, a damaged entry never serves wrong bytes,
// and nothing is kept from a rebuild that failed or from objects above the limit.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { RebuiltObjectCache, ReferenceBlockCache } from "../../src/cache/index";
import type { DeltaCodec } from "../../src/engine/context";
import { R2Backend } from "../../src/storage/r2";
import { createEngine, workerCodec } from "../../src/wiring";
import { bodyStream, bytesOf, edited, pseudoRandom, readAll, sha256Hex } from "./engine-helpers";

const KiB = 1024;
const MiB = 1024 * KiB;
let run = 0;

/** The Worker's codec, counting the decodes it runs. */
function countingCodec(): DeltaCodec & { decodes: number } {
  const codec = workerCodec;
  const counted = {
    decodes: 0,
    encode: codec.encode.bind(codec),
    decode: (...args: Parameters<DeltaCodec["decode"]>) => {
      counted.decodes += 1;
      return codec.decode(...args);
    },
    busy: codec.busy.bind(codec),
  };
  return counted;
}

async function setup(maxObjectSize = 8 * MiB) {
  const cache = await caches.open(`rebuilt-cache-test-${Date.now()}-${run++}`);
  const rebuilt = new RebuiltObjectCache({ maxObjectSize, ttlSeconds: 3600, cache });
  const codec = countingCodec();
  const engine = createEngine(new R2Backend(env.BUCKET, "BUCKET"), {}, {
    referenceCache: new ReferenceBlockCache({ blockSize: 256 * KiB, cache }),
    rebuiltCache: rebuilt,
  }, codec);
  const prefix = `rebuilt-${Date.now()}-${run++}`;
  const v1 = pseudoRandom(2 * MiB, 11);
  const v2 = edited(v1, 5);
  await engine.put(`${prefix}/v1.zip`, { body: bodyStream(v1), size: v1.length });
  const put = await engine.put(`${prefix}/v2.zip`, { body: bodyStream(v2), size: v2.length });
  expect(put.storageType).toBe("delta");
  return { cache, rebuilt, codec, engine, key: `${prefix}/v2.zip`, v2, id: { sha256: await sha256Hex(v2), size: v2.length } };
}

describe("rebuilt-object cache", () => {
  it("decodes a delta object once, then serves whole and ranged GETs from the cache byte-exact", async () => {
    const { codec, engine, key, v2, cache, rebuilt, id } = await setup();
    expect(await sha256Hex(await readAll(engine, key))).toBe(id.sha256);
    expect(codec.decodes).toBe(1);
    expect(await cache.match(rebuilt.key(id))).toBeTruthy();

    expect(await sha256Hex(await readAll(engine, key))).toBe(id.sha256);
    expect(await sha256Hex(await readAll(engine, key, { start: 1000, end: 70_000 }))).toBe(await sha256Hex(v2.subarray(1000, 70_001)));
    expect(codec.decodes).toBe(1);
  });

  it("refuses a damaged entry (same length, other bytes), evicts it, and rebuilds correctly next time", async () => {
    const { codec, engine, key, v2, cache, rebuilt, id } = await setup();
    await readAll(engine, key);
    const damaged = v2.slice();
    damaged[damaged.length - 10] ^= 0xff;
    const original = await cache.match(rebuilt.key(id));
    await original!.body!.cancel();
    await cache.put(rebuilt.key(id), new Response(damaged, { headers: original!.headers }));

    await expect(readAll(engine, key)).rejects.toThrow(/cached rebuild failed its sha256 check/);
    expect(await cache.match(rebuilt.key(id))).toBeUndefined();
    expect(await sha256Hex(await readAll(engine, key))).toBe(id.sha256);
    expect(codec.decodes).toBe(2);
  });

  it("keeps nothing from a partial read (a Range GET or a client that stops reading)", async () => {
    const { engine, key, cache, rebuilt, id } = await setup();
    await readAll(engine, key, { start: 0, end: 99 });
    const opened = await engine.open(key, { forRead: true });
    const reader = (await opened!.read()).getReader();
    await reader.read();
    await reader.cancel();
    expect(await cache.match(rebuilt.key(id))).toBeUndefined();
  });

  it("keeps nothing for objects above the size limit", async () => {
    const { codec, engine, key, v2, cache, rebuilt, id } = await setup(1 * MiB);
    expect(await sha256Hex(await readAll(engine, key))).toBe(id.sha256);
    expect(await sha256Hex(await readAll(engine, key))).toBe(id.sha256);
    expect(codec.decodes).toBe(2);
    expect(await cache.match(rebuilt.key(id))).toBeUndefined();
  });

  it("an object larger than the copy's lag limit (MAX_CACHE_LAG) passes through whole and is stored whole", async () => {
    const cache = await caches.open(`rebuilt-cache-lag-${Date.now()}-${run++}`);
    const rebuilt = new RebuiltObjectCache({ maxObjectSize: 64 * MiB, ttlSeconds: 3600, cache });
    const bytes = pseudoRandom(12 * MiB, 3);
    const id = { sha256: await sha256Hex(bytes), size: bytes.length };
    const passed = rebuilt.tap(id, bodyStream(bytes, 1 * MiB));
    expect(await sha256Hex(await bytesOf(passed))).toBe(id.sha256);
    const stored = await cache.match(rebuilt.key(id));
    expect(stored).toBeTruthy();
    expect(await sha256Hex(new Uint8Array(await stored!.arrayBuffer()))).toBe(id.sha256);
  });
});
