// Memory proof for CompleteMultipartUpload of a 1 GiB delta-eligible object (issue 5): the Worker runs under
// `wrangler dev` (git HEAD snapshot, bench/worker-entry.ts for WASM accounting), a client uploads 16 × 64 MiB
// parts, and while Complete runs the isolate's JS heap + ArrayBuffer backing stores are sampled through the
// inspector (Runtime.getHeapUsage) and the WASM linear memory peak is read from /_/ops.
// Two completions: v1 seeds the empty deltaspace (becomes reference.bin), v2 is delta-encoded against it.
//
//   npm run bench:multipart              print the results
//   npm run bench:multipart -- --docs    also write them into docs/PERFORMANCE.md ("## Multipart")
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import {
  CompleteMultipartUploadCommand, CreateMultipartUploadCommand, GetObjectCommand, S3Client, UploadPartCommand,
} from "@aws-sdk/client-s3";
import { AwsClient } from "aws4fetch";
import { Inspector, type HeapUsage } from "./inspector";
import { cpuMs, LocalWorker } from "./worker";

const ROOT = resolve(import.meta.dirname, "..");
const MiB = 1024 * 1024;
const PART_SIZE = 64 * MiB;
const PARTS = 16; // 1 GiB
const PORT = 8832;
const INSPECTOR_PORT = 9332;
const BUDGET = 64 * MiB; // docs/ARCHITECTURE.md, "Multipart"
const CREDENTIALS = { accessKeyId: "deltaglider", secretAccessKey: "deltaglider-secret" };

/** Part `n` of version `version`: v1 is pseudo-random; v2 rewrites 4 KiB in every other part. */
function partBytes(n: number, version: number): Buffer {
  const out = Buffer.alloc(PART_SIZE);
  const words = new Uint32Array(out.buffer, out.byteOffset, PART_SIZE / 4);
  let x = (n * 2654435761) >>> 0 || 1;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    words[i] = x;
  }
  if (version > 1 && n % 2 === 0) out.fill(version, PART_SIZE / 2, PART_SIZE / 2 + 4096);
  return out;
}

interface Completion {
  label: string;
  wallS: number;
  workerdCpuS: number;
  peak?: HeapUsage;
  wasmPeakBytes?: number;
  storageType: string | null;
  verified: boolean;
}

async function uploadAndComplete(
  client: S3Client, worker: LocalWorker, inspector: Inspector, key: string, version: number,
): Promise<Completion> {
  const created = await client.send(new CreateMultipartUploadCommand({ Bucket: "default", Key: key }));
  const uploadId = created.UploadId!;
  const parts: { PartNumber: number; ETag: string }[] = [];
  const whole = createHash("md5");
  for (let n = 1; n <= PARTS; n++) {
    const body = partBytes(n, version);
    whole.update(body);
    const sent = await client.send(new UploadPartCommand({ Bucket: "default", Key: key, UploadId: uploadId, PartNumber: n, Body: body }));
    parts.push({ PartNumber: n, ETag: sent.ETag! });
  }
  await readOps(worker); // resets the WASM peak window
  const pid = worker.workerdPid();
  const cpuBefore = pid ? cpuMs(pid) : NaN;
  const start = performance.now();
  const { peak } = await inspector.sampleDuring(
    () => client.send(new CompleteMultipartUploadCommand({ Bucket: "default", Key: key, UploadId: uploadId, MultipartUpload: { Parts: parts } })),
    100,
  );
  const wallS = (performance.now() - start) / 1000;
  const workerdCpuS = pid ? (cpuMs(pid) - cpuBefore) / 1000 : NaN;
  const ops = await readOps(worker);
  const head = await new AwsClient({ ...CREDENTIALS, service: "s3", region: "us-east-1" })
    .fetch(`${worker.endpoint}/default/${key}`, { method: "HEAD" });
  const got = await client.send(new GetObjectCommand({ Bucket: "default", Key: key }));
  const back = createHash("md5");
  for await (const chunk of got.Body as AsyncIterable<Uint8Array>) back.update(chunk);
  return {
    label: version === 1 ? "v1: seeds the empty deltaspace (reference)" : "v2: delta against the 1 GiB reference",
    wallS, workerdCpuS, peak, wasmPeakBytes: ops?.wasmPeakBytes, storageType: head.headers.get("x-amz-storage-type"),
    verified: back.digest("hex") === whole.digest("hex"),
  };
}

async function readOps(worker: LocalWorker): Promise<Record<string, number> | null> {
  try {
    const res = await fetch(`${worker.endpoint}/_/ops`, { signal: AbortSignal.timeout(600_000) });
    return res.ok ? ((await res.json()) as Record<string, number>) : null;
  } catch (error) {
    console.error("/_/ops not answered:", error);
    return null;
  }
}

