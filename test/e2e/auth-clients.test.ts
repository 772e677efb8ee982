// End to end against `wrangler dev`: real clients (the latest @aws-sdk/client-s3 with its default checksum
// behaviour, @aws-sdk/s3-request-presigner with plain fetch, aws-cli when installed) signing real requests.
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CORS_ORIGIN, DEV, READ_ONLY, startWrangler, type DevServer } from "./auth-support";
import { AWS_CLI, awsCliEnv } from "./support/aws-cli";
import { localWorkerClient } from "./support/sdk";
import { randomBytes } from "../fixtures/random";

const BUCKET = "default";
let server: DevServer;

beforeAll(async () => {
  server = await startWrangler(8802);
}, 90_000);
afterAll(async () => server?.stop());

function client(credentials = DEV): { s3: S3Client; sent: Array<Record<string, string>> } {
  const s3 = localWorkerClient(server.endpoint, { credentials });
  const sent: Array<Record<string, string>> = [];
  s3.middlewareStack.add((next) => async (args) => {
    const request = args.request as { headers: Record<string, string> };
    sent.push({ ...request.headers });
    return next(args);
  }, { step: "finalizeRequest", priority: "low", name: "recordHeaders" });
  return { s3, sent };
}

function payload(size: number, seed: number): Buffer {
  return Buffer.from(randomBytes(size, seed).buffer);
}

function crc32Base64(data: Buffer): string {
  let crc = 0xffffffff;
  for (const byte of data) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = (crc >>> 1) ^ (0xedb88320 & -(crc & 1));
  }
  const out = Buffer.alloc(4);
  out.writeUInt32BE((crc ^ 0xffffffff) >>> 0);
  return out.toString("base64");
}

async function bodyOf(response: { Body?: unknown }): Promise<Buffer> {
  const body = response.Body as { transformToByteArray(): Promise<Uint8Array> };
  return Buffer.from(await body.transformToByteArray());
}

describe("@aws-sdk/client-s3 (default checksums on)", () => {
  it("a streamed PutObject goes as aws-chunked with a CRC32 trailer, is verified, and reads back with its checksum", async () => {
    const { s3, sent } = client();
    const data = payload(300_000, 7);
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: "auth-e2e/streamed.bin", Body: Readable.from([data]), ContentLength: data.length }));
    const put = sent.at(-1)!;
    expect(put["x-amz-content-sha256"]).toMatch(/^STREAMING-.*TRAILER$/);
    expect(put["x-amz-trailer"]).toBe("x-amz-checksum-crc32");
    expect(put["x-amz-decoded-content-length"]).toBe(String(data.length));

    const got = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: "auth-e2e/streamed.bin", ChecksumMode: "ENABLED" }));
    expect((await bodyOf(got)).equals(data)).toBe(true);
    expect(got.ChecksumCRC32).toBe(crc32Base64(data));
  });

  it("a buffered PutObject (checksum in a header) round-trips", async () => {
    const { s3 } = client();
    const data = payload(50_000, 11);
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: "auth-e2e/buffered.bin", Body: data }));
    const got = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: "auth-e2e/buffered.bin" }));
    expect((await bodyOf(got)).equals(data)).toBe(true);
  });

  it("a wrong secret is refused with SignatureDoesNotMatch", async () => {
    const { s3 } = client({ accessKeyId: DEV.accessKeyId, secretAccessKey: "wrong-secret" });
    await expect(s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: "auth-e2e/buffered.bin" }))).rejects.toMatchObject({ name: "SignatureDoesNotMatch" });
  });

  it("a read-only key cannot write: AccessDenied, and nothing is stored", async () => {
    const { s3 } = client(READ_ONLY);
    await expect(s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: "auth-e2e/readonly.bin", Body: payload(1000, 3) }))).rejects.toMatchObject({ name: "AccessDenied" });
    await expect(client().s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: "auth-e2e/readonly.bin" }))).rejects.toMatchObject({ $metadata: { httpStatusCode: 404 } });
    const read = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: "auth-e2e/buffered.bin" }));
    expect((await bodyOf(read)).length).toBe(50_000);
  });
});

