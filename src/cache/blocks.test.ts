// The reference block cache against workerd's real local Cache API and R2 binding.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { CountingBackend } from "../storage/counting";
import { R2Backend } from "../storage/r2";
import { MAX_FILLS_IN_FLIGHT, ReferenceBlockCache } from "./blocks";
import { backendRangeReader } from "./origin";
import { randomBytes } from "../../test/fixtures/random";

const MiB = 1024 * 1024;

/** Byte equality without vitest's element-by-element deep diff (which takes minutes on MiB-sized arrays). */
function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** A reference stored in the real local R2, its identity, and a backend that counts R2 calls. */
async function storeReference(size: number, seed: number) {
  const bytes = randomBytes(size, seed);
  const key = `cache-test/${seed}/reference.bin`;
  const backend = new CountingBackend(new R2Backend(env.BUCKET, "BUCKET"));
  await env.BUCKET.put(key, bytes);
  const ref = { sha256: await sha256Hex(bytes), size };
  return { bytes, key, backend, ref, origin: backendRangeReader(backend, key) };
}

describe("reference block cache", () => {
  it("fills on a cold read, then serves a second request from the cache with no R2 reads", async () => {
    const { bytes, backend, ref, origin } = await storeReference(5 * MiB + 123, 1);
    const cold = new ReferenceBlockCache({ blockSize: MiB });
    expect(sameBytes(await cold.reader(ref, origin)(0, ref.size), bytes)).toBe(true);
    expect(cold.stats).toMatchObject({ hits: 0, misses: 6, evictions: 0, originBytes: ref.size });
    expect(backend.counts.get).toBe(6);

    const warm = new ReferenceBlockCache({ blockSize: MiB });
    expect(sameBytes(await warm.reader(ref, origin)(0, ref.size), bytes)).toBe(true);
    expect(warm.stats).toMatchObject({ hits: 6, misses: 0, originBytes: 0 });
    expect(backend.counts.get).toBe(6);
  });

  it("returns exactly the reference bytes for reads that span block boundaries", async () => {
    const { bytes, ref, origin } = await storeReference(3 * 65536 + 777, 2);
    const cache = new ReferenceBlockCache({ blockSize: 65536 });
    const read = cache.reader(ref, origin);
    const cases: Array<[number, number]> = [
      [0, 1],
      [65535, 2],
      [65536 - 10, 65536 + 20],
      [1000, 3 * 65536 - 500],
      [3 * 65536, 777],
      [ref.size - 1, 1],
      [12345, 0],
    ];
    for (const [offset, length] of cases) {
      expect(sameBytes(await read(offset, length), bytes.subarray(offset, offset + length)), `read ${offset}+${length}`).toBe(true);
    }
  });

  it("keeps the last block so sequential small reads inside it cost one cache lookup", async () => {
    const { bytes, ref, origin } = await storeReference(2 * 65536, 3);
    const cache = new ReferenceBlockCache({ blockSize: 65536 });
    const read = cache.reader(ref, origin);
    for (let offset = 0; offset < ref.size; offset += 4096) {
      expect(sameBytes(await read(offset, 4096), bytes.subarray(offset, offset + 4096))).toBe(true);
    }
    expect(cache.stats.hits + cache.stats.misses).toBe(2);
  });

  it("keeps the blocks it used last (keptBlocks, LRU): reads alternating over them load each block once", async () => {
    const { bytes, ref, origin } = await storeReference(4 * 65536, 5);
    const cache = new ReferenceBlockCache({ blockSize: 65536, keptBlocks: 3 });
    const { readInto } = cache.source(ref, origin);
    // Like the decoder: pieces scattered over a window of three blocks, then the fourth block.
    const offsets = [0, 2, 1, 0, 2, 1, 2, 0, 3, 2].map((block, i) => block * 65536 + i * 4096);
    for (const offset of offsets) {
      const target = new Uint8Array(4096);
      expect(await readInto(offset, target)).toBe(4096);
      expect(sameBytes(target, bytes.subarray(offset, offset + 4096)), `read at ${offset}`).toBe(true);
    }
    expect(cache.stats.hits + cache.stats.misses).toBe(4);
    // One kept block: the same pattern loads a block at every switch.
    const single = new ReferenceBlockCache({ blockSize: 65536, keptBlocks: 1 });
    const narrow = single.source(ref, origin);
    for (const offset of offsets) await narrow.readInto(offset, new Uint8Array(4096));
    expect(single.stats.hits + single.stats.misses).toBe(10);
    // A reader may ask for fewer kept blocks than the cache's default (the encoder's front-to-back reads).
    const perReader = new ReferenceBlockCache({ blockSize: 65536, keptBlocks: 3 });
    const encoderLike = perReader.source(ref, origin, { keptBlocks: 1 });
    for (const offset of offsets) await encoderLike.readInto(offset, new Uint8Array(4096));
    expect(perReader.stats.hits + perReader.stats.misses).toBe(10);
  });

  it("readInto writes across block boundaries into the caller's buffer and refuses reads outside the reference", async () => {
    const { bytes, ref, origin } = await storeReference(3 * 65536 + 777, 6);
    const { readInto } = new ReferenceBlockCache({ blockSize: 65536 }).source(ref, origin);
    const target = new Uint8Array(2 * 65536 + 100);
    expect(await readInto(65536 - 50, target)).toBe(target.length);
    expect(sameBytes(target, bytes.subarray(65536 - 50, 65536 - 50 + target.length))).toBe(true);
    await expect(readInto(ref.size - 10, new Uint8Array(11))).rejects.toThrow(RangeError);
  });

  it("evicts a tampered entry and re-reads the block from R2 instead of serving it", async () => {
    const { bytes, backend, ref, origin } = await storeReference(2 * 65536, 4);
    const fill = new ReferenceBlockCache({ blockSize: 65536 });
    await fill.reader(ref, origin)(0, ref.size);
    const key = fill.blockKey(ref, 1);
    const genuine = await caches.default.match(key);
    const hash = genuine!.headers.get("x-dg-block-sha256")!;
    await genuine!.arrayBuffer();
    const forged = randomBytes(65536, 99);
    await caches.default.put(key, new Response(forged, { headers: { "x-dg-block-sha256": hash, "cache-control": "max-age=3600" } }));
    const getsBefore = backend.counts.get;

    const cache = new ReferenceBlockCache({ blockSize: 65536 });
    expect(sameBytes(await cache.reader(ref, origin)(0, ref.size), bytes)).toBe(true);
    expect(cache.stats).toMatchObject({ hits: 1, misses: 1, evictions: 1 });
    expect(backend.counts.get).toBe(getsBefore + 1);

    const after = new ReferenceBlockCache({ blockSize: 65536 });
    expect(sameBytes(await after.reader(ref, origin)(65536, 65536), bytes.subarray(65536))).toBe(true);
    expect(after.stats).toMatchObject({ hits: 1, misses: 0, evictions: 0 });
  });

  it("does not trust an entry that carries no block hash", async () => {
    const { bytes, ref, origin } = await storeReference(65536, 5);
    const cache = new ReferenceBlockCache({ blockSize: 65536 });
    await caches.default.put(cache.blockKey(ref, 0), new Response(randomBytes(65536, 7), { headers: { "cache-control": "max-age=3600" } }));
    expect(sameBytes(await cache.reader(ref, origin)(0, 65536), bytes)).toBe(true);
    expect(cache.stats).toMatchObject({ hits: 0, misses: 1, evictions: 1 });
  });

  it("keys blocks by block size, so a different block size never reads another layout's entries", async () => {
    const { bytes, ref, origin } = await storeReference(4 * 65536, 6);
    await new ReferenceBlockCache({ blockSize: 65536 }).reader(ref, origin)(0, ref.size);
    const bigger = new ReferenceBlockCache({ blockSize: 2 * 65536 });
    expect(sameBytes(await bigger.reader(ref, origin)(0, ref.size), bytes)).toBe(true);
    expect(bigger.stats).toMatchObject({ hits: 0, misses: 2 });
  });

  it("refuses reads outside the reference and malformed reference ids", async () => {
    const { ref, origin } = await storeReference(65536, 8);
    const read = new ReferenceBlockCache({ blockSize: 65536 }).reader(ref, origin);
    await expect(read(65000, 1000)).rejects.toThrow(RangeError);
    await expect(read(-1, 10)).rejects.toThrow(RangeError);
    expect(() => new ReferenceBlockCache().reader({ sha256: "abc", size: 1 }, origin)).toThrow(RangeError);
  });

  it("lets a fill complete in the background through waitUntil", async () => {
    const { bytes, ref, origin } = await storeReference(65536, 9);
    const pending: Promise<unknown>[] = [];
    const cache = new ReferenceBlockCache({ blockSize: 65536, waitUntil: (p) => pending.push(p) });
    expect(sameBytes(await cache.reader(ref, origin)(0, 65536), bytes)).toBe(true);
    expect(pending).toHaveLength(1);
    await Promise.all(pending);
    const warm = new ReferenceBlockCache({ blockSize: 65536 });
    await warm.reader(ref, origin)(0, 65536);
    expect(warm.stats.hits).toBe(1);
  });
});

