// Listing in user-key space: internal objects hidden, `.delta` stripped, original sizes/ETags, paging
// across hundreds of keys (with and without delimiter), start-after, max-keys counting objects + prefixes.
import { beforeAll, describe, expect, it } from "vitest";
import type { ListInput, ListResult } from "../../src/engine/api";
import { bucket, engineWith } from "./engine-helpers";

const engine = engineWith();
const pad = (i: number) => String(i).padStart(3, "0");
const expectedKeys: string[] = [];

async function listAll(input: Omit<ListInput, "cursor">): Promise<{ pages: ListResult[]; keys: string[]; prefixes: string[] }> {
  const pages: ListResult[] = [];
  let cursor: string | undefined;
  do {
    const page = await engine.list({ ...input, cursor });
    pages.push(page);
    expect(page.objects.length + page.commonPrefixes.length).toBeLessThanOrEqual(input.maxKeys);
    cursor = page.nextCursor;
    expect(Boolean(cursor)).toBe(page.isTruncated);
  } while (cursor);
  return { pages, keys: pages.flatMap((p) => p.objects.map((o) => o.key)), prefixes: pages.flatMap((p) => p.commonPrefixes) };
}

async function inBatches<T>(items: T[], run: (item: T) => Promise<unknown>): Promise<void> {
  for (let i = 0; i < items.length; i += 25) await Promise.all(items.slice(i, i + 25).map(run));
}

beforeAll(async () => {
  // 300 ordinary objects through the engine (each with a .meta sidecar beside it).
  const plain = Array.from({ length: 300 }, (_, i) => `ls/k-${pad(i)}.txt`);
  await inBatches(plain, (key) => engine.put(key, { body: new TextEncoder().encode(key), size: key.length }));
  // 60 deltas laid out as DeltaGlider stores them (reference + .delta with dg-* metadata + sidecars).
  await bucket.put("ls/reference.bin", "reference bytes", { customMetadata: { "dg-note": "reference" } });
  await bucket.put("ls/reference.bin.meta", "{}");
  const deltas = Array.from({ length: 60 }, (_, i) => i);
  await inBatches(deltas, async (i) => {
    await bucket.put(`ls/v${pad(i)}.zip.delta`, "d".repeat(10), {
      customMetadata: {
        "dg-tool": "deltaglider_proxy/1.19.0", "dg-original-name": `v${pad(i)}.zip`, "dg-file-sha256": "ab".repeat(32),
        "dg-file-size": String(100_000 + i), "dg-md5": pad(i).repeat(11).slice(0, 32), "dg-note": "delta",
        "dg-ref-path": "reference.bin", "dg-ref-sha256": "cd".repeat(32), "dg-delta-size": "10",
        "dg-created-at": "2026-01-02T03:04:05.000000Z",
      },
    });
    await bucket.put(`ls/v${pad(i)}.zip.delta.meta`, "{}");
  });
  // A nested deltaspace, and the engine's own internal prefix at the root.
  await inBatches([0, 1, 2, 3, 4], (i) => engine.put(`ls/sub${i}/x.txt`, { body: new Uint8Array(1), size: 1 }));
  await bucket.put(".dg/tmp/leftover", "x");
  expectedKeys.push(...plain, ...deltas.map((i) => `ls/v${pad(i)}.zip`), ...[0, 1, 2, 3, 4].map((i) => `ls/sub${i}/x.txt`));
  expectedKeys.sort();
}, 120_000);

