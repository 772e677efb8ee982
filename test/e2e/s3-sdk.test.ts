// End to end: `wrangler dev` started by the test, driven by the latest @aws-sdk/client-s3 (default checksum
// behaviour on) through PUT/GET/HEAD/LIST/COPY/DELETE of versioned artifacts and the bucket operations.
import {
  CopyObjectCommand, CreateBucketCommand, DeleteBucketCommand, DeleteObjectCommand, DeleteObjectsCommand,
  GetBucketAclCommand, GetBucketLocationCommand, GetObjectAclCommand, GetObjectCommand, HeadBucketCommand,
  HeadObjectCommand, ListBucketsCommand, ListObjectsCommand, ListObjectsV2Command, PutBucketAclCommand,
  PutObjectAclCommand, PutObjectCommand, S3Client,
} from "@aws-sdk/client-s3";
import { createHash, randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { localWorkerClient } from "./support/sdk";
import { REGION, startWranglerDev, type WranglerDev } from "./support/wrangler-dev";

let server: WranglerDev;
let client: S3Client;
/** Response headers of the last request, for x-amz-storage-type (not modelled by the SDK). */
let lastHeaders: Record<string, string> = {};

beforeAll(async () => {
  server = await startWranglerDev({ port: 8790 });
  client = localWorkerClient(server.endpoint);
  client.middlewareStack.add((next) => async (args) => {
    const result = await next(args);
    lastHeaders = (result.response as { headers?: Record<string, string> }).headers ?? {};
    return result;
  }, { step: "deserialize", name: "captureHeaders" });
}, 120_000);

afterAll(async () => {
  client?.destroy();
  await server?.stop();
});

/** Three releases of an artifact: each a few edits away from the previous one. */
function versions(size: number): Buffer[] {
  const v1 = randomBytes(size);
  const v2 = Buffer.from(v1);
  for (let i = 0; i < 50; i++) v2[(i * 104_729) % size] ^= 0xff;
  const v3 = Buffer.concat([v2.subarray(0, size / 2), randomBytes(1024), v2.subarray(size / 2)]);
  return [v1, v2, v3];
}

const md5 = (data: Buffer) => createHash("md5").update(data).digest("hex");

async function getBytes(bucket: string, key: string, range?: string): Promise<Buffer> {
  const response = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key, Range: range }));
  return Buffer.from(await response.Body!.transformToByteArray());
}

describe("versioned artifacts through @aws-sdk/client-s3", () => {
  const [v1, v2, v3] = versions(3 * 1024 * 1024);
  const keys = ["releases/app-1.0.0.zip", "releases/app-1.0.1.zip", "releases/app-1.1.0.zip"];

  it("PUT stores the first as Reference and later versions as Delta, with MD5 ETags", async () => {
    const types: string[] = [];
    for (const [i, body] of [v1, v2, v3].entries()) {
      const result = await client.send(new PutObjectCommand({
        Bucket: "default", Key: keys[i], Body: body, ContentType: "application/zip", Metadata: { build: String(i + 1) },
      }));
      expect(result.ETag).toBe(`"${md5(body)}"`);
      types.push(lastHeaders["x-amz-storage-type"]);
    }
    expect(types).toEqual(["Reference", "Delta", "Delta"]);
  });

  it("GET returns every version byte-exact; ranges too", async () => {
    for (const [i, body] of [v1, v2, v3].entries()) expect((await getBytes("default", keys[i])).equals(body)).toBe(true);
    expect((await getBytes("default", keys[2], "bytes=1000000-1999999")).equals(v3.subarray(1_000_000, 2_000_000))).toBe(true);
  });

  it("HEAD shows the original size, ETag, type, metadata and storage type", async () => {
    const head = await client.send(new HeadObjectCommand({ Bucket: "default", Key: keys[1] }));
    expect(head.ContentLength).toBe(v2.length);
    expect(head.ETag).toBe(`"${md5(v2)}"`);
    expect(head.ContentType).toBe("application/zip");
    expect(head.Metadata).toEqual({ build: "2" });
    expect(lastHeaders["x-amz-storage-type"]).toBe("Delta");
  });

  it("ListObjectsV2 and ListObjects show exactly the user keys with original sizes", async () => {
    const v2list = await client.send(new ListObjectsV2Command({ Bucket: "default", Prefix: "releases/" }));
    expect(v2list.Contents!.map((o) => [o.Key, o.Size])).toEqual([[keys[0], v1.length], [keys[1], v2.length], [keys[2], v3.length]]);
    const v1list = await client.send(new ListObjectsCommand({ Bucket: "default", Prefix: "releases/", MaxKeys: 2 }));
    expect(v1list.Contents!.map((o) => o.Key)).toEqual(keys.slice(0, 2));
    expect(v1list.IsTruncated).toBe(true);
    const root = await client.send(new ListObjectsV2Command({ Bucket: "default", Delimiter: "/" }));
    expect(root.CommonPrefixes!.map((p) => p.Prefix)).toContain("releases/");
    expect(root.CommonPrefixes!.some((p) => p.Prefix!.startsWith(".dg"))).toBe(false);
  });

  it("CopyObject copies a delta version to another deltaspace byte-exact", async () => {
    const copy = await client.send(new CopyObjectCommand({ Bucket: "default", Key: "archive/app-1.0.1.zip", CopySource: `default/${keys[1]}` }));
    expect(copy.CopyObjectResult!.ETag).toBe(`"${md5(v2)}"`);
    expect((await getBytes("default", "archive/app-1.0.1.zip")).equals(v2)).toBe(true);
    const head = await client.send(new HeadObjectCommand({ Bucket: "default", Key: "archive/app-1.0.1.zip" }));
    expect(head.Metadata).toEqual({ build: "2" });
  });

  it("errors arrive as the SDK's typed S3 exceptions", async () => {
    await expect(client.send(new GetObjectCommand({ Bucket: "default", Key: "releases/none.zip" }))).rejects.toMatchObject({ name: "NoSuchKey" });
    await expect(client.send(new GetObjectCommand({ Bucket: "default", Key: keys[0], IfNoneMatch: `"${md5(v1)}"` }))).rejects.toMatchObject({ $metadata: { httpStatusCode: 304 } });
    await expect(client.send(new ListObjectsV2Command({ Bucket: "no-such-bucket-e2e" }))).rejects.toMatchObject({ name: "NoSuchBucket" });
  });

  it("DeleteObject and DeleteObjects remove everything; the listing is empty afterwards", async () => {
    await client.send(new DeleteObjectCommand({ Bucket: "default", Key: "archive/app-1.0.1.zip" }));
    const result = await client.send(new DeleteObjectsCommand({ Bucket: "default", Delete: { Objects: keys.map((Key) => ({ Key })) } }));
    expect(result.Deleted!.map((d) => d.Key).sort()).toEqual([...keys].sort());
    expect(result.Errors ?? []).toEqual([]);
    const listed = await client.send(new ListObjectsV2Command({ Bucket: "default" }));
    expect(listed.KeyCount).toBe(0);
  });
});

