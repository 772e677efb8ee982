// Scrub (POST/GET /_/scrub, src/engine/scrub.ts): every stored object of a bucket is proven against its recorded
// SHA-256 — deltas decoded, references and direct objects hashed — and damage written straight into the R2
// binding is reported by key with its reason. Pages resume from their cursor and cover each stored key exactly
// once; a scrub writes nothing to the bucket; a background run is continued by the cron and reported by GET.
import { env } from "cloudflare:workers";
import { createScheduledController } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import worker from "../../src/index";
import { bytes, s3, s3Compressed, uniqueBucket } from "./s3-support";
import { edited } from "./engine-helpers";
import { npmGzip, packageFiles, tarOf } from "./helpers/artifacts";
import { asStoredFormLayout } from "./helpers/reference-form";

interface Finding { key: string; storedKey: string; kind: string; reason: string }
interface PageAnswer {
  page: { checked: number; verified: number; unverifiable: number; bytes: number; damaged: Finding[]; next: string | null };
  done: boolean;
  cursor: string | null;
  recorded: boolean;
  run: { id: string; checked: number; damagedCount: number; damaged: Finding[]; state: string } | null;
}

const base = bytes(256 * 1024, 301);

/** A bucket with two deltaspaces: a reference + three deltas, a direct text object, and one more delta. */
async function filledBucket(): Promise<string> {
  const bucket = uniqueBucket("scrub");
  expect((await s3("PUT", `/${bucket}`)).status).toBe(200);
  const objects: Array<[string, Uint8Array]> = [
    ["rel/v1.zip", base], ["rel/v2.zip", edited(base, 302)], ["rel/v3.zip", edited(base, 303)],
    ["rel/notes.txt", bytes(5000, 304)], ["other/a.zip", bytes(70_000, 305)],
  ];
  for (const [key, body] of objects) expect((await s3("PUT", `/${bucket}/${key}`, { body })).status).toBe(200);
  return bucket;
}

const stored = (bucket: string, key: string) => `.dg/buckets/data/${bucket}/${key}`;

/** Rewrite a stored object behind the proxy's back: one byte changed, metadata kept (silent damage). */
async function damage(bucket: string, key: string): Promise<void> {
  const object = await env.BUCKET.get(stored(bucket, key));
  if (!object) throw new Error(`${key} is not stored`);
  const data = new Uint8Array(await object.arrayBuffer());
  data[Math.floor(data.length / 2)] ^= 0x5a;
  await env.BUCKET.put(stored(bucket, key), data, { customMetadata: object.customMetadata, httpMetadata: object.httpMetadata });
}

async function scrub(bucket: string, query = ""): Promise<PageAnswer> {
  const response = await s3("POST", `/_/scrub?bucket=${bucket}${query}`);
  expect(response.status).toBe(200);
  return response.json() as Promise<PageAnswer>;
}

/** Every page until done; the stored keys each page ended at, and every finding. */
async function scrubAll(bucket: string, query = ""): Promise<{ ends: string[]; damaged: Finding[]; checked: number; last: PageAnswer }> {
  const ends: string[] = [];
  const damaged: Finding[] = [];
  let checked = 0;
  let answer = await scrub(bucket, query);
  for (;;) {
    checked += answer.page.checked;
    damaged.push(...answer.page.damaged);
    if (answer.page.next) ends.push(answer.page.next);
    if (answer.done) return { ends, damaged, checked, last: answer };
    answer = await scrub(bucket, `&cursor=${answer.cursor}${query}`);
  }
}

/** The raw listing of the whole binding (keys with their ETags): what a scrub must leave untouched. */
async function binding(): Promise<string[]> {
  const entries: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await env.BUCKET.list({ cursor });
    entries.push(...page.objects.map((o) => `${o.key} ${o.etag} ${o.uploaded.getTime()}`));
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor);
  return entries.sort();
}