describe("listing", () => {
  it("pages through hundreds of keys without delimiter: every user key once, in order, internals hidden", async () => {
    const { keys, pages } = await listAll({ prefix: "ls/", maxKeys: 100 });
    expect(keys).toEqual(expectedKeys);
    expect(pages.length).toBe(Math.ceil(expectedKeys.length / 100));
    expect(keys.some((k) => k.endsWith(".meta") || k.endsWith(".delta") || k.endsWith("reference.bin"))).toBe(false);
  });

  it("deltas are listed under their user key with original size and ETag", async () => {
    const page = await engine.list({ prefix: "ls/v007", maxKeys: 10 });
    expect(page.objects).toEqual([{
      key: "ls/v007.zip", size: 100_007, etag: "007".repeat(11).slice(0, 32),
      lastModified: new Date("2026-01-02T03:04:05.000Z"), storageType: "delta",
    }]);
    expect(page.isTruncated).toBe(false);
  });

  it("pages with delimiter: objects and common prefixes count together toward max-keys", async () => {
    const { keys, prefixes } = await listAll({ prefix: "ls/", delimiter: "/", maxKeys: 7 });
    expect(keys).toEqual(expectedKeys.filter((k) => !k.includes("/sub")));
    expect(prefixes).toEqual(["ls/sub0/", "ls/sub1/", "ls/sub2/", "ls/sub3/", "ls/sub4/"]);
  });

  it("max-keys 1 walks every entry one at a time, even across runs of hidden objects", async () => {
    const { keys, prefixes } = await listAll({ prefix: "ls/v05", delimiter: "/", maxKeys: 1 });
    expect(keys).toEqual(expectedKeys.filter((k) => k.startsWith("ls/v05")));
    expect(prefixes).toEqual([]);
  });

  it("start-after is in user-key space and excludes the key itself (including its .delta form)", async () => {
    const page = await engine.list({ prefix: "ls/", startAfter: "ls/v057.zip", maxKeys: 1000 });
    expect(page.objects.map((o) => o.key)).toEqual(["ls/v058.zip", "ls/v059.zip"]);
    const fromPlain = await engine.list({ prefix: "ls/", startAfter: "ls/k-298.txt", maxKeys: 3 });
    expect(fromPlain.objects.map((o) => o.key)).toEqual(["ls/k-299.txt", "ls/sub0/x.txt", "ls/sub1/x.txt"]);
    expect(fromPlain.isTruncated).toBe(true);
  });

  it("the root listing hides the internal .dg/ prefix", async () => {
    const page = await engine.list({ delimiter: "/", maxKeys: 1000 });
    expect(page.commonPrefixes).toContain("ls/");
    expect(page.commonPrefixes).not.toContain(".dg/");
    const flat = await listAll({ prefix: ".dg", maxKeys: 1000 });
    expect(flat.keys).toEqual([]);
  });

  it("max-keys 0 returns nothing and a garbage continuation token is InvalidArgument", async () => {
    expect(await engine.list({ prefix: "ls/", maxKeys: 0 })).toEqual({ objects: [], commonPrefixes: [], isTruncated: false });
    await expect(engine.list({ prefix: "ls/", maxKeys: 5, cursor: "%%%not-a-token" })).rejects.toMatchObject({ code: "InvalidArgument" });
  });

  it("a delimiter that occurs inside internal names (\".\") still shows user keys, not the stored suffixes", async () => {
    const exact = await engine.list({ prefix: "ls/v007.zip", delimiter: ".", maxKeys: 10 });
    expect(exact.objects.map((o) => o.key)).toEqual(["ls/v007.zip"]);
    expect(exact.commonPrefixes).toEqual([]);
    const dotted = await listAll({ prefix: "ls/v00", delimiter: ".", maxKeys: 3 });
    expect(dotted.keys).toEqual([]);
    expect(dotted.prefixes).toEqual(Array.from({ length: 10 }, (_, i) => `ls/v00${i}.`));
    const reference = await engine.list({ prefix: "ls/r", delimiter: ".", maxKeys: 10 });
    expect(reference).toMatchObject({ objects: [], commonPrefixes: [] });
    const stripped = await listAll({ prefix: "ls/v01", delimiter: "z", maxKeys: 1 }); // ".delta" has no "z": plain delegation
    expect(stripped.prefixes).toEqual(Array.from({ length: 10 }, (_, i) => `ls/v01${i}.z`));
    const viaSuffix = await listAll({ prefix: "ls/v02", delimiter: "l", maxKeys: 2 }); // "l" occurs in ".delta"
    expect(viaSuffix.keys).toEqual(Array.from({ length: 10 }, (_, i) => `ls/v02${i}.zip`));
    expect(viaSuffix.prefixes).toEqual([]);
  });

  it("listMetadata \"deltas\" (backends where metadata costs a HEAD) lists the same keys, sizes and ETags", async () => {
    const lean = engineWith({}, undefined, { listMetadata: "deltas" });
    const full = await engine.list({ prefix: "ls/", maxKeys: 1000 });
    const cheap = await lean.list({ prefix: "ls/", maxKeys: 1000 });
    const view = (r: typeof full) => r.objects.map((o) => [o.key, o.size, o.etag, o.storageType]);
    expect(view(cheap)).toEqual(view(full));
    expect(cheap.objects.find((o) => o.key === "ls/v003.zip")).toMatchObject({ size: 100_003, lastModified: new Date("2026-01-02T03:04:05.000Z") });
  });

  it("isEmpty ignores internal objects", async () => {
    expect(await engine.isEmpty()).toBe(false);
  });
});
