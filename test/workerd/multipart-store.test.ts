// Stateless multipart uploads at the storage level (src/multipart) over workerd's real local R2.
import { describe, expect, it } from "vitest";
import type { ObjectEngine } from "../../src/engine/api";
import { cleanupMultipart, MultipartUploads, PartsSource } from "../../src/multipart";
import { listStagedParts } from "../../src/multipart/parts";
import { S3Error } from "../../src/errors";
import { backend, base64, bucket, bytesOf, concat, md5Hex, MiB, readAll, uniquePrefix } from "./multipart-helpers";

// These tests never complete an upload, so the engine is never asked to store: only its upload holds (the
// coordination that keeps parts out of a deleted bucket: coordination tests) are taken, here without effect.
const engineNotReached = new Proxy({}, {
  get: (_, method) => method === "holdUpload"
    ? async () => async () => {}
    : () => { throw new Error("the engine must not be called by this test"); },
}) as ObjectEngine;

function uploads(): MultipartUploads {
  return new MultipartUploads(backend(), engineNotReached);
}

async function s3ErrorOf(promise: Promise<unknown>): Promise<S3Error> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(S3Error);
  return error as S3Error;
}

describe("multipart state lives in storage", () => {
  it("CreateMultipartUpload stores a hidden state object and issues unguessable ids", async () => {
    const key = `${uniquePrefix("create")}app.zip`;
    const a = await uploads().create(key, { http: { contentType: "application/zip" }, userMetadata: { build: "42" } });
    const b = await uploads().create(key);
    expect(a.uploadId).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(a.uploadId).not.toBe(b.uploadId);
    expect(a.uploadId).not.toContain(key);
    const stored = await bucket().get(`.dg/mpu/uploads/${a.uploadId}`);
    const state = JSON.parse(await stored!.text());
    expect(state).toMatchObject({ key, http: { contentType: "application/zip" }, userMetadata: { build: "42" } });
  });

  it("a part uploaded through one instance is seen by another (nothing kept in memory)", async () => {
    const key = `${uniquePrefix("stateless")}app.zip`;
    const { uploadId } = await uploads().create(key);
    const data = bytesOf(1000, 1);
    await uploads().uploadPart(key, uploadId, 1, { body: data, size: data.byteLength });
    const listed = await new MultipartUploads(backend(), engineNotReached).listParts(key, uploadId);
    expect(listed.parts.map((p) => [p.partNumber, p.size, p.etag])).toEqual([[1, 1000, await md5Hex(data)]]);
  });
});