describe("@aws-sdk/s3-request-presigner with plain fetch", () => {
  it("presigned PUT then presigned GET move the exact bytes", async () => {
    const { s3 } = client();
    const data = payload(120_000, 5);
    const putUrl = await getSignedUrl(s3, new PutObjectCommand({ Bucket: BUCKET, Key: "auth-e2e/presigned.bin" }), { expiresIn: 300 });
    const put = await fetch(putUrl, { method: "PUT", body: new Uint8Array(data) });
    expect(put.status, await put.clone().text()).toBe(200);
    const getUrl = await getSignedUrl(s3, new GetObjectCommand({ Bucket: BUCKET, Key: "auth-e2e/presigned.bin" }), { expiresIn: 300 });
    const get = await fetch(getUrl);
    expect(get.status).toBe(200);
    expect(Buffer.from(await get.arrayBuffer()).equals(data)).toBe(true);
  });

  it("an expired presigned URL is refused with AccessDenied 'Request has expired'", async () => {
    const { s3 } = client();
    const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket: BUCKET, Key: "auth-e2e/presigned.bin" }), { expiresIn: 1 });
    await new Promise((r) => setTimeout(r, 2100));
    const response = await fetch(url);
    expect(response.status).toBe(403);
    const text = await response.text();
    expect(text).toContain("<Code>AccessDenied</Code>");
    expect(text).toContain("Request has expired");
  });

  it("a presigned URL with an altered signature is refused with SignatureDoesNotMatch", async () => {
    const { s3 } = client();
    const url = new URL(await getSignedUrl(s3, new GetObjectCommand({ Bucket: BUCKET, Key: "auth-e2e/presigned.bin" }), { expiresIn: 300 }));
    const sig = url.searchParams.get("X-Amz-Signature")!;
    url.searchParams.set("X-Amz-Signature", (sig[0] === "0" ? "1" : "0") + sig.slice(1));
    const response = await fetch(url);
    expect(response.status).toBe(403);
    expect(await response.text()).toContain("<Code>SignatureDoesNotMatch</Code>");
  });
});

describe("unauthenticated and browser requests", () => {
  it("an unsigned GET or PUT is refused with AccessDenied", async () => {
    expect((await fetch(`${server.endpoint}/${BUCKET}/auth-e2e/buffered.bin`)).status).toBe(403);
    const put = await fetch(`${server.endpoint}/${BUCKET}/auth-e2e/anon.bin`, { method: "PUT", body: "x" });
    expect(put.status).toBe(403);
    expect(await put.text()).toContain("<Code>AccessDenied</Code>");
  });

  it("a CORS preflight from the configured origin is answered, and responses carry Allow-Origin", async () => {
    const preflight = await fetch(`${server.endpoint}/${BUCKET}/auth-e2e/presigned.bin`, {
      method: "OPTIONS",
      headers: { origin: CORS_ORIGIN, "access-control-request-method": "PUT", "access-control-request-headers": "content-type" },
    });
    expect(preflight.status).toBe(200);
    expect(preflight.headers.get("access-control-allow-origin")).toBe(CORS_ORIGIN);
    const denied = await fetch(`${server.endpoint}/${BUCKET}/x`, { method: "OPTIONS", headers: { origin: "https://evil.example", "access-control-request-method": "GET" } });
    expect(denied.status).toBe(403);
  });
});

const awsCli = AWS_CLI?.path;

describe.skipIf(!awsCli)("aws-cli", () => {
  it("aws s3 cp uploads and downloads the exact bytes with the dev key", () => {
    const dir = mkdtempSync(join(tmpdir(), "dg-awscli-"));
    const data = payload(2_000_000, 9);
    writeFileSync(join(dir, "up.bin"), data);
    const env = awsCliEnv({ AWS_ACCESS_KEY_ID: DEV.accessKeyId, AWS_SECRET_ACCESS_KEY: DEV.secretAccessKey });
    const run = (...args: string[]) => execFileSync(awsCli!, ["--endpoint-url", server.endpoint, ...args], { env, encoding: "utf8" });
    run("s3", "cp", join(dir, "up.bin"), `s3://${BUCKET}/auth-e2e/cli.bin`);
    run("s3", "cp", `s3://${BUCKET}/auth-e2e/cli.bin`, join(dir, "down.bin"));
    expect(readFileSync(join(dir, "down.bin")).equals(data)).toBe(true);
  });
});
