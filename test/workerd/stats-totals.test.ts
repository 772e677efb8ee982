// The savings totals on GET /_/stats agree with the bytes actually stored, after every kind of write and delete
// through the S3 API (the Worker's real fetch, its real BucketCoordinator Durable Object, local R2). The expected
// numbers come from listing the R2 binding directly (helpers/stored-totals.ts), not from any of our code. After a
// rebuild scan (POST /_/stats/rebuild) the same, also for objects written behind the proxy.
import { env } from "cloudflare:workers";
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import worker from "../../src/index";
import { describe, expect, it } from "vitest";
import { DEV_CLIENT, ORIGIN, bytes, s3, uniqueBucket, xmlOf } from "./s3-support";
import { dataRoot, expectTotalsMatchStorage, put, stats } from "./helpers/bucket-stats";
import { expectTotalsEqual, storedTotals } from "./helpers/stored-totals";

const MiB = 1024 * 1024;
async function newBucket(label: string): Promise<string> {
  const bucket = uniqueBucket(label);
  expect((await s3("PUT", `/${bucket}`)).status).toBe(200);
  return bucket;
}

/** A release artifact: `base` with a few bytes changed, so it deltas well against `base`. */
function version(base: Uint8Array, n: number): Uint8Array {
  const copy = base.slice();
  for (let i = 0; i < 16; i++) copy[(n * 7919 + i * 4099) % copy.length] ^= n;
  return copy;
}

/** Run a rebuild scan to its end; `retry`: send every continued page twice, as a client whose answer was lost. */
async function rebuild(bucket: string, limit?: number, retry = false): Promise<any> {
  let cursor: string | null = null;
  let pages = 0;
  for (;;) {
    const query = `bucket=${bucket}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}${limit ? `&limit=${limit}` : ""}`;
    if (retry && cursor) {
      const lost = await s3("POST", `/_/stats/rebuild?${query}`);
      expect(lost.status).toBe(200);
      const first = await lost.json() as any;
      // The last page replaced the totals: its cursor is spent (a retry answers 409 RebuildRestarted).
      if (first.done) return { ...first, pages: pages + 1 };
    }
    const response = await s3("POST", `/_/stats/rebuild?${query}`);
    expect(response.status).toBe(200);
    const step = await response.json() as any;
    pages += 1;
    if (step.done) return { ...step, pages };
    cursor = step.cursor;
  }
}