describe("UploadPart", () => {
  it("accepts unequal part sizes in any order and lists them by part number with MD5 ETags", async () => {
    const key = `${uniquePrefix("unequal")}app.zip`;
    const up = uploads();
    const { uploadId } = await up.create(key);
    const sizes: Record<number, number> = { 3: 7 * MiB + 3, 1: 5 * MiB, 2: 6 * MiB + 17, 7: 123 };
    const expected: [number, number, string][] = [];
    for (const [n, size] of Object.entries(sizes)) {
      const data = bytesOf(size, Number(n));
      const staged = await up.uploadPart(key, uploadId, Number(n), { body: new Blob([data]).stream(), size });
      expect(staged.etag).toBe(await md5Hex(data));
      expected.push([Number(n), size, staged.etag]);
    }
    const { parts, isTruncated } = await up.listParts(key, uploadId);
    expect(isTruncated).toBe(false);
    expect(parts.map((p) => [p.partNumber, p.size, p.etag])).toEqual(expected.sort((x, y) => x[0] - y[0]));
  });

  it("a retried part replaces the earlier one (last write wins)", async () => {
    const key = `${uniquePrefix("retry")}app.zip`;
    const up = uploads();
    const { uploadId } = await up.create(key);
    await up.uploadPart(key, uploadId, 2, { body: bytesOf(300, 1), size: 300 });
    const second = bytesOf(450, 2);
    await up.uploadPart(key, uploadId, 2, { body: second, size: 450 });
    const { parts } = await up.listParts(key, uploadId);
    expect(parts).toHaveLength(1);
    expect([parts[0].size, parts[0].etag]).toEqual([450, await md5Hex(second)]);
  });

  it("a part whose Content-MD5 does not match is refused with BadDigest and the earlier part stays", async () => {
    const key = `${uniquePrefix("digest")}app.zip`;
    const up = uploads();
    const { uploadId } = await up.create(key);
    const good = bytesOf(2 * MiB, 5);
    await up.uploadPart(key, uploadId, 1, { body: good, size: good.byteLength, contentMd5: base64(new Uint8Array(await crypto.subtle.digest("MD5", good))) });
    const bad = bytesOf(2 * MiB, 6);
    const wrongMd5 = base64(new Uint8Array(await crypto.subtle.digest("MD5", good)));
    const error = await s3ErrorOf(up.uploadPart(key, uploadId, 1, { body: new Blob([bad]).stream(), size: bad.byteLength, contentMd5: wrongMd5 }));
    expect(error.code).toBe("BadDigest");
    const { parts } = await up.listParts(key, uploadId);
    expect(parts.map((p) => p.etag)).toEqual([await md5Hex(good)]);
    const stored = await bucket().get(parts[0].stagedKey);
    expect(await md5Hex(new Uint8Array(await stored!.arrayBuffer()))).toBe(await md5Hex(good));
  });

  it("a body shorter than its declared size is refused and nothing is stored", async () => {
    const key = `${uniquePrefix("short")}app.zip`;
    const up = uploads();
    const { uploadId } = await up.create(key);
    await expect(up.uploadPart(key, uploadId, 1, { body: new Blob([bytesOf(100, 1)]).stream(), size: 200 })).rejects.toThrow();
    expect((await up.listParts(key, uploadId)).parts).toEqual([]);
  });

  it("part numbers outside 1..10000 are refused with InvalidArgument", async () => {
    const key = `${uniquePrefix("partno")}app.zip`;
    const up = uploads();
    const { uploadId } = await up.create(key);
    for (const n of [0, 10001, 1.5, -1]) {
      expect((await s3ErrorOf(up.uploadPart(key, uploadId, n, { body: bytesOf(10, 1), size: 10 }))).code).toBe("InvalidArgument");
    }
    await up.uploadPart(key, uploadId, 10000, { body: bytesOf(10, 1), size: 10 });
    expect((await up.listParts(key, uploadId)).parts.map((p) => p.partNumber)).toEqual([10000]);
  });

  it("an unknown upload id, a malformed one, or another key's id gets NoSuchUpload", async () => {
    const key = `${uniquePrefix("nosuch")}app.zip`;
    const up = uploads();
    const { uploadId } = await up.create(key);
    for (const [k, id] of [[key, "A".repeat(32)], [key, "../../etc"], [`${key}.other`, uploadId]]) {
      const error = await s3ErrorOf(up.uploadPart(k, id, 1, { body: bytesOf(10, 1), size: 10 }));
      expect([error.code, error.status]).toEqual(["NoSuchUpload", 404]);
    }
  });
});

