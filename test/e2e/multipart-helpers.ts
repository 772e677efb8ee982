// Shared by the multipart e2e tests and bench/multipart-memory.ts: a wrangler dev worker on its own ports and
// persist dir, signed raw requests, and versioned artifacts generated deterministically.
import { createHash } from "node:crypto";
import { execFileSync } from "node:child_process";
import { appendFileSync, mkdirSync, mkdtempSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { S3Client } from "@aws-sdk/client-s3";
import { AwsClient } from "aws4fetch";
import { LocalWorker } from "../../bench/worker";
import { localWorkerClient } from "./support/sdk";
import { fillRandomWords } from "../fixtures/random";

export const ROOT = resolve(import.meta.dirname, "../..");
export const CREDENTIALS = { accessKeyId: "deltaglider", secretAccessKey: "deltaglider-secret" };
export const REGION = "us-east-1";
export const MB = 1_000_000;
export const MiB = 1024 * 1024;

/**
 * wrangler dev on its own ports and a fresh persist dir, running a snapshot of the committed Worker (git HEAD):
 * wrangler reloads on every source change, and other work in this tree must not restart it mid-test.
 * Its output goes to `<persist dir>.log` for post-mortems.
 */
export function startWorker(port: number, inspectorPort: number, vars: Record<string, string> = {}): LocalWorker {
  const persistTo = mkdtempSync(join(tmpdir(), "dg-multipart-"));
  return new LocalWorker({
    root: snapshotOfHead(`${persistTo}-worker`), port, inspectorPort, persistTo,
    vars: { DG_DEV_CREDENTIALS: "true", ...vars },
    logFile: (text) => appendFileSync(`${persistTo}.log`, text),
  });
}

function snapshotOfHead(dir: string): string {
  mkdirSync(dir, { recursive: true });
  const archive = execFileSync("git", ["archive", "--format=tar", "HEAD", "src", "wasm", "wrangler.toml", "package.json", "tsconfig.json"], { cwd: ROOT, maxBuffer: 256 * MiB });
  execFileSync("tar", ["-x", "-C", dir], { input: archive });
  symlinkSync(join(ROOT, "node_modules"), join(dir, "node_modules"));
  return dir;
}

export function sdkClient(endpoint: string): S3Client {
  return localWorkerClient(endpoint, { region: REGION, credentials: CREDENTIALS });
}

/** Signed raw requests, for headers the SDK does not surface (x-amz-storage-type). */
export function rawClient(): AwsClient {
  return new AwsClient({ ...CREDENTIALS, service: "s3", region: REGION });
}

/** Deterministic pseudo-random bytes, four per generator step (the last size % 4 bytes are zero). */
export function randomBytes(size: number, seed: number): Buffer {
  const out = Buffer.alloc(size);
  fillRandomWords(out, seed);
  return out;
}

/**
 * Version n+1 of an artifact: a few regions rewritten and a small block inserted (so later bytes shift),
 * the way a rebuilt archive differs from the previous build.
 */
export function nextVersion(previous: Buffer, seed: number): Buffer {
  const out = Buffer.from(previous);
  const noise = randomBytes(64 * 1024, seed);
  for (let i = 0; i < 12; i++) noise.copy(out, Math.floor(((i + 1) * out.length) / 14), i * 4096, i * 4096 + 4096);
  const at = Math.floor(out.length / 3);
  return Buffer.concat([out.subarray(0, at), noise.subarray(0, 8192), out.subarray(at, out.length - 8192)]);
}

export function md5(data: Uint8Array): string {
  return createHash("md5").update(data).digest("hex");
}

export async function md5OfStream(stream: AsyncIterable<Uint8Array>): Promise<{ md5: string; size: number }> {
  const hash = createHash("md5");
  let size = 0;
  for await (const chunk of stream) {
    hash.update(chunk);
    size += chunk.byteLength;
  }
  return { md5: hash.digest("hex"), size };
}

/** S3's multipart ETag for `data` cut into `partSize` parts. */
export function multipartEtagOf(data: Uint8Array, partSize: number): string {
  const md5s: Buffer[] = [];
  for (let at = 0; at < data.byteLength; at += partSize) {
    md5s.push(createHash("md5").update(data.subarray(at, at + partSize)).digest());
  }
  return `${createHash("md5").update(Buffer.concat(md5s)).digest("hex")}-${md5s.length}`;
}