describe("bucket operations through @aws-sdk/client-s3", () => {
  const bucket = "s3t-k3j9x0q1w2e4r5t6y7u8i9o0p-17";

  it("CreateBucket, HeadBucket, ListBuckets, location, ACLs, DeleteBucket", async () => {
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
    await client.send(new HeadBucketCommand({ Bucket: bucket }));
    const buckets = await client.send(new ListBucketsCommand({}));
    expect(buckets.Buckets!.map((b) => b.Name)).toEqual(expect.arrayContaining(["default", bucket]));
    const location = await client.send(new GetBucketLocationCommand({ Bucket: bucket }));
    expect(location.LocationConstraint ?? "").toBe("");
    const acl = await client.send(new GetBucketAclCommand({ Bucket: bucket }));
    expect(acl.Grants![0].Permission).toBe("FULL_CONTROL");

    await client.send(new PutObjectCommand({ Bucket: bucket, Key: "x/y.txt", Body: "hello" }));
    const objectAcl = await client.send(new GetObjectAclCommand({ Bucket: bucket, Key: "x/y.txt" }));
    expect(objectAcl.Grants![0].Permission).toBe("FULL_CONTROL");
    await expect(client.send(new DeleteBucketCommand({ Bucket: bucket }))).rejects.toMatchObject({ name: "BucketNotEmpty" });
    await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: "x/y.txt" }));
    await client.send(new DeleteBucketCommand({ Bucket: bucket }));
    await expect(client.send(new HeadBucketCommand({ Bucket: bucket }))).rejects.toMatchObject({ $metadata: { httpStatusCode: 404 } });
  });

  it("PutBucketAcl / PutObjectAcl: the private ACL (canned, or the owner's grants sent back) is accepted, public-read refused", async () => {
    await client.send(new PutObjectCommand({ Bucket: "default", Key: "acl-e2e/a.txt", Body: "hello", ACL: "private" }));
    await client.send(new PutBucketAclCommand({ Bucket: "default", ACL: "private" }));
    await client.send(new PutObjectAclCommand({ Bucket: "default", Key: "acl-e2e/a.txt", ACL: "bucket-owner-full-control" }));
    const current = await client.send(new GetObjectAclCommand({ Bucket: "default", Key: "acl-e2e/a.txt" }));
    await client.send(new PutObjectAclCommand({
      Bucket: "default", Key: "acl-e2e/a.txt", AccessControlPolicy: { Owner: current.Owner, Grants: current.Grants },
    }));
    await expect(client.send(new PutObjectAclCommand({ Bucket: "default", Key: "acl-e2e/a.txt", ACL: "public-read" })))
      .rejects.toMatchObject({ name: "AccessControlListNotSupported", $metadata: { httpStatusCode: 400 } });
    await expect(client.send(new PutObjectCommand({ Bucket: "default", Key: "acl-e2e/b.txt", Body: "x", ACL: "public-read" })))
      .rejects.toMatchObject({ name: "AccessControlListNotSupported" });
    await client.send(new DeleteObjectCommand({ Bucket: "default", Key: "acl-e2e/a.txt" }));
  });

  it("an invalid bucket name is InvalidBucketName", async () => {
    await expect(client.send(new CreateBucketCommand({ Bucket: "Invalid_Bucket" }))).rejects.toMatchObject({ name: "InvalidBucketName" });
  });
});