describe("CompleteMultipartUpload validation", () => {
  async function uploadWithParts(label: string, sizes: number[]) {
    const key = `${uniquePrefix(label)}app.zip`;
    const up = uploads();
    const { uploadId } = await up.create(key);
    const etags: string[] = [];
    for (const [i, size] of sizes.entries()) {
      etags.push((await up.uploadPart(key, uploadId, i + 1, { body: bytesOf(size, i), size })).etag);
    }
    return { up, key, uploadId, etags };
  }

  it("refuses an empty part list with MalformedXML", async () => {
    const { up, key, uploadId } = await uploadWithParts("empty", [10]);
    expect((await s3ErrorOf(up.prepareComplete(key, uploadId, []))).code).toBe("MalformedXML");
  });

  it("refuses parts out of ascending order with InvalidPartOrder", async () => {
    const { up, key, uploadId, etags } = await uploadWithParts("order", [5 * MiB, 10]);
    const descending = [{ partNumber: 2, etag: etags[1] }, { partNumber: 1, etag: etags[0] }];
    expect((await s3ErrorOf(up.prepareComplete(key, uploadId, descending))).code).toBe("InvalidPartOrder");
    const backAgain = [{ partNumber: 1, etag: etags[0] }, { partNumber: 2, etag: etags[1] }, { partNumber: 1, etag: etags[0] }];
    expect((await s3ErrorOf(up.prepareComplete(key, uploadId, backAgain))).code).toBe("InvalidPartOrder");
  });

  it("accepts a part number listed twice in a row, judged by its last listing", async () => {
    const { up, key, uploadId, etags } = await uploadWithParts("repeated", [5 * MiB, 10]);
    const retried = [{ partNumber: 1, etag: `"${"0".repeat(32)}"` }, { partNumber: 1, etag: etags[0] }, { partNumber: 2, etag: etags[1] }];
    await expect(up.prepareComplete(key, uploadId, retried)).resolves.toHaveProperty("finish");
    const staleLast = [{ partNumber: 1, etag: etags[0] }, { partNumber: 1, etag: `"${"0".repeat(32)}"` }, { partNumber: 2, etag: etags[1] }];
    expect((await s3ErrorOf(up.prepareComplete(key, uploadId, staleLast))).code).toBe("InvalidPart");
  });

  it("refuses a missing part or a wrong ETag with InvalidPart", async () => {
    const { up, key, uploadId, etags } = await uploadWithParts("invalidpart", [5 * MiB, 10]);
    const missing = [{ partNumber: 1, etag: etags[0] }, { partNumber: 3, etag: etags[1] }];
    expect((await s3ErrorOf(up.prepareComplete(key, uploadId, missing))).code).toBe("InvalidPart");
    const wrongEtag = [{ partNumber: 1, etag: `"${"0".repeat(32)}"` }, { partNumber: 2, etag: etags[1] }];
    expect((await s3ErrorOf(up.prepareComplete(key, uploadId, wrongEtag))).code).toBe("InvalidPart");
  });

  it("refuses a non-last part under 5 MiB with EntityTooSmall, but any last-part size is fine", async () => {
    const { up, key, uploadId, etags } = await uploadWithParts("small", [5 * MiB - 1, 5 * MiB, 1]);
    const all = etags.map((etag, i) => ({ partNumber: i + 1, etag: `"${etag}"` }));
    const error = await s3ErrorOf(up.prepareComplete(key, uploadId, all));
    expect([error.code, error.details.PartNumber]).toEqual(["EntityTooSmall", "1"]);
    // Parts 2 and 3 alone (a subset) are acceptable: only part 2 is non-last and it is 5 MiB.
    await expect(up.prepareComplete(key, uploadId, all.slice(1))).resolves.toBeDefined();
  });

  it("refuses an unknown upload with NoSuchUpload", async () => {
    const key = `${uniquePrefix("nosuchc")}app.zip`;
    const error = await s3ErrorOf(uploads().prepareComplete(key, "B".repeat(32), [{ partNumber: 1, etag: "x" }]));
    expect(error.code).toBe("NoSuchUpload");
  });
});

describe("AbortMultipartUpload", () => {
  it("removes the state and every staged part; later calls get NoSuchUpload", async () => {
    const key = `${uniquePrefix("abort")}app.zip`;
    const up = uploads();
    const { uploadId } = await up.create(key);
    for (const n of [1, 2, 3]) await up.uploadPart(key, uploadId, n, { body: bytesOf(100, n), size: 100 });
    await up.abort(key, uploadId);
    const left = await bucket().list({ prefix: `.dg/mpu/parts/${uploadId}/` });
    expect(left.objects).toEqual([]);
    expect(await bucket().head(`.dg/mpu/uploads/${uploadId}`)).toBeNull();
    expect((await s3ErrorOf(up.uploadPart(key, uploadId, 4, { body: bytesOf(1, 1), size: 1 }))).code).toBe("NoSuchUpload");
    expect((await s3ErrorOf(up.abort(key, uploadId))).code).toBe("NoSuchUpload");
    expect((await s3ErrorOf(up.listParts(key, uploadId))).code).toBe("NoSuchUpload");
  });
});