describe("scrub", () => {
  it("a clean bucket: every stored object verified, nothing damaged", async () => {
    const bucket = await filledBucket();
    const { last, damaged, checked } = await scrubAll(bucket);
    expect(damaged).toEqual([]);
    // rel/: reference.bin, three deltas, notes.txt; other/: reference.bin, a.zip.delta
    expect(checked).toBe(7);
    expect(last.run).toMatchObject({ checked: 7, damagedCount: 0, state: "done" });
  });

  it("damage to a delta, a reference and a direct object is reported by key with the reason", async () => {
    const bucket = await filledBucket();
    await damage(bucket, "rel/v2.zip.delta");
    await damage(bucket, "rel/notes.txt");
    await damage(bucket, "other/reference.bin");
    const { damaged } = await scrubAll(bucket);
    const byStored = new Map(damaged.map((f) => [f.storedKey, f]));
    expect(byStored.get("rel/v2.zip.delta")).toMatchObject({ key: "rel/v2.zip", kind: "delta" });
    expect(byStored.get("rel/notes.txt")).toMatchObject({ key: "rel/notes.txt", kind: "direct" });
    expect(byStored.get("rel/notes.txt")!.reason).toContain("SHA-256");
    expect(byStored.get("other/reference.bin")).toMatchObject({ kind: "reference" });
    expect(byStored.get("other/reference.bin")!.reason).toContain("SHA-256");
    // The undamaged objects of rel/ are not blamed.
    for (const clean of ["rel/reference.bin", "rel/v1.zip.delta", "rel/v3.zip.delta"]) expect(byStored.has(clean)).toBe(false);
  });

  it("a delta whose reference is gone, or is not the one it was made against, is damaged", async () => {
    const bucket = await filledBucket();
    await env.BUCKET.delete(stored(bucket, "other/reference.bin"));
    const other = await scrubAll(bucket, "&prefix=other/");
    expect(other.damaged).toEqual([expect.objectContaining({ storedKey: "other/a.zip.delta", kind: "delta" })]);
    expect(other.damaged[0].reason).toContain("missing");
    const reference = await env.BUCKET.get(stored(bucket, "rel/reference.bin"));
    await env.BUCKET.put(stored(bucket, "rel/reference.bin"), await reference!.arrayBuffer(), {
      customMetadata: { ...reference!.customMetadata, "dg-file-sha256": "0".repeat(64) },
    });
    const rel = await scrubAll(bucket, "&prefix=rel/");
    const deltas = rel.damaged.filter((f) => f.kind === "delta").map((f) => f.storedKey).sort();
    expect(deltas).toEqual(["rel/v1.zip.delta", "rel/v2.zip.delta", "rel/v3.zip.delta"]);
    expect(rel.damaged.find((f) => f.kind === "delta")!.reason).toContain("not the one its delta was made against");
  });

  it("pages of one object resume from their cursor and cover every stored key exactly once", async () => {
    const bucket = await filledBucket();
    const { ends, last } = await scrubAll(bucket, "&limit=1");
    const expected = (await binding())
      .map((entry) => entry.split(" ")[0])
      .filter((key) => key.startsWith(stored(bucket, "")) && !key.endsWith(".meta"))
      .map((key) => key.slice(stored(bucket, "").length));
    expect(ends).toEqual(expected);
    expect(new Set(ends).size).toBe(ends.length);
    expect(last.run).toMatchObject({ checked: 7, state: "done" });
  });

  it("writes nothing to the bucket's storage, damaged or not", async () => {
    const bucket = await filledBucket();
    await damage(bucket, "rel/v3.zip.delta");
    const before = await binding();
    const { damaged } = await scrubAll(bucket, "&limit=2");
    expect(damaged.map((f) => f.storedKey)).toEqual(["rel/v3.zip.delta"]);
    expect(await binding()).toEqual(before);
  });

  it("GET shows the last run's report; a repeated page is not counted twice", async () => {
    const bucket = await filledBucket();
    await damage(bucket, "rel/v1.zip.delta");
    const first = await scrub(bucket, "&limit=3");
    const again = await scrub(bucket, `&cursor=${first.cursor}&limit=3`);
    const repeated = await scrub(bucket, `&cursor=${first.cursor}&limit=3`);
    expect(again.recorded).toBe(true);
    expect(repeated.recorded).toBe(false);
    await scrub(bucket, `&cursor=${again.cursor}&limit=10`);
    const report = await (await s3("GET", `/_/scrub?bucket=${bucket}`)).json() as { run: PageAnswer["run"] };
    expect(report.run).toMatchObject({ checked: 7, damagedCount: 1, state: "done" });
    expect(report.run!.damaged[0]).toMatchObject({ key: "rel/v1.zip", kind: "delta" });
  });

  it("a background run is continued by the cron, until its report is done", async () => {
    const bucket = await filledBucket();
    await damage(bucket, "other/a.zip.delta");
    const started = await s3("POST", `/_/scrub?bucket=${bucket}&background=1`);
    expect(started.status).toBe(202);
    const before = await binding();
    let report: PageAnswer["run"] = null;
    for (let tick = 0; tick < 10; tick++) {
      await worker.scheduled!(createScheduledController({ scheduledTime: Date.now(), cron: "* * * * *" }), env as never);
      report = ((await (await s3("GET", `/_/scrub?bucket=${bucket}`)).json()) as { run: PageAnswer["run"] }).run;
      if (report?.state === "done") break;
    }
    expect(report).toMatchObject({ checked: 7, damagedCount: 1, state: "done" });
    expect(report!.damaged[0]).toMatchObject({ key: "other/a.zip", storedKey: "other/a.zip.delta" });
    expect(await binding()).toEqual(before);
  });

  it("refuses a missing bucket, an unknown bucket and a forged cursor with clean JSON errors", async () => {
    expect((await s3("POST", "/_/scrub")).status).toBe(400);
    expect((await s3("POST", `/_/scrub?bucket=${uniqueBucket("none")}`)).status).toBe(404);
    const bucket = await filledBucket();
    const forged = await s3("POST", `/_/scrub?bucket=${bucket}&cursor=bm90LWEtY3Vyc29y`);
    expect(forged.status).toBe(400);
    expect(await forged.json()).toMatchObject({ error: "InvalidArgument" });
  });

  it("compressed-aware deltas are rebuilt through their recipes against reference.bin's inflated form and proven; damage to reference.bin is found with every delta made against it", async () => {
    const bucket = uniqueBucket("scrubgz");
    expect((await s3Compressed("PUT", `/${bucket}`)).status).toBe(200);
    for (const minor of [0, 1, 2]) {
      const response = await s3Compressed("PUT", `/${bucket}/pkg/app-1.${minor}.0.tgz`, { body: npmGzip(tarOf(packageFiles(minor))) });
      expect(response.headers.get("x-amz-storage-type")).toBe(minor === 0 ? "Reference" : "Delta");
    }
    expect((await env.BUCKET.head(stored(bucket, "pkg/app-1.1.0.tgz.delta")))?.customMetadata?.["dg-recompress"]).toBe("v2");
    const clean = await scrubAll(bucket);
    // reference.bin and three deltas (the first is the seeding upload's plain self-delta); no inflated reference.
    expect(clean.checked).toBe(4);
    expect(clean.damaged).toEqual([]);

    // An inflated reference an earlier version stored is hashed as stored; the deltas no longer depend on it.
    await asStoredFormLayout(env.BUCKET, stored(bucket, "pkg"), []);
    expect((await scrubAll(bucket)).damaged).toEqual([]);
    await damage(bucket, "pkg/.dg/reference.inflated.bin");
    expect((await scrubAll(bucket)).damaged.map((d) => [d.storedKey, d.kind])).toEqual([["pkg/.dg/reference.inflated.bin", "reference"]]);

    await damage(bucket, "pkg/reference.bin");
    const found = await scrubAll(bucket);
    expect(found.damaged.map((d) => [d.storedKey, d.kind]).sort()).toEqual([
      ["pkg/.dg/reference.inflated.bin", "reference"],
      ["pkg/app-1.0.0.tgz.delta", "delta"],
      ["pkg/app-1.1.0.tgz.delta", "delta"],
      ["pkg/app-1.2.0.tgz.delta", "delta"],
      ["pkg/reference.bin", "reference"],
    ]);
  });
});
