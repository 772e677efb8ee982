#!/usr/bin/env node
// `npm run demo`: the 30-second demo of the README, against a running proxy (`npm start` in another terminal).
// Uploads two builds of a release artifact with the AWS SDK, as any S3 client would, reads the second back and
// checks it byte for byte, then prints what the proxy stored and saved, from GET /_/stats (signed with SigV4 by
// the same key). DG_ENDPOINT (default http://127.0.0.1:8787), AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (default:
// the local dev key) and DG_DEMO_BUCKET (default `default`) point it elsewhere.
import { GetObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { AwsClient } from "aws4fetch";
import { createHash } from "node:crypto";

// The SDK's notice that its releases after January 2027 need Node 22 says nothing about this pinned version.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
const endpoint = process.env.DG_ENDPOINT ?? "http://127.0.0.1:8787";
const bucket = process.env.DG_DEMO_BUCKET ?? "default";
const credentials = {
  accessKeyId: process.env.AWS_ACCESS_KEY_ID ?? "deltaglider",
  secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY ?? "deltaglider-secret",
};
const DELTASPACE = "demo/releases";
const MiB = 1024 * 1024;

const s3 = new S3Client({ endpoint, region: "us-east-1", forcePathStyle: true, credentials });
const signer = new AwsClient({ ...credentials, service: "s3", region: "us-east-1" });

/** Build 1.0.0 of an app: 8 MiB that compress no further (like a zip), from a fixed seed so every run is alike. */
function firstBuild() {
  const bytes = new Uint8Array(8 * MiB);
  let x = 0x9e3779b9;
  for (let i = 0; i < bytes.length; i++) {
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
    bytes[i] = x & 0xff;
  }
  return bytes;
}

/** Build 1.0.1: a few patched places and a new 64 KiB file appended, as a patch release looks. */
function nextBuild(previous) {
  const next = new Uint8Array(previous.length + 64 * 1024);
  next.set(previous);
  for (let i = 0; i < 40; i++) next[(i * 209_715 + 1234) % previous.length] ^= 0xa5;
  for (let i = previous.length; i < next.length; i++) next[i] = (i * 31) & 0xff;
  return next;
}

const sha256 = (bytes) => createHash("sha256").update(bytes).digest("hex");

function size(n) {
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB"];
  let v = n, i = -1;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return `${v.toFixed(v >= 100 ? 0 : v >= 10 ? 1 : 2)} ${units[i]}`;
}

/** x-amz-storage-type of the last answer: how the proxy stored the object (the SDK keeps no unknown header). */
let lastStorageType = "?";
s3.middlewareStack.add((next) => async (args) => {
  const result = await next(args);
  lastStorageType = result.response?.headers?.["x-amz-storage-type"] ?? "?";
  return result;
}, { step: "deserialize", name: "storageTypeHeader" });

async function upload(key, body) {
  const started = Date.now();
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
  console.log(`  PUT ${key.padEnd(28)} ${size(body.length).padStart(9)}  → stored as ${lastStorageType} (${Date.now() - started} ms)`);
}

/** The deltaspace's row of GET /_/stats?bucket=…, once the running totals count both uploads. */
async function deltaspaceStats(objects) {
  const url = `${endpoint}/_/stats?bucket=${encodeURIComponent(bucket)}`;
  for (let attempt = 0; ; attempt++) {
    const response = await signer.fetch(url);
    if (!response.ok) throw new Error(`GET /_/stats answered ${response.status}: ${await response.text()}`);
    const stats = await response.json();
    const row = (stats.deltaspaces ?? []).find((d) => d.deltaspace === DELTASPACE);
    if ((row && row.objects >= objects) || attempt === 50) return { stats, row };
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function main() {
  const v1 = firstBuild();
  const v2 = nextBuild(v1);
  console.log(`DeltaGlider demo against ${endpoint}, bucket ${bucket}\n`);
  await upload(`${DELTASPACE}/app-1.0.0.zip`, v1);
  await upload(`${DELTASPACE}/app-1.0.1.zip`, v2);

  const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: `${DELTASPACE}/app-1.0.1.zip` }));
  const back = await got.Body.transformToByteArray();
  const exact = sha256(back) === sha256(v2);
  console.log(`  GET ${`${DELTASPACE}/app-1.0.1.zip`.padEnd(28)} ${size(back.length).padStart(9)}  → ${exact ? "byte-identical (SHA-256 matches)" : "DIFFERENT BYTES"}\n`);

  const { stats, row } = await deltaspaceStats(2);
  if (!row) throw new Error(`GET /_/stats lists no deltaspace ${DELTASPACE}`);
  console.log(`What the proxy stored for ${DELTASPACE}/ (from GET /_/stats):`);
  console.log(`  ${"reference.bin (the base)".padEnd(28)} ${size(row.referenceBytes).padStart(9)}`);
  for (const [name, body] of [["app-1.0.0.zip", v1], ["app-1.0.1.zip", v2]]) {
    const put = (stats.recent ?? []).find((r) => r.key === `${DELTASPACE}/${name}` && r.op === "put");
    const stored = put ? put.storedBytes : NaN;
    console.log(`  ${name.padEnd(28)} ${size(stored).padStart(9)}  (${(100 * stored / body.length).toPrecision(2)}% of ${size(body.length)})`);
  }
  console.log(`  ${"total".padEnd(28)} ${size(row.storedBytes).padStart(9)}  for ${size(row.logicalBytes)} uploaded: ` +
    `${row.savedPercent.toFixed(1)}% saved`);
  if (!exact) process.exitCode = 1;
}

main().catch((error) => {
  console.error(`demo failed: ${error.message}`);
  if (/ECONNREFUSED|fetch failed/.test(String(error.message) + String(error.cause ?? ""))) {
    console.error(`Is the proxy running? Start it with \`npm start\` (it listens on ${endpoint}).`);
  }
  process.exit(1);
});