describe("ListParts and ListMultipartUploads", () => {
  it("ListParts pages with part-number-marker and max-parts", async () => {
    const key = `${uniquePrefix("lp")}app.zip`;
    const up = uploads();
    const { uploadId } = await up.create(key);
    for (const n of [1, 2, 3, 5, 8, 13]) await up.uploadPart(key, uploadId, n, { body: bytesOf(n, n), size: n });
    const first = await up.listParts(key, uploadId, 0, 4);
    expect([first.parts.map((p) => p.partNumber), first.isTruncated, first.nextPartNumberMarker]).toEqual([[1, 2, 3, 5], true, 5]);
    const second = await up.listParts(key, uploadId, 5, 4);
    expect([second.parts.map((p) => p.partNumber), second.isTruncated]).toEqual([[8, 13], false]);
  });

  it("ListMultipartUploads sorts by key then initiation, filters by prefix, groups by delimiter, pages with markers", async () => {
    const prefix = uniquePrefix("lmu");
    const up = uploads();
    const made: Record<string, string[]> = {};
    for (const name of ["b.zip", "a.zip", "dir/x.zip", "a.zip", "dir/y.zip", "c.zip"]) {
      const { uploadId } = await up.create(prefix + name);
      (made[name] ??= []).push(uploadId);
      await new Promise((r) => setTimeout(r, 3)); // distinct initiation times
    }
    const all = await up.listUploads({ prefix, maxUploads: 1000 });
    expect(all.uploads.map((u) => u.key.slice(prefix.length))).toEqual(["a.zip", "a.zip", "b.zip", "c.zip", "dir/x.zip", "dir/y.zip"]);
    expect(all.uploads.slice(0, 2).map((u) => u.uploadId)).toEqual(made["a.zip"]);

    const grouped = await up.listUploads({ prefix, delimiter: "/", maxUploads: 1000 });
    expect(grouped.commonPrefixes).toEqual([`${prefix}dir/`]);
    expect(grouped.uploads).toHaveLength(4);

    const seen: string[] = [];
    let page = await up.listUploads({ prefix, maxUploads: 2 });
    for (;;) {
      seen.push(...page.uploads.map((u) => u.uploadId));
      if (!page.isTruncated) break;
      page = await up.listUploads({ prefix, maxUploads: 2, keyMarker: page.nextKeyMarker, uploadIdMarker: page.nextUploadIdMarker });
    }
    expect(seen).toEqual(all.uploads.map((u) => u.uploadId));

    const groupedPage = await up.listUploads({ prefix, delimiter: "/", maxUploads: 4 });
    expect(groupedPage.isTruncated).toBe(true);
    const rest = await up.listUploads({ prefix, delimiter: "/", maxUploads: 4, keyMarker: groupedPage.nextKeyMarker, uploadIdMarker: groupedPage.nextUploadIdMarker });
    expect([...groupedPage.uploads.map((u) => u.key), ...groupedPage.commonPrefixes, ...rest.uploads.map((u) => u.key), ...rest.commonPrefixes])
      .toEqual([`${prefix}a.zip`, `${prefix}a.zip`, `${prefix}b.zip`, `${prefix}c.zip`, `${prefix}dir/`]);
  });

  it("an aborted upload no longer appears in ListMultipartUploads", async () => {
    const prefix = uniquePrefix("lmuabort");
    const up = uploads();
    const keep = await up.create(`${prefix}keep.zip`);
    const gone = await up.create(`${prefix}gone.zip`);
    await up.abort(gone.key, gone.uploadId);
    const listed = await up.listUploads({ prefix, maxUploads: 1000 });
    expect(listed.uploads.map((u) => u.uploadId)).toEqual([keep.uploadId]);
  });
});

describe("assembling the completed object", () => {
  it("streams the parts in order and reads any range across part boundaries byte-exact", async () => {
    const key = `${uniquePrefix("assemble")}app.zip`;
    const up = uploads();
    const { uploadId } = await up.create(key);
    const datas = [bytesOf(1000, 1), bytesOf(1, 2), bytesOf(0, 3), bytesOf(2500, 4)];
    for (const [i, data] of datas.entries()) await up.uploadPart(key, uploadId, i + 1, { body: data, size: data.byteLength });
    const staged = [];
    for await (const part of listStagedParts(backend(), uploadId)) staged.push(part);
    const source = new PartsSource(backend(), staged);
    const whole = concat(datas);
    expect(source.size).toBe(whole.byteLength);
    expect(await readAll(source.stream())).toEqual(whole);
    expect(await readAll(source.stream())).toEqual(whole); // re-readable
    for (const [offset, length] of [[0, 10], [995, 10], [999, 3], [1000, 1500], [3400, 1000]]) {
      expect(await source.read(offset, length)).toEqual(whole.subarray(offset, offset + length));
    }
  });
});

