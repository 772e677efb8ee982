// Multipart uploads through the Worker's S3 front door (src/s3/ops/multipart.ts), against workerd's real R2
// (project "workerd") and again with bucket `default` on a real S3 server (project "workerd-remote-s3").
import { XMLParser } from "fast-xml-parser";
import { describe, expect, it } from "vitest";
import { keepAliveXmlResponse, parseCompleteBody } from "../../src/s3/ops/multipart";
import { S3Error } from "../../src/errors";
import { defaultBucketBackend } from "./helpers/remote-s3";
import { s3 } from "./s3-support";
import { bytesOf, concat, expectedMultipartEtag, md5Hex, MiB, readAll } from "./multipart-helpers";

const BUCKET = "default";
const parser = new XMLParser({ parseTagValue: false, isArray: (name) => ["Part", "Upload", "CommonPrefixes"].includes(name) });

async function xml(response: Response): Promise<any> {
  return parser.parse(await response.text());
}

function path(key: string): string {
  return `/${BUCKET}/${key.split("/").map(encodeURIComponent).join("/")}`;
}

async function create(key: string, headers: Record<string, string> = {}): Promise<string> {
  const response = await s3("POST", `${path(key)}?uploads`, { headers });
  expect(response.status).toBe(200);
  const body = await xml(response);
  expect(body.InitiateMultipartUploadResult).toMatchObject({ Bucket: BUCKET, Key: key });
  return body.InitiateMultipartUploadResult.UploadId;
}

async function putPart(key: string, uploadId: string, partNumber: number, data: Uint8Array, headers: Record<string, string> = {}) {
  return s3("PUT", `${path(key)}?partNumber=${partNumber}&uploadId=${encodeURIComponent(uploadId)}`, {
    body: data, headers: { "content-length": String(data.byteLength), ...headers },
  });
}

async function uploadPart(key: string, uploadId: string, partNumber: number, data: Uint8Array): Promise<string> {
  const response = await putPart(key, uploadId, partNumber, data);
  expect(response.status).toBe(200);
  return response.headers.get("etag")!;
}

function completeBody(parts: { partNumber: number; etag: string }[]): string {
  return `<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">${parts
    .map((p) => `<Part><PartNumber>${p.partNumber}</PartNumber><ETag>${p.etag}</ETag></Part>`).join("")}</CompleteMultipartUpload>`;
}

async function complete(key: string, uploadId: string, parts: { partNumber: number; etag: string }[], headers: Record<string, string> = {}) {
  return s3("POST", `${path(key)}?uploadId=${encodeURIComponent(uploadId)}`, { body: completeBody(parts), headers });
}

/** Upload `parts` as parts 1..n and complete with all of them; returns the Complete response body. */
async function multipartPut(key: string, parts: Uint8Array[]): Promise<any> {
  const uploadId = await create(key, { "content-type": "application/zip", "x-amz-meta-build": "7" });
  const etags: string[] = [];
  for (const [i, part] of parts.entries()) etags.push(await uploadPart(key, uploadId, i + 1, part));
  const response = await complete(key, uploadId, etags.map((etag, i) => ({ partNumber: i + 1, etag })));
  expect(response.status).toBe(200);
  const body = await xml(response);
  expect(body.Error).toBeUndefined();
  return body.CompleteMultipartUploadResult;
}

/** A new version of `base`: a few small regions rewritten, the rest unchanged (deltas well). */
function nextVersion(base: Uint8Array, seed: number): Uint8Array {
  const out = base.slice();
  const noise = bytesOf(16 * 256, seed);
  for (let i = 0; i < 16; i++) out.set(noise.subarray(i * 256, i * 256 + 256), Math.floor(((i + 1) * out.length) / 18));
  return out;
}

function split(data: Uint8Array, sizes: number[]): Uint8Array[] {
  const parts: Uint8Array[] = [];
  let at = 0;
  for (const size of sizes) {
    parts.push(data.subarray(at, at + size));
    at += size;
  }
  parts.push(data.subarray(at));
  return parts;
}

async function errorCode(response: Response): Promise<string> {
  return (await xml(response)).Error?.Code;
}