describe("savings totals (GET /_/stats) equal what is stored", () => {
  const base = bytes(600 * 1024, 1901);

  it("after reference, delta and direct uploads, overwrites both ways, copies, multipart and deletes", async () => {
    const bucket = await newBucket("totals");
    expect(await put(bucket, "app.zip", version(base, 1))).toBe("Reference");
    expect(await put(bucket, "app-2.zip", version(base, 2))).toBe("Delta");
    expect(await put(bucket, "notes.txt", bytes(3000, 7))).toBe("Direct");
    expect(await put(bucket, "sub/lib.zip", version(base, 3))).toBe("Reference");
    let shown = await expectTotalsMatchStorage(bucket);
    expect(shown.objects).toBe(4);
    expect(shown.byType.reference.objects).toBe(2);
    expect(shown.savedBytes).toBeGreaterThan(500 * 1024);
    const root = shown.deltaspaces.find((d: any) => d.deltaspace === "");
    expect(root.worst.key).toMatch(/^app(-2)?\.zip$/);
    expect(shown.recent.slice(0, 4).map((r: any) => [r.op, r.key, r.storageType])).toEqual([
      ["put", "sub/lib.zip", "Reference"], ["put", "notes.txt", "Direct"], ["put", "app-2.zip", "Delta"], ["put", "app.zip", "Reference"],
    ]);

    // delta → plain (a body the reference does not help: stored as-is) and plain → delta
    expect(await put(bucket, "app-2.zip", bytes(200 * 1024, 99))).toBe("Direct");
    await expectTotalsMatchStorage(bucket);
    expect(await put(bucket, "app-2.zip", version(base, 4))).toBe("Delta");
    await expectTotalsMatchStorage(bucket);
    // a plain overwrite of a plain object (its sidecar replaced too)
    expect(await put(bucket, "notes.txt", bytes(5000, 8))).toBe("Direct");
    await expectTotalsMatchStorage(bucket);

    // CopyObject, within and across deltaspaces
    for (const [from, to] of [["app.zip", "copy.zip"], ["notes.txt", "sub/notes.txt"], ["app-2.zip", "sub/app.zip"]]) {
      const response = await s3("PUT", `/${bucket}/${to}`, { headers: { "x-amz-copy-source": `/${bucket}/${from}` } });
      expect(response.status).toBe(200);
      await response.arrayBuffer();
    }
    await expectTotalsMatchStorage(bucket);

    // CompleteMultipartUpload (two parts), a delta against the root reference
    const body = version(base, 5);
    const created = await xmlOf(await s3("POST", `/${bucket}/multi.zip?uploads`));
    const uploadId = encodeURIComponent(created.InitiateMultipartUploadResult.UploadId);
    const parts = [body.subarray(0, 5 * MiB > body.length ? body.length : 5 * MiB)];
    const etags: string[] = [];
    for (const [i, part] of parts.entries()) {
      const response = await s3("PUT", `/${bucket}/multi.zip?partNumber=${i + 1}&uploadId=${uploadId}`, { body: part });
      expect(response.status).toBe(200);
      etags.push(response.headers.get("etag")!);
    }
    const completeXml = `<CompleteMultipartUpload>${etags.map((etag, i) => `<Part><PartNumber>${i + 1}</PartNumber><ETag>${etag}</ETag></Part>`).join("")}</CompleteMultipartUpload>`;
    const completed = await s3("POST", `/${bucket}/multi.zip?uploadId=${uploadId}`, { body: completeXml });
    expect(completed.status).toBe(200);
    expect(await completed.text()).toContain("CompleteMultipartUploadResult");
    shown = await expectTotalsMatchStorage(bucket);
    expect(shown.objects).toBe(8);

    // DeleteObject, DeleteObjects, then the root's last object: its reference is collected
    expect((await s3("DELETE", `/${bucket}/app-2.zip`)).status).toBe(204);
    await expectTotalsMatchStorage(bucket);
    const deleteXml = `<Delete>${["app.zip", "copy.zip", "multi.zip", "never-there.zip"].map((k) => `<Object><Key>${k}</Key></Object>`).join("")}</Delete>`;
    const md5 = btoa(String.fromCharCode(...new Uint8Array(await crypto.subtle.digest("MD5", new TextEncoder().encode(deleteXml)))));
    const deleted = await s3("POST", `/${bucket}?delete`, { body: deleteXml, headers: { "content-md5": md5 } });
    expect(deleted.status).toBe(200);
    await deleted.text();
    await expectTotalsMatchStorage(bucket);
    expect((await s3("DELETE", `/${bucket}/notes.txt`)).status).toBe(204);
    shown = await expectTotalsMatchStorage(bucket);
    expect(shown.deltaspaces.map((d: any) => d.deltaspace)).toEqual(["sub"]);
    expect(shown.recent[0]).toMatchObject({ op: "delete", key: "notes.txt", storageType: "Direct", size: 5000 });
  });

  it("concurrent PUTs of one key (delta and as-is, different sizes) leave the totals of what remains", async () => {
    const bucket = await newBucket("race");
    await put(bucket, "seed.zip", version(base, 1));
    const bodies = [version(base, 2), bytes(100 * 1024, 5), version(base, 3).subarray(0, 500 * 1024), bytes(50 * 1024, 6)];
    for (let round = 0; round < 3; round++) {
      const answers = await Promise.all(bodies.map((body) => s3("PUT", `/${bucket}/hot.zip`, { body })));
      for (const answer of answers) expect(answer.status).toBe(200);
      await expectTotalsMatchStorage(bucket);
      bodies.reverse();
    }
  });

  it("a rebuild scan recomputes them from storage, also for objects written behind the proxy's back, resumable page by page", async () => {
    const bucket = await newBucket("rebuild");
    await put(bucket, "a.zip", version(base, 1));
    await put(bucket, "b.zip", version(base, 2));
    await put(bucket, "x/c.txt", bytes(1234, 3));
    await put(bucket, "x/y/d.zip", version(base, 4));
    // Behind the proxy: a plain object and a stale sidecar nobody owns.
    await env.BUCKET.put(`${dataRoot(bucket)}x/raw.bin`, bytes(4321, 5));
    await env.BUCKET.put(`${dataRoot(bucket)}x/gone.bin.meta`, "{}");
    const before = await stats(bucket);
    expect(before.objects).toBe(4);
    expect(before.rebuiltAt).toBeNull();

    const done = await rebuild(bucket, 3, true); // three stored names per page, each continued page sent twice
    expect(done.pages).toBeGreaterThan(3);
    expect(done.ignored).toEqual({ objects: 1, bytes: 2 });
    const after = await expectTotalsMatchStorage(bucket);
    expect(after.objects).toBe(5);
    expect(after.rebuiltAt).not.toBeNull();
    expect(done.totals).toMatchObject({ objects: 5, storedBytes: after.storedBytes });

    // Writes keep the rebuilt totals exact, and a write during a scan wins over what the scan read.
    const first = await (await s3("POST", `/_/stats/rebuild?bucket=${bucket}&limit=2`)).json() as any;
    expect(first.done).toBe(false);
    await put(bucket, "a.zip", bytes(777, 9)); // already scanned: the live record must win
    expect((await s3("DELETE", `/${bucket}/x/raw.bin`)).status).toBe(204); // not yet scanned
    let cursor = first.cursor;
    while (cursor) {
      const step = await (await s3("POST", `/_/stats/rebuild?bucket=${bucket}&cursor=${encodeURIComponent(cursor)}&limit=2`)).json() as any;
      cursor = step.cursor;
    }
    await expectTotalsMatchStorage(bucket);

    // A cursor of an abandoned scan is refused once a new scan started.
    const stale = await (await s3("POST", `/_/stats/rebuild?bucket=${bucket}&limit=1`)).json() as any;
    await rebuild(bucket);
    const refused = await s3("POST", `/_/stats/rebuild?bucket=${bucket}&cursor=${encodeURIComponent(stale.cursor)}`);
    expect(refused.status).toBe(409);
    expect((await refused.json() as any).error).toBe("RebuildRestarted");
  });

  it("DeleteBucket clears them; the overview sums every bucket", async () => {
    const bucket = await newBucket("gone");
    await put(bucket, "one.zip", version(base, 1));
    const overview = await (await s3("GET", "/_/stats")).json() as any;
    const line = overview.buckets.find((b: any) => b.bucket === bucket);
    expect(line.objects).toBe(1);
    expect(overview.totals.storedBytes).toBe(overview.buckets.reduce((sum: number, b: any) => sum + b.storedBytes, 0));
    expect((await s3("DELETE", `/${bucket}/one.zip`)).status).toBe(204);
    expect((await s3("DELETE", `/${bucket}`)).status).toBe(204);
    expect((await s3("GET", `/_/stats?bucket=${bucket}`)).status).toBe(404);
    expect((await s3("PUT", `/${bucket}`)).status).toBe(200);
    const fresh = await stats(bucket);
    expect([fresh.objects, fresh.storedBytes, fresh.recent.length]).toEqual([0, 0, 0]);
  });

  it("without the Durable Object binding (one isolate's in-memory coordinator) the same bookkeeping", async () => {
    const local = { ...(env as object), DG_COORDINATOR: undefined };
    const call = async (method: string, path: string, body?: Uint8Array) => {
      const ctx = createExecutionContext();
      const headers = body ? { "content-length": String(body.byteLength) } : undefined;
      const response = await worker.fetch(await DEV_CLIENT.sign(`${ORIGIN}${path}`, { method, headers, body: body ?? null }), local as never, ctx);
      await waitOnExecutionContext(ctx);
      return response;
    };
    const bucket = uniqueBucket("local");
    expect((await call("PUT", `/${bucket}`)).status).toBe(200);
    for (const [key, body] of [["r/a.zip", version(base, 1)], ["r/b.zip", version(base, 2)], ["r/b.zip", bytes(9000, 3)], ["c.txt", bytes(10, 4)]] as const) {
      expect((await call("PUT", `/${bucket}/${key}`, body)).status).toBe(200);
    }
    expect((await call("DELETE", `/${bucket}/c.txt`)).status).toBe(204);
    const response = await call("GET", `/_/stats?bucket=${bucket}`);
    expect(response.status).toBe(200);
    const shown = await response.json() as any;
    expect(shown.objects).toBe(2);
    const logical = async (key: string) => Number((await call("HEAD", `/${bucket}/${key}`)).headers.get("content-length"));
    expectTotalsEqual(shown, await storedTotals(env.BUCKET, dataRoot(bucket), logical));
  });

  it("/_/metrics shows the same storage totals as gauges (all buckets)", async () => {
    const bucket = await newBucket("gauges");
    await put(bucket, "g.zip", version(base, 1));
    await put(bucket, "g2.zip", version(base, 2));
    const [metrics, overview] = await Promise.all([s3("GET", "/_/metrics"), s3("GET", "/_/stats")]);
    expect(metrics.status).toBe(200);
    const text = await metrics.text();
    const totals = (await overview.json() as any).totals;
    const gauge = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, "m").exec(text)?.[1]);
    expect(text).toMatch(/^# TYPE deltaglider_stored_bytes gauge$/m);
    expect([gauge("deltaglider_objects"), gauge("deltaglider_logical_bytes"), gauge("deltaglider_stored_bytes")])
      .toEqual([totals.objects, totals.logicalBytes, totals.storedBytes]);
    expect(totals.objects).toBeGreaterThanOrEqual(2);
  });

  it("after a re-baseline of a bad anchor, /_/stats and the /_/metrics gauges still equal what is stored", async () => {
    const bucket = await newBucket("rebased");
    await put(bucket, "app/a-outlier.zip", bytes(400 * 1024, 2203));
    for (let n = 1; n <= 4; n++) await put(bucket, `app/build-${n}.zip`, version(base, n));
    const before = await expectTotalsMatchStorage(bucket);
    let done = false;
    for (let call = 0; call < 20 && !done; call++) {
      const response = await s3("POST", `/_/rebaseline?bucket=${bucket}&deltaspace=app&reference=app/build-2.zip`);
      expect(response.status).toBe(200);
      done = (await response.json() as { done: boolean }).done;
    }
    expect(done).toBe(true);
    const after = await expectTotalsMatchStorage(bucket);
    expect(after.storedBytes).toBeLessThan(before.storedBytes);
    const metrics = await (await s3("GET", "/_/metrics")).text();
    const overview = (await (await s3("GET", "/_/stats")).json() as any).totals;
    const gauge = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, "m").exec(metrics)?.[1]);
    expect(gauge("deltaglider_stored_bytes")).toBe(overview.storedBytes);
  });

  it("answers clean JSON errors", async () => {
    const missing = await s3("GET", "/_/stats?bucket=no-such-bucket-here");
    expect(missing.status).toBe(404);
    expect((await missing.json() as any).error).toBe("NoSuchBucket");
    const noBucket = await s3("POST", "/_/stats/rebuild");
    expect(noBucket.status).toBe(400);
    const badLimit = await s3("POST", "/_/stats/rebuild?bucket=default&limit=0");
    expect(badLimit.status).toBe(400);
  });
});