/** The committed Worker in a directory of its own, so edits in the shared tree do not reload it mid-run. */
function snapshotOfHead(parent: string): { dir: string; commit: string } {
  const dir = join(parent, "worker");
  mkdirSync(dir, { recursive: true });
  const archive = execFileSync("git", ["archive", "--format=tar", "HEAD", "src", "wasm", "bench/worker-entry.ts", "wrangler.toml", "package.json", "tsconfig.json"], { cwd: ROOT, maxBuffer: 256 * MiB });
  execFileSync("tar", ["-x", "-C", dir], { input: archive });
  symlinkSync(join(ROOT, "node_modules"), join(dir, "node_modules"));
  const commit = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: ROOT }).toString().trim();
  return { dir, commit };
}

function render(results: Completion[], commit: string): string {
  const mib = (n: number | undefined) => (n === undefined ? "n/a" : (n / MiB).toFixed(1));
  const lines = [
    `Run: ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC, commit ${commit}, ${cpus()[0]?.model ?? "cpu"} × ${cpus().length}, ` +
      `Node ${process.version}, wrangler dev (local workerd). \`npm run bench:multipart\` (bench/multipart-memory.ts).`,
    "",
    `CompleteMultipartUpload of a 1 GiB \`.zip\` uploaded as ${PARTS} × 64 MiB parts. Heap = JS heap used + ArrayBuffer`,
    "backing stores (inspector `Runtime.getHeapUsage`, sampled every 100 ms during Complete, an upper bound since",
    "garbage is included); WASM = largest codec linear memory (bench/worker-entry.ts). Budget 64 MiB each.",
    "",
    "| completion | stored as | wall s | workerd CPU s | peak heap used MiB | peak ArrayBuffers MiB | heap+buffers MiB | WASM MiB | within budget | GET byte-exact |",
    "|---|---|---|---|---|---|---|---|---|---|",
  ];
  for (const r of results) {
    const total = r.peak ? r.peak.usedSize + r.peak.backingStorageSize : undefined;
    const within = total !== undefined && total <= BUDGET && (r.wasmPeakBytes ?? 0) <= BUDGET;
    lines.push(`| ${r.label} | ${r.storageType} | ${r.wallS.toFixed(1)} | ${r.workerdCpuS.toFixed(1)} | ${mib(r.peak?.usedSize)} | ${mib(r.peak?.backingStorageSize)} | ${mib(total)} | ${mib(r.wasmPeakBytes)} | ${within ? "yes" : "NO"} | ${r.verified ? "yes" : "NO"} |`);
  }
  return lines.join("\n");
}

function writeSection(file: string, heading: string, body: string): void {
  const text = readFileSync(file, "utf8");
  const start = text.indexOf(`${heading}\n`);
  if (start < 0) throw new Error(`${file} has no "${heading}" section`);
  const next = text.indexOf("\n## ", start + heading.length);
  const end = next < 0 ? text.length : next + 1;
  writeFileSync(file, `${text.slice(0, start)}${heading}\n\n${body}\n\n${text.slice(end)}`.replace(/\n{3,}$/, "\n"));
}

async function main(): Promise<void> {
  const scratch = mkdtempSync(join(tmpdir(), "dg-bench-mpu-"));
  const { dir, commit } = snapshotOfHead(scratch);
  const worker = new LocalWorker({
    root: dir, port: PORT, inspectorPort: INSPECTOR_PORT, persistTo: join(scratch, "state"), script: "bench/worker-entry.ts",
    vars: { DG_DEV_CREDENTIALS: "true", DG_MAX_DELTA_OBJECT_SIZE: String(2 * 1024 * MiB) },
  });
  await worker.start();
  const inspector = await Inspector.connect(INSPECTOR_PORT);
  const client = new S3Client({ endpoint: worker.endpoint, region: "us-east-1", credentials: CREDENTIALS, forcePathStyle: true });
  try {
    const results: Completion[] = [];
    for (const version of [1, 2]) {
      const result = await uploadAndComplete(client, worker, inspector, `bench-mpu/app-${version}.zip`, version);
      console.log(JSON.stringify(result));
      results.push(result);
    }
    const markdown = render(results, commit);
    console.log(`\n${markdown}`);
    if (process.argv.includes("--docs")) writeSection(join(ROOT, "docs", "PERFORMANCE.md"), "## Multipart", markdown);
  } finally {
    client.destroy();
    inspector.close();
    await worker.stop();
    rmSync(scratch, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
