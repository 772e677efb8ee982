// Multipart uploads end to end: `wrangler dev` driven by @aws-sdk/lib-storage's Upload and by aws-cli, with
// versioned artifacts of 40 MB and 200 MB (three versions each into one deltaspace).
import { execFile } from "node:child_process";
import { mkdtempSync, writeFileSync, createReadStream, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LocalWorker } from "../../bench/worker";
import {
  CREDENTIALS, MB, MiB, md5, md5OfStream, multipartEtagOf, nextVersion, randomBytes, rawClient, REGION, sdkClient,
  startWorker,
} from "./multipart-helpers";
import { AWS_CLI, awsCliEnv } from "./support/aws-cli";

const PORT = 8830;
const INSPECTOR_PORT = 9330;
const BUCKET = "default";
const run = promisify(execFile);

let worker: LocalWorker;
let client: S3Client;
const workDir = mkdtempSync(join(tmpdir(), "dg-mp-e2e-"));

beforeAll(async () => {
  // 200 MB artifacts are above the engine's default delta ceiling (100 MiB); raise it for these tests.
  worker = startWorker(PORT, INSPECTOR_PORT, { DG_MAX_DELTA_OBJECT_SIZE: String(512 * MiB) });
  await worker.start();
  client = sdkClient(worker.endpoint);
});

afterAll(async () => {
  client?.destroy();
  await worker?.stop();
  rmSync(workDir, { recursive: true, force: true });
});

function versions(size: number, seed: number): Buffer[] {
  const v1 = randomBytes(size, seed);
  const v2 = nextVersion(v1, seed + 1);
  return [v1, v2, nextVersion(v2, seed + 2)];
}

async function storageType(key: string): Promise<string | null> {
  const url = `${worker.endpoint}/${BUCKET}/${key}`;
  const response = await rawClient().fetch(url, { method: "HEAD" });
  expect(response.status).toBe(200);
  return response.headers.get("x-amz-storage-type");
}

async function downloadMd5(key: string): Promise<{ md5: string; size: number; etag?: string }> {
  const got = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
  const digest = await md5OfStream(got.Body as AsyncIterable<Uint8Array>);
  return { ...digest, etag: got.ETag };
}

function aws(args: string[]) {
  return run(AWS_CLI!.path, ["--endpoint-url", worker.endpoint, ...args], {
    env: awsCliEnv({ AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey, AWS_DEFAULT_REGION: REGION }),
    maxBuffer: 16 * MiB,
  });
}

describe.each([
  { label: "40 MB", size: 40 * MB, seed: 40 },
  { label: "200 MB", size: 200 * MB, seed: 200 },
])("@aws-sdk/lib-storage Upload of three $label versions", ({ label, size, seed }) => {
  const prefix = `sdk-${size / MB}mb`;
  const partSize = 8 * MiB;

  it(`stores versions 2 and 3 of a ${label} artifact as deltas and downloads all three byte-exact`, { timeout: 3_600_000 }, async () => {
    const artifacts = versions(size, seed);
    for (const [i, data] of artifacts.entries()) {
      const key = `${prefix}/app-1.${i}.zip`;
      const upload = new Upload({ client, partSize, queueSize: 4, params: { Bucket: BUCKET, Key: key, Body: data, ContentType: "application/zip" } });
      const done = await upload.done();
      expect(done.ETag).toBe(`"${multipartEtagOf(data, partSize)}"`);
    }
    for (const [i, data] of artifacts.entries()) {
      const key = `${prefix}/app-1.${i}.zip`;
      const head = await client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }));
      expect([head.ContentLength, head.ETag, head.ContentType]).toEqual([data.byteLength, `"${multipartEtagOf(data, partSize)}"`, "application/zip"]);
      if (i > 0) expect(await storageType(key)).toBe("Delta");
      const got = await downloadMd5(key);
      expect([got.size, got.md5, got.etag]).toEqual([data.byteLength, md5(data), head.ETag]);
    }
    const listed = await client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: `${prefix}/` }));
    expect(listed.Contents?.map((c) => [c.Key, c.Size, c.ETag])).toEqual(
      artifacts.map((data, i) => [`${prefix}/app-1.${i}.zip`, data.byteLength, `"${multipartEtagOf(data, partSize)}"`]),
    );
  });
});

describe.runIf(!!AWS_CLI)("aws-cli (aws s3 cp) multipart", () => {
  it.each([
    { label: "40 MB", size: 40 * MB, seed: 41 },
    { label: "200 MB", size: 200 * MB, seed: 201 },
  ])("uploads three $label versions (v2, v3 as deltas) and downloads them byte-exact", { timeout: 3_600_000 }, async ({ size, seed }) => {
    const prefix = `cli-${size / MB}mb`;
    const artifacts = versions(size, seed);
    for (const [i, data] of artifacts.entries()) {
      const file = join(workDir, `up-${size}-${i}.zip`);
      writeFileSync(file, data);
      await aws(["s3", "cp", file, `s3://${BUCKET}/${prefix}/build-${i}.zip`]);
      rmSync(file);
    }
    for (const [i, data] of artifacts.entries()) {
      const key = `${prefix}/build-${i}.zip`;
      if (i > 0) expect(await storageType(key)).toBe("Delta");
      const file = join(workDir, `down-${size}-${i}.zip`);
      await aws(["s3", "cp", `s3://${BUCKET}/${key}`, file]);
      const got = await md5OfStream(createReadStream(file));
      rmSync(file);
      expect([got.size, got.md5]).toEqual([data.byteLength, md5(data)]);
      // aws-cli cuts 8 MiB parts above its 8 MiB threshold: the ETag is S3's multipart form.
      const head = await client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }));
      expect(head.ETag).toBe(`"${multipartEtagOf(data, 8 * MiB)}"`);
    }
  });

  // Two sources: a Direct object (plain bytes) and a Delta object (each part range is rebuilt through the codec).
  it.each([
    { label: "Direct", source: "copy-src/firmware.bin", seed: 77 },
    { label: "Delta", source: "copy-src/app-2.zip", seed: 78 },
  ])("copies a 40 MB $label object bucket-side with UploadPartCopy (aws s3 cp s3://… s3://…)", async ({ source, seed }) => {
    const [v1, v2] = versions(40 * MB, seed);
    const file = join(workDir, "copy-src");
    if (source.endsWith(".zip")) {
      await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: "copy-src/app-1.zip", Body: v1 }));
    }
    writeFileSync(file, v2);
    await aws(["s3", "cp", file, `s3://${BUCKET}/${source}`]);
    rmSync(file);
    const target = source.replace("copy-src/", "copy-dst/");
    const { stderr } = await aws(["s3", "cp", `s3://${BUCKET}/${source}`, `s3://${BUCKET}/${target}`, "--copy-props", "metadata-directive", "--debug"]);
    // The CLI's debug log names each API call it made: a multipart copy, not a single CopyObject.
    // (`--copy-props metadata-directive`: the default also copies tags via GetObjectTagging, a protocol-layer op.)
    expect(stderr).toMatch(/UploadPartCopy/);
    expect(stderr).toMatch(/CompleteMultipartUpload/);
    const got = await downloadMd5(target);
    expect([got.size, got.md5]).toEqual([v2.byteLength, md5(v2)]);
    expect(got.etag).toBe(`"${multipartEtagOf(v2, 8 * MiB)}"`);
  });
});