describe("scheduled cleanup", () => {
  it("aborts uploads older than the configured age and keeps fresh ones", async () => {
    const prefix = uniquePrefix("cleanup");
    const up = uploads();
    const old = await up.create(`${prefix}old.zip`);
    await up.uploadPart(old.key, old.uploadId, 1, { body: bytesOf(10, 1), size: 10 });
    const day = 24 * 3600 * 1000;
    // Seen from 2 days later with a 1-day limit, both uploads are stale; with a 7-day limit neither is.
    const later = new Date(Date.now() + 2 * day);
    const kept = await cleanupMultipart(backend(), 7 * day, later);
    expect(await bucket().head(`.dg/mpu/uploads/${old.uploadId}`)).not.toBeNull();
    expect(kept.abortedUploads).toBe(0);
    const report = await cleanupMultipart(backend(), day, later);
    expect(report.abortedUploads).toBeGreaterThanOrEqual(1);
    expect(await bucket().head(`.dg/mpu/uploads/${old.uploadId}`)).toBeNull();
    expect((await bucket().list({ prefix: `.dg/mpu/parts/${old.uploadId}/` })).objects).toEqual([]);
  });

  it("removes parts left without an upload state once they are an hour old", async () => {
    const orphanId = "C".repeat(32);
    await bucket().put(`.dg/mpu/parts/${orphanId}/00001`, "orphan");
    const soon = await cleanupMultipart(backend(), 7 * 24 * 3600 * 1000, new Date(Date.now() + 60_000));
    expect(await bucket().head(`.dg/mpu/parts/${orphanId}/00001`)).not.toBeNull();
    expect(soon.deletedOrphanParts).toBe(0);
    const report = await cleanupMultipart(backend(), 7 * 24 * 3600 * 1000, new Date(Date.now() + 2 * 3600 * 1000));
    expect(report.deletedOrphanParts).toBeGreaterThanOrEqual(1);
    expect(await bucket().head(`.dg/mpu/parts/${orphanId}/00001`)).toBeNull();
  });
});

describe("the Worker's scheduled handler", () => {
  it("aborts uploads older than DG_MULTIPART_STALE_DAYS in every bucket", async () => {
    const { default: worker } = await import("../../src/index");
    const { createScheduledController } = await import("cloudflare:test");
    const { env } = await import("cloudflare:workers");
    const up = uploads();
    const stale = await up.create(`${uniquePrefix("cron")}old.zip`);
    await up.uploadPart(stale.key, stale.uploadId, 1, { body: bytesOf(10, 1), size: 10 });
    await new Promise((r) => setTimeout(r, 1200));
    const fresh = await up.create(`${uniquePrefix("cron")}new.zip`);
    // 0.00001 days ≈ 0.86 s: the first upload is past it, the one just made is not.
    await worker.scheduled!(createScheduledController(), { ...(env as object), DG_MULTIPART_STALE_DAYS: "0.00001" } as never);
    expect(await bucket().head(`.dg/mpu/uploads/${stale.uploadId}`)).toBeNull();
    expect((await bucket().list({ prefix: `.dg/mpu/parts/${stale.uploadId}/` })).objects).toEqual([]);
    expect(await bucket().head(`.dg/mpu/uploads/${fresh.uploadId}`)).not.toBeNull();
  });
});

describe("checksums that arrive after a part's write started (aws-chunked trailer)", () => {
  const CRC_A = "AAAAAQ==";

  it("are listed with the part, ignored once the part is replaced by other bytes, and deleted on abort", async () => {
    const key = `${uniquePrefix("late-checksums")}app.zip`;
    const up = uploads();
    const { uploadId } = await up.create(key);
    const first = bytesOf(3000, 1);
    const staged = await up.uploadPart(key, uploadId, 1, { body: first, size: first.byteLength, lateChecksums: () => ({ crc32: CRC_A }) });
    expect(staged.checksums).toEqual({ crc32: CRC_A });
    await up.uploadPart(key, uploadId, 2, { body: bytesOf(10, 2), size: 10 });
    expect((await up.listParts(key, uploadId)).parts.map((p) => p.checksums)).toEqual([{ crc32: CRC_A }, {}]);
    // Paging after part 1 skips its companion too.
    expect((await up.listParts(key, uploadId, 1)).parts.map((p) => p.partNumber)).toEqual([2]);

    // Part 1 replaced by other bytes without a trailer: the old companion no longer describes it.
    const second = bytesOf(3000, 9);
    await up.uploadPart(key, uploadId, 1, { body: second, size: second.byteLength });
    expect((await up.listParts(key, uploadId)).parts.map((p) => p.checksums)).toEqual([{}, {}]);

    await up.abort(key, uploadId);
    expect((await bucket().list({ prefix: `.dg/mpu/parts/${uploadId}/` })).objects).toEqual([]);
  });
});