describe("background fills", () => {
  /** The real local cache, with every put held until `release()`: a cache slower than the reader. */
  function slowCache(): { cache: Cache; release: () => void } {
    const real = caches.default;
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const cache = new Proxy(real, {
      get(target, prop) {
        if (prop === "put") return async (key: string, response: Response) => { await gate; return target.put(key, response); };
        const value = Reflect.get(target, prop, target);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    return { cache, release: open };
  }

  it(`a reader keeps at most ${MAX_FILLS_IN_FLIGHT} fills pending; blocks past that are served unfilled`, async () => {
    const { bytes, ref, origin } = await storeReference(6 * 65536, 31);
    const { cache: slow, release } = slowCache();
    const pending: Promise<unknown>[] = [];
    const cache = new ReferenceBlockCache({ blockSize: 65536, cache: slow, waitUntil: (p) => pending.push(p) });
    expect(sameBytes(await cache.reader(ref, origin)(0, ref.size), bytes)).toBe(true);
    expect(pending).toHaveLength(MAX_FILLS_IN_FLIGHT);
    expect(cache.stats).toMatchObject({ misses: 6, skippedFills: 6 - MAX_FILLS_IN_FLIGHT });
    release();
    await Promise.all(pending);
    // The filled blocks are cached; the skipped ones are filled by the next read that misses them.
    const next = new ReferenceBlockCache({ blockSize: 65536, waitUntil: (p) => pending.push(p) });
    expect(sameBytes(await next.reader(ref, origin)(0, ref.size), bytes)).toBe(true);
    expect(next.stats).toMatchObject({ hits: MAX_FILLS_IN_FLIGHT, misses: 6 - MAX_FILLS_IN_FLIGHT });
  });
});

describe("reference size records", () => {
  it("remembers a reference's size across isolates and drops a record that is not the reference's own", async () => {
    const cache = await caches.open(`size-records-${Date.now()}`);
    const sha = "ab".repeat(32);
    await new ReferenceBlockCache({ cache }).rememberReferenceSize(sha, 12345);
    expect(await new ReferenceBlockCache({ cache }).referenceSize(sha)).toBe(12345);

    // A record under this key naming another reference (or garbage) is never believed, and is deleted.
    const other = "cd".repeat(32);
    const fresh = new ReferenceBlockCache({ cache });
    await cache.put(`https://reference-cache.deltaglider.invalid/ref/${other}/size`, new Response(`${sha}:99`, { headers: { "cache-control": "max-age=3600" } }));
    expect(await fresh.referenceSize(other)).toBeNull();
    expect(fresh.stats.evictions).toBe(1);
    expect(await cache.match(`https://reference-cache.deltaglider.invalid/ref/${other}/size`)).toBeUndefined();
  });

  it("evictReference drops every block and the size record of a reference", async () => {
    const { bytes, ref, origin } = await storeReference(3 * 65536 + 5, 9);
    const cache = await caches.open(`evict-${Date.now()}`);
    const blocks = new ReferenceBlockCache({ blockSize: 65536, cache });
    expect(sameBytes(await blocks.reader(ref, origin)(0, ref.size), bytes)).toBe(true);
    await blocks.rememberReferenceSize(ref.sha256, ref.size);
    await blocks.evictReference(ref);
    const again = new ReferenceBlockCache({ blockSize: 65536, cache });
    expect(await again.referenceSize(ref.sha256)).toBeNull();
    await again.reader(ref, origin)(0, ref.size);
    expect(again.stats).toMatchObject({ hits: 0, misses: 4 });
  });
});

describe("inflated-form facts (compressed-aware deltas)", () => {
  const referenceSha = "a".repeat(64);
  const facts = { size: 5000, sha256: "b".repeat(64), header: new Uint8Array([0x44, 0x47, 0x49, 0x46, 1, 2, 3]) };

  it("are kept per reference.bin SHA-256 and read back by another isolate", async () => {
    const cache = await caches.open(`form-facts-${Date.now()}`);
    await new ReferenceBlockCache({ cache }).rememberInflatedForm(referenceSha, 2, facts);
    const other = new ReferenceBlockCache({ cache });
    expect(await other.inflatedForm(referenceSha, 2)).toEqual(facts);
    expect(await other.inflatedForm(referenceSha, 1)).toBeNull(); // another layout, other bytes
    expect(await other.inflatedForm("c".repeat(64), 2)).toBeNull();
  });

  it("a damaged or foreign entry is never trusted, and is evicted", async () => {
    const cache = await caches.open(`form-facts-bad-${Date.now()}`);
    await new ReferenceBlockCache({ cache }).rememberInflatedForm(referenceSha, 2, facts);
    const key = `https://reference-cache.deltaglider.invalid/ref/${referenceSha}/inflated-form/v2`;
    const stored = (await cache.match(key))!;
    const headers = new Headers(stored.headers);
    const header = new Uint8Array(await stored.arrayBuffer());
    header[5] ^= 1; // the header's bytes no longer match the hash stored with them
    await cache.put(key, new Response(header, { headers }));
    const reader = new ReferenceBlockCache({ cache });
    expect(await reader.inflatedForm(referenceSha, 2)).toBeNull();
    expect(reader.stats.evictions).toBe(1);
    expect(await cache.match(key)).toBeUndefined();
  });
});
