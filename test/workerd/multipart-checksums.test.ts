// UploadPart and flexible checksums, through the Worker's S3 front door against real local R2: the part body is
// the auth layer's verified stream, so a checksum sent as a header or in an aws-chunked trailer (the AWS SDKs'
// default) is checked, and a part that fails it is never staged.
import { XMLParser } from "fast-xml-parser";
import { describe, expect, it } from "vitest";
import { checksumOf } from "./helpers/auth";
import { bytes, chunkedPut, s3 } from "./s3-support";

const parser = new XMLParser({ parseTagValue: false, isArray: (name) => name === "Part" });

async function xml(response: Response): Promise<any> {
  return parser.parse(await response.text());
}

async function createUpload(key: string, headers: Record<string, string> = {}): Promise<string> {
  const response = await s3("POST", `/default/${key}?uploads`, { headers });
  expect(response.status).toBe(200);
  return (await xml(response)).InitiateMultipartUploadResult.UploadId;
}

function partPath(key: string, uploadId: string, partNumber: number): string {
  return `/default/${key}?partNumber=${partNumber}&uploadId=${encodeURIComponent(uploadId)}`;
}

async function listedParts(key: string, uploadId: string): Promise<any[]> {
  return (await xml(await s3("GET", `/default/${key}?uploadId=${encodeURIComponent(uploadId)}`))).ListPartsResult.Part ?? [];
}

const WRONG_CRC32 = "AAAAAA==";

describe("UploadPart verifies the part's flexible checksum", () => {
  const data = bytes(70_000, 5);

  it("a wrong x-amz-checksum-crc32 header is BadDigest and the part is not staged", async () => {
    const key = `mpck-${crypto.randomUUID().slice(0, 8)}/header.bin`;
    const uploadId = await createUpload(key, { "x-amz-checksum-algorithm": "CRC32" });
    const response = await s3("PUT", partPath(key, uploadId, 1), { body: data, headers: { "x-amz-checksum-crc32": WRONG_CRC32 } });
    expect(response.status).toBe(400);
    expect((await xml(response)).Error.Code).toBe("BadDigest");
    expect(await listedParts(key, uploadId)).toEqual([]);
  });

  it("a correct x-amz-checksum-crc32 header is accepted, echoed and listed with the part", async () => {
    const key = `mpck-${crypto.randomUUID().slice(0, 8)}/header-ok.bin`;
    const uploadId = await createUpload(key, { "x-amz-checksum-algorithm": "CRC32" });
    const crc = await checksumOf("crc32", data);
    const response = await s3("PUT", partPath(key, uploadId, 1), { body: data, headers: { "x-amz-checksum-crc32": crc } });
    expect(response.status).toBe(200);
    expect(response.headers.get("x-amz-checksum-crc32")).toBe(crc);
    expect((await listedParts(key, uploadId)).map((p) => p.ChecksumCRC32)).toEqual([crc]);
  });

  it("a wrong CRC32 in the aws-chunked trailer (the SDKs' default upload) is BadDigest and the part is not staged", async () => {
    const key = `mpck-${crypto.randomUUID().slice(0, 8)}/trailer.bin`;
    const uploadId = await createUpload(key, { "x-amz-checksum-algorithm": "CRC32" });
    const response = await chunkedPut(partPath(key, uploadId, 1), data, { signChunks: false, trailer: { algorithm: "crc32", value: WRONG_CRC32 } });
    expect(response.status).toBe(400);
    expect((await xml(response)).Error.Code).toBe("BadDigest");
    expect(await listedParts(key, uploadId)).toEqual([]);
  });

  it("a correct CRC32 trailer is accepted and echoed on the UploadPart response", async () => {
    const key = `mpck-${crypto.randomUUID().slice(0, 8)}/trailer-ok.bin`;
    const uploadId = await createUpload(key, { "x-amz-checksum-algorithm": "CRC32" });
    const crc = await checksumOf("crc32", data);
    const response = await chunkedPut(partPath(key, uploadId, 1), data, { signChunks: false, trailer: { algorithm: "crc32", value: crc } });
    expect(response.status).toBe(200);
    expect(response.headers.get("x-amz-checksum-crc32")).toBe(crc);
    expect((await listedParts(key, uploadId)).map((p) => p.Size)).toEqual([String(data.length)]);
  });

  // The trailer arrives after the part's write has started, so its value is kept in the part's checksums companion.
  it("a part uploaded with a CRC32 trailer is listed with its ChecksumCRC32", async () => {
    const key = `mpck-${crypto.randomUUID().slice(0, 8)}/trailer-listed.bin`;
    const uploadId = await createUpload(key, { "x-amz-checksum-algorithm": "CRC32" });
    const crc = await checksumOf("crc32", data);
    const response = await chunkedPut(partPath(key, uploadId, 1), data, { signChunks: false, trailer: { algorithm: "crc32", value: crc } });
    expect(response.status).toBe(200);
    expect((await listedParts(key, uploadId)).map((p) => p.ChecksumCRC32)).toEqual([crc]);
  });

  it("Complete of parts sent with CRC32 trailers (the SDKs' default) reports the COMPOSITE CRC32 of the parts", async () => {
    const key = `mpck-${crypto.randomUUID().slice(0, 8)}/trailer-complete.bin`;
    const uploadId = await createUpload(key, { "x-amz-checksum-algorithm": "CRC32" });
    const parts = [bytes(5 * 1024 * 1024, 7), data];
    const sent: Array<{ etag: string; crc: string }> = [];
    for (const [index, part] of parts.entries()) {
      const crc = await checksumOf("crc32", part);
      const response = await chunkedPut(partPath(key, uploadId, index + 1), part, { signChunks: false, trailer: { algorithm: "crc32", value: crc } });
      expect(response.status).toBe(200);
      sent.push({ etag: response.headers.get("etag")!, crc });
    }
    expect((await listedParts(key, uploadId)).map((p) => p.ChecksumCRC32)).toEqual(sent.map((p) => p.crc));

    const body = `<CompleteMultipartUpload>${sent.map((p, i) =>
      `<Part><PartNumber>${i + 1}</PartNumber><ETag>${p.etag}</ETag><ChecksumCRC32>${p.crc}</ChecksumCRC32></Part>`).join("")}</CompleteMultipartUpload>`;
    const response = await s3("POST", `/default/${key}?uploadId=${encodeURIComponent(uploadId)}`, { body });
    expect(response.status).toBe(200);
    const result = (await xml(response)).CompleteMultipartUploadResult;
    // COMPOSITE: the CRC32 of the concatenated binary part CRC32s, then "-<part count>".
    const joined = new Uint8Array(sent.flatMap((p) => [...Uint8Array.from(atob(p.crc), (c) => c.charCodeAt(0))]));
    expect(result.ChecksumCRC32).toBe(`${await checksumOf("crc32", joined)}-2`);
    expect(result.ChecksumType).toBe("COMPOSITE");
  });
});