describe("multipart upload through the S3 API", () => {
  it("a completed eligible object seeds its deltaspace, the next version is stored as a delta, both rebuild byte-exact with the multipart ETag on HEAD, GET and LIST", async () => {
    const prefix = `mpo-delta-${crypto.randomUUID().slice(0, 8)}`;
    const v1 = bytesOf(13 * MiB + 12345, 11);
    const v2 = nextVersion(v1, 12);
    const v1Parts = split(v1, [5 * MiB, 6 * MiB + 7]); // unequal parts, as clients send them
    const v2Parts = split(v2, [7 * MiB, 5 * MiB]);

    const first = await multipartPut(`${prefix}/app-1.zip`, v1Parts);
    expect(first.ETag).toBe(`"${await expectedMultipartEtag(v1Parts)}"`);
    expect(await (await defaultBucketBackend()).head(`${prefix}/reference.bin`)).not.toBeNull();

    const second = await multipartPut(`${prefix}/app-2.zip`, v2Parts);
    const v2Etag = `"${await expectedMultipartEtag(v2Parts)}"`;
    expect(second.ETag).toBe(v2Etag);
    const delta = await (await defaultBucketBackend()).head(`${prefix}/app-2.zip.delta`);
    expect(delta).not.toBeNull();
    expect(delta!.size).toBeLessThan(v2.byteLength / 10);
    expect(await (await defaultBucketBackend()).head(`${prefix}/app-2.zip`)).toBeNull();

    const head = await s3("HEAD", path(`${prefix}/app-2.zip`));
    expect([head.status, head.headers.get("etag"), head.headers.get("x-amz-storage-type")]).toEqual([200, v2Etag, "Delta"]);
    expect(head.headers.get("content-type")).toBe("application/zip");
    expect(head.headers.get("x-amz-meta-build")).toBe("7");
    expect(head.headers.get("content-length")).toBe(String(v2.byteLength));

    const got = await s3("GET", path(`${prefix}/app-2.zip`));
    expect(got.headers.get("etag")).toBe(v2Etag);
    const bytes = new Uint8Array(await got.arrayBuffer());
    expect(bytes.byteLength).toBe(v2.byteLength);
    expect(await md5Hex(bytes)).toBe(await md5Hex(v2));
    const gotV1 = new Uint8Array(await (await s3("GET", path(`${prefix}/app-1.zip`))).arrayBuffer());
    expect(await md5Hex(gotV1)).toBe(await md5Hex(v1));

    const listed = await xml(await s3("GET", `/${BUCKET}?list-type=2&prefix=${prefix}/`));
    const contents = [listed.ListBucketResult.Contents].flat();
    expect(contents.map((c: any) => [c.Key, c.ETag, c.Size])).toEqual([
      [`${prefix}/app-1.zip`, first.ETag, String(v1.byteLength)],
      [`${prefix}/app-2.zip`, v2Etag, String(v2.byteLength)],
    ]);
    // Staging is gone: no parts, and the upload no longer lists.
    const uploads = await xml(await s3("GET", `/${BUCKET}?uploads&prefix=${prefix}/`));
    expect(uploads.ListMultipartUploadsResult.Upload ?? []).toEqual([]);
  });

  it("completing a subset of the uploaded parts, with a retried part (listed once or twice), stores exactly those bytes", async () => {
    const key = `mpo-subset-${crypto.randomUUID().slice(0, 8)}/data.bin`;
    const uploadId = await create(key);
    const a = bytesOf(5 * MiB, 1);
    const b = bytesOf(5 * MiB + 1, 2);
    const c = bytesOf(1234, 3);
    const e1 = await uploadPart(key, uploadId, 1, bytesOf(5 * MiB, 9)); // replaced below (last write wins)
    const e3 = await uploadPart(key, uploadId, 3, b);
    await uploadPart(key, uploadId, 2, bytesOf(100, 4)); // left out of Complete
    const e5 = await uploadPart(key, uploadId, 5, c);
    const e1b = await uploadPart(key, uploadId, 1, a);
    expect(e1b).not.toBe(e1);
    expect((await errorCode(await complete(key, uploadId, [{ partNumber: 1, etag: e1 }, { partNumber: 3, etag: e3 }])))).toBe("InvalidPart");
    // A client that recorded both answers for the retried part 1 lists it twice: the last listing counts.
    const response = await complete(key, uploadId, [{ partNumber: 1, etag: e1 }, { partNumber: 1, etag: e1b }, { partNumber: 3, etag: e3 }, { partNumber: 5, etag: e5 }]);
    expect(response.status).toBe(200);
    const result = (await xml(response)).CompleteMultipartUploadResult;
    expect(result.ETag).toBe(`"${await expectedMultipartEtag([a, b, c])}"`);
    const stored = new Uint8Array(await (await s3("GET", path(key))).arrayBuffer());
    expect(await md5Hex(stored)).toBe(await md5Hex(concat([a, b, c])));
    expect((await (await defaultBucketBackend()).list({ prefix: `.dg/mpu/parts/${uploadId}/` })).objects).toEqual([]);
  });

  it("GET and HEAD with partNumber serve that part with x-amz-mp-parts-count; a single PUT is one part", async () => {
    const prefix = `mpo-partnumber-${crypto.randomUUID().slice(0, 8)}`;
    const parts = [bytesOf(5 * MiB, 31), bytesOf(5 * MiB + 9, 32), bytesOf(777, 33)];
    const whole = concat(parts);
    const key = `${prefix}/app.zip`;
    const etag = (await multipartPut(key, parts)).ETag;
    let start = 0;
    for (const [i, part] of parts.entries()) {
      const got = await s3("GET", `${path(key)}?partNumber=${i + 1}`);
      expect([got.status, got.headers.get("etag"), got.headers.get("x-amz-mp-parts-count")]).toEqual([206, etag, "3"]);
      expect(got.headers.get("content-range")).toBe(`bytes ${start}-${start + part.byteLength - 1}/${whole.byteLength}`);
      expect(got.headers.get("content-length")).toBe(String(part.byteLength));
      expect(await md5Hex(new Uint8Array(await got.arrayBuffer()))).toBe(await md5Hex(part));
      start += part.byteLength;
    }
    const head = await s3("HEAD", `${path(key)}?partNumber=2`);
    expect([head.status, head.headers.get("content-length"), head.headers.get("x-amz-mp-parts-count")]).toEqual([206, String(parts[1].byteLength), "3"]);

    const beyond = await s3("GET", `${path(key)}?partNumber=4`);
    expect([beyond.status, await errorCode(beyond)]).toEqual([416, "InvalidPartNumber"]);
    const withRange = await s3("GET", `${path(key)}?partNumber=1`, { headers: { range: "bytes=0-9" } });
    expect([withRange.status, await errorCode(withRange)]).toEqual([400, "InvalidRequest"]);
    const zero = await s3("GET", `${path(key)}?partNumber=0`);
    expect([zero.status, await errorCode(zero)]).toEqual([400, "InvalidArgument"]);

    const single = `${prefix}/single.bin`;
    await s3("PUT", path(single), { body: "one part" });
    const first = await s3("GET", `${path(single)}?partNumber=1`);
    expect([first.status, first.headers.get("x-amz-mp-parts-count"), await first.text()]).toEqual([200, null, "one part"]);
    const second = await s3("HEAD", `${path(single)}?partNumber=2`);
    expect(second.status).toBe(416);
  });

  it("a Complete whose ETags quote with &#34; (the AWS SDK for Go, rclone) matches the parts", async () => {
    const key = `mpo-go-etag-${crypto.randomUUID().slice(0, 8)}/x.bin`;
    const uploadId = await create(key);
    const a = bytesOf(5 * MiB, 1);
    const b = bytesOf(1234, 2);
    const etags = [await uploadPart(key, uploadId, 1, a), await uploadPart(key, uploadId, 2, b)];
    const goStyle = etags.map((etag, i) => ({ partNumber: i + 1, etag: etag.replaceAll('"', "&#34;") }));
    expect(goStyle[0].etag).toMatch(/^&#34;[0-9a-f]{32}&#34;$/);
    const response = await complete(key, uploadId, goStyle);
    expect(response.status).toBe(200);
    expect((await xml(response)).CompleteMultipartUploadResult.ETag).toBe(`"${await expectedMultipartEtag([a, b])}"`);
  });

  it("a retried Complete of a finished upload answers the same ETag; UploadPart after completion gets NoSuchUpload", async () => {
    const key = `mpo-retry-${crypto.randomUUID().slice(0, 8)}/x.bin`;
    const uploadId = await create(key);
    const etag = await uploadPart(key, uploadId, 1, bytesOf(1000, 1));
    const first = (await xml(await complete(key, uploadId, [{ partNumber: 1, etag }]))).CompleteMultipartUploadResult;
    const again = (await xml(await complete(key, uploadId, [{ partNumber: 1, etag }]))).CompleteMultipartUploadResult;
    expect(again.ETag).toBe(first.ETag);
    expect(await errorCode(await putPart(key, uploadId, 2, bytesOf(10, 1)))).toBe("NoSuchUpload");
  });

  it("answers S3's errors: NoSuchUpload, InvalidPartOrder, EntityTooSmall, MalformedXML, InvalidArgument", async () => {
    const key = `mpo-errors-${crypto.randomUUID().slice(0, 8)}/x.bin`;
    const uploadId = await create(key);
    const e1 = await uploadPart(key, uploadId, 1, bytesOf(1 * MiB, 1));
    const e2 = await uploadPart(key, uploadId, 2, bytesOf(1 * MiB, 2));

    const unknown = await putPart(key, "D".repeat(32), 1, bytesOf(10, 1));
    expect([unknown.status, await errorCode(unknown)]).toEqual([404, "NoSuchUpload"]);
    const order = await complete(key, uploadId, [{ partNumber: 2, etag: e2 }, { partNumber: 1, etag: e1 }]);
    expect([order.status, await errorCode(order)]).toEqual([400, "InvalidPartOrder"]);
    const small = await complete(key, uploadId, [{ partNumber: 1, etag: e1 }, { partNumber: 2, etag: e2 }]);
    expect([small.status, await errorCode(small)]).toEqual([400, "EntityTooSmall"]);
    const malformed = await s3("POST", `${path(key)}?uploadId=${uploadId}`, { body: "<CompleteMultipartUpload><Part>" });
    expect([malformed.status, await errorCode(malformed)]).toEqual([400, "MalformedXML"]);
    const empty = await s3("POST", `${path(key)}?uploadId=${uploadId}`, { body: "<CompleteMultipartUpload></CompleteMultipartUpload>" });
    expect([empty.status, await errorCode(empty)]).toEqual([400, "MalformedXML"]);
    const partZero = await putPart(key, uploadId, 10001, bytesOf(10, 1));
    expect(partZero.status).toBe(400);
    const reserved = await s3("POST", `${path("x/reference.bin")}?uploads`);
    expect([reserved.status, await errorCode(reserved)]).toEqual([400, "InvalidArgument"]);
    const noBucket = await s3("POST", `/no-such-bucket-mp/x.bin?uploads`);
    expect(await errorCode(noBucket)).toBe("NoSuchBucket");
  });

  it("AbortMultipartUpload removes the upload: 204, then NoSuchUpload", async () => {
    const key = `mpo-abort-${crypto.randomUUID().slice(0, 8)}/x.bin`;
    const uploadId = await create(key);
    await uploadPart(key, uploadId, 1, bytesOf(100, 1));
    const aborted = await s3("DELETE", `${path(key)}?uploadId=${uploadId}`);
    expect(aborted.status).toBe(204);
    const again = await s3("DELETE", `${path(key)}?uploadId=${uploadId}`);
    expect([again.status, await errorCode(again)]).toEqual([404, "NoSuchUpload"]);
    const listed = await s3("GET", `${path(key)}?uploadId=${uploadId}`);
    expect(await errorCode(listed)).toBe("NoSuchUpload");
  });

  it("ListParts and ListMultipartUploads return AWS's XML shapes with paging", async () => {
    const prefix = `mpo-list-${crypto.randomUUID().slice(0, 8)}/`;
    const key = `${prefix}a.bin`;
    const uploadId = await create(key, { "x-amz-checksum-algorithm": "SHA256" });
    const etags: string[] = [];
    for (const n of [1, 2, 3]) etags.push(await uploadPart(key, uploadId, n, bytesOf(n * 10, n)));
    const page1 = (await xml(await s3("GET", `${path(key)}?uploadId=${uploadId}&max-parts=2`))).ListPartsResult;
    expect(page1).toMatchObject({ Bucket: BUCKET, Key: key, UploadId: uploadId, MaxParts: "2", IsTruncated: "true", NextPartNumberMarker: "2", StorageClass: "STANDARD", ChecksumAlgorithm: "SHA256" });
    expect(page1.Part.map((p: any) => [p.PartNumber, p.ETag, p.Size])).toEqual([["1", etags[0], "10"], ["2", etags[1], "20"]]);
    const page2 = (await xml(await s3("GET", `${path(key)}?uploadId=${uploadId}&max-parts=2&part-number-marker=2`))).ListPartsResult;
    expect([page2.IsTruncated, page2.Part.map((p: any) => p.PartNumber)]).toEqual(["false", ["3"]]);

    await create(`${prefix}b.bin`);
    await create(`${prefix}sub/c.bin`);
    const all = (await xml(await s3("GET", `/${BUCKET}?uploads&prefix=${prefix}&delimiter=/`))).ListMultipartUploadsResult;
    expect(all.Upload.map((u: any) => u.Key)).toEqual([`${prefix}a.bin`, `${prefix}b.bin`]);
    expect(all.CommonPrefixes.map((p: any) => p.Prefix)).toEqual([`${prefix}sub/`]);
    expect(all.Upload[0]).toMatchObject({ UploadId: uploadId, StorageClass: "STANDARD" });
    expect(Date.parse(all.Upload[0].Initiated)).toBeGreaterThan(0);
    const first = (await xml(await s3("GET", `/${BUCKET}?uploads&prefix=${prefix}&max-uploads=1`))).ListMultipartUploadsResult;
    expect([first.IsTruncated, first.NextKeyMarker, first.NextUploadIdMarker]).toEqual(["true", key, uploadId]);
    const next = (await xml(await s3("GET", `/${BUCKET}?uploads&prefix=${prefix}&max-uploads=1&key-marker=${encodeURIComponent(key)}&upload-id-marker=${uploadId}`))).ListMultipartUploadsResult;
    expect(next.Upload.map((u: any) => u.Key)).toEqual([`${prefix}b.bin`]);
  });

  it("UploadPartCopy copies byte ranges of an existing (delta) object into parts", async () => {
    const prefix = `mpo-copy-${crypto.randomUUID().slice(0, 8)}`;
    const v1 = bytesOf(6 * MiB, 21);
    const v2 = nextVersion(v1, 22);
    expect((await s3("PUT", path(`${prefix}/v1.zip`), { body: v1 })).status).toBe(200);
    const put2 = await s3("PUT", path(`${prefix}/v2.zip`), { body: v2 });
    expect(put2.headers.get("x-amz-storage-type")).toBe("Delta");

    const target = `${prefix}/copy.zip`;
    const uploadId = await create(target);
    const split = 5 * MiB + 3;
    const copyPart = (n: number, range: string) => s3("PUT", `${path(target)}?partNumber=${n}&uploadId=${uploadId}`, {
      headers: { "x-amz-copy-source": `${BUCKET}/${prefix}/v2.zip`, "x-amz-copy-source-range": range },
    });
    const r1 = await copyPart(1, `bytes=0-${split - 1}`);
    const r2 = await copyPart(2, `bytes=${split}-${v2.byteLength - 1}`);
    const p1 = (await xml(r1)).CopyPartResult;
    const p2 = (await xml(r2)).CopyPartResult;
    expect(p1.ETag).toBe(`"${await md5Hex(v2.subarray(0, split))}"`);
    const pastEnd = await copyPart(3, `bytes=0-${v2.byteLength}`);
    expect([pastEnd.status, await errorCode(pastEnd)]).toEqual([416, "InvalidRange"]);
    const outside = await copyPart(3, `bytes=${v2.byteLength}-${v2.byteLength + 10}`);
    expect([outside.status, await errorCode(outside)]).toEqual([416, "InvalidRange"]);
    const backwards = await copyPart(3, "bytes=10-5");
    expect([backwards.status, await errorCode(backwards)]).toEqual([400, "InvalidArgument"]);
    const missing = await s3("PUT", `${path(target)}?partNumber=3&uploadId=${uploadId}`, { headers: { "x-amz-copy-source": `${BUCKET}/${prefix}/nope.zip` } });
    expect(await errorCode(missing)).toBe("NoSuchKey");

    const done = await complete(target, uploadId, [{ partNumber: 1, etag: p1.ETag }, { partNumber: 2, etag: p2.ETag }]);
    expect((await xml(done)).CompleteMultipartUploadResult.ETag).toBe(`"${await expectedMultipartEtag([v2.subarray(0, split), v2.subarray(split)])}"`);
    const copied = new Uint8Array(await (await s3("GET", path(target))).arrayBuffer());
    expect(await md5Hex(copied)).toBe(await md5Hex(v2));
  });

  it("Complete with If-None-Match: * refuses to overwrite an existing object", async () => {
    const key = `mpo-cond-${crypto.randomUUID().slice(0, 8)}/x.bin`;
    await s3("PUT", path(key), { body: "existing" });
    const uploadId = await create(key);
    const etag = await uploadPart(key, uploadId, 1, bytesOf(10, 1));
    const refused = await complete(key, uploadId, [{ partNumber: 1, etag }], { "if-none-match": "*" });
    expect([refused.status, await errorCode(refused)]).toEqual([412, "PreconditionFailed"]);
    expect(await (await s3("GET", path(key))).text()).toBe("existing");
  });
});

describe("CompleteMultipartUpload keep-alive", () => {
  it("sends 200 and the XML declaration at once, whitespace while working, then the result document", async () => {
    let finish!: (xml: string) => void;
    const response = keepAliveXmlResponse(() => new Promise((resolve) => { finish = resolve; }), 20);
    expect(response.status).toBe(200);
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    let text = decoder.decode((await reader.read()).value);
    expect(text).toBe('<?xml version="1.0" encoding="UTF-8"?>\n');
    text += decoder.decode((await reader.read()).value);
    expect(text.endsWith(" ")).toBe(true);
    finish('<?xml version="1.0" encoding="UTF-8"?>\n<CompleteMultipartUploadResult><ETag>"x-1"</ETag></CompleteMultipartUploadResult>');
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      text += decoder.decode(value);
    }
    expect(text).toMatch(/^<\?xml version="1.0" encoding="UTF-8"\?>\n +<CompleteMultipartUploadResult>/);
    expect(new XMLParser().parse(text).CompleteMultipartUploadResult.ETag).toBe('"x-1"');
  });

  it("a failure after the headers went out arrives as an <Error> document in the 200 body", async () => {
    const response = keepAliveXmlResponse(async () => { throw new S3Error("InternalError", "boom"); }, 20);
    const text = new TextDecoder().decode(await readAll(response.body!));
    expect(response.status).toBe(200);
    expect(new XMLParser().parse(text).Error.Code).toBe("InternalError");
  });

  it("parses the Complete body AWS SDKs send, including checksums", () => {
    const parts = parseCompleteBody('<?xml version="1.0"?><CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Part><ETag>"abc"</ETag><PartNumber>1</PartNumber><ChecksumCRC32>AAAAAA==</ChecksumCRC32></Part><Part><PartNumber>2</PartNumber><ETag>&quot;def&quot;</ETag></Part></CompleteMultipartUpload>');
    expect(parts).toEqual([
      { partNumber: 1, etag: '"abc"', checksums: { crc32: "AAAAAA==" } },
      { partNumber: 2, etag: '"def"', checksums: {} },
    ]);
  });
});
