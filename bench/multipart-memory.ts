// Memory proof for CompleteMultipartUpload of a 1 GiB delta-eligible object (issue 5): the Worker runs under
// `wrangler dev` (git HEAD snapshot, bench/worker-entry.ts for WASM accounting), a client uploads 16 × 64 MiB
// parts, and while Complete runs the isolate's JS heap + ArrayBuffer backing stores are sampled through the
// inspector (Runtime.getHeapUsage) and the WASM linear memory peak is read from /_/ops. Heap + ArrayBuffers is
// reported twice: sampled through the inspector (bench/inspector.ts; upper bound, garbage included) and after
// every full GC from V8's GC trace (bench/gc-trace.ts; live memory, garbage excluded).
// Two completions: v1 seeds the empty deltaspace (becomes reference.bin), v2 is delta-encoded against it.
//
//   npm run bench:multipart              print the results
//   npm run bench:multipart -- --docs    also write them into docs/PERFORMANCE.md ("## Multipart")
//   options: --port N (HTTP; the inspector listens on N+1), --parts N (of 64 MiB; default 16 = 1 GiB),
//            (the live figure needs nothing else: V8 and the Worker's sampler run full GCs while Complete runs)
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { get as httpGet } from "node:http";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import {
  CompleteMultipartUploadCommand, CreateMultipartUploadCommand, GetObjectCommand, S3Client, UploadPartCommand,
} from "@aws-sdk/client-s3";
import { AwsClient } from "aws4fetch";
import { livePeak, parseGcTrace, type LivePeak, traceWorkerdGc } from "./gc-trace";
import { heapPlusBuffers, Inspector, type HeapUsage } from "./inspector";
import { cpuMs, LocalWorker } from "./worker";
import { fillRandomWords } from "../test/fixtures/random";

const ROOT = resolve(import.meta.dirname, "..");
const MiB = 1024 * 1024;
const PART_SIZE = 64 * MiB;

function option(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  if (at < 0) return fallback;
  const value = Number(process.argv[at + 1]);
  if (!Number.isInteger(value) || value < 0) throw new Error(`--${name} needs a non-negative integer`);
  return value;
}

const PARTS = option("parts", 16); // 16 × 64 MiB = 1 GiB
const PORT = option("port", 8832);
const INSPECTOR_PORT = PORT + 1;
const BUDGET = 64 * MiB; // docs/ARCHITECTURE.md, "Multipart": live heap + buffers + WASM
const CREDENTIALS = { accessKeyId: "deltaglider", secretAccessKey: "deltaglider-secret" };

/** Part `n` of version `version`: v1 is pseudo-random; v2 rewrites 4 KiB in every other part. */
function partBytes(n: number, version: number): Buffer {
  const out = Buffer.alloc(PART_SIZE);
  fillRandomWords(out, (n * 2654435761) >>> 0);
  if (version > 1 && n % 2 === 0) out.fill(version, PART_SIZE / 2, PART_SIZE / 2 + 4096);
  return out;
}

interface Completion {
  label: string;
  wallS: number;
  workerdCpuS: number;
  peak?: HeapUsage;
  samples: number;
  live: LivePeak;
  wasmPeakBytes?: number;
  storageType: string | null;
  verified: boolean;
}

async function uploadAndComplete(
  client: S3Client, worker: LocalWorker, inspector: Inspector, gcLog: string, key: string, version: number,
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
  const traceFrom = sizeOf(gcLog);
  const completing = inspector.sampleDuring(
    () => client.send(new CompleteMultipartUploadCommand({ Bucket: "default", Key: key, UploadId: uploadId, MultipartUpload: { Parts: parts } })),
    100,
  );
  const { peak, samples } = await completing;
  const wallS = (performance.now() - start) / 1000;
  const workerdCpuS = pid ? (cpuMs(pid) - cpuBefore) / 1000 : NaN;
  await new Promise((r) => setTimeout(r, 500)); // wrangler relays workerd's output asynchronously
  const live = livePeak(parseGcTrace(readSlice(gcLog, traceFrom)), workerIsolate(gcLog));
  const ops = await readOps(worker);
  const head = await new AwsClient({ ...CREDENTIALS, service: "s3", region: "us-east-1" })
    .fetch(`${worker.endpoint}/default/${key}`, { method: "HEAD" });
  const got = await client.send(new GetObjectCommand({ Bucket: "default", Key: key }));
  const back = createHash("md5");
  for await (const chunk of got.Body as AsyncIterable<Uint8Array>) back.update(chunk);
  return {
    label: version === 1 ? "v1: seeds the empty deltaspace (reference)" : "v2: delta against the v1 reference",
    wallS, workerdCpuS, peak, samples, live, wasmPeakBytes: ops?.wasmPeakBytes, storageType: head.headers.get("x-amz-storage-type"),
    verified: back.digest("hex") === whole.digest("hex"),
  };
}

async function readOps(worker: LocalWorker): Promise<Record<string, number> | null> {
  try {
    return JSON.parse(await freshGet(`${worker.endpoint}/_/ops`, 120_000)) as Record<string, number>;
  } catch (error) {
    console.error("/_/ops not answered:", error);
    return null;
  }
}

const sizeOf = (file: string) => (existsSync(file) ? statSync(file).size : 0);
/** The Worker's isolate: the one the bench's gc() call ran in (reason "testing"); the process has helper isolates. */
function workerIsolate(file: string): { pid: number; isolate: string } | null {
  const tagged = parseGcTrace(readSlice(file, 0)).find((p) => p.forced);
  return tagged ? { pid: tagged.pid, isolate: tagged.isolate } : null;
}
const readSlice = (file: string, from: number) => (existsSync(file) ? readFileSync(file).subarray(from).toString("utf8") : "");

/**
 * A GET on a connection of its own. fetch() reuses a pooled keep-alive connection; after the minutes the parts
 * take to upload, a request sent on it went unanswered until undici's 300 s headers timeout (seen twice).
 */
function freshGet(url: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = httpGet(url, { agent: false, timeout: timeoutMs }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (chunk) => (text += chunk));
      res.on("end", () => (res.statusCode && res.statusCode < 300 ? resolve(text) : reject(new Error(`${url}: ${res.statusCode}`))));
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error(`${url}: no answer in ${timeoutMs} ms`)));
    req.on("error", reject);
  });
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
  const size = PARTS * PART_SIZE >= 1024 * MiB ? `${(PARTS * PART_SIZE) / (1024 * MiB)} GiB` : `${(PARTS * PART_SIZE) / MiB} MiB`;
  const lines = [
    `Run: ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC, commit ${commit}, ${cpus()[0]?.model ?? "cpu"} × ${cpus().length}, ` +
      `Node ${process.version}, wrangler dev (local workerd). \`npm run bench:multipart\` (bench/multipart-memory.ts).`,
    "",
    `CompleteMultipartUpload of a ${size} \`.zip\` uploaded as ${PARTS} × 64 MiB parts. Heap + buffers = JS heap + ArrayBuffer`,
    "backing stores of the Worker's isolate, two ways:",
    "- *live* (garbage excluded): the largest heap + \"Backing store memory\" V8 printed after a full mark-compact",
    "  of the Worker's isolate during Complete (workerd run with `--trace-gc --trace-gc-verbose",
    "  --no-concurrent-array-buffer-sweeping`, bench/gc-trace.ts). V8 runs these itself (mostly \"external memory",
    "  pressure\") and the Worker runs one per 4 MiB its stream writers pass (BENCH_GC_EVERY_MIB), so this is a sample at each full GC,",
    "  not a continuous figure.",
    "- *sampled* (upper bound, garbage included): inspector `Runtime.getHeapUsage` every 100 ms, as before. workerd",
    "  answers the inspector late while a long request runs, so few samples come back (count in brackets).",
    "WASM = largest codec linear memory (bench/worker-entry.ts). Budget: live heap + buffers + WASM ≤ 64 MiB.",
    "",
    "| completion | stored as | wall s | workerd CPU s | live heap / buffers MiB | live heap + buffers MiB | full GCs | sampled heap + buffers MiB (upper bound) | WASM MiB | live + WASM MiB | ≤ 64 MiB | GET byte-exact |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|",
  ];
  for (const r of results) {
    const live = r.live.peak ? r.live.peak.heap + r.live.peak.buffers : undefined;
    const total = live === undefined ? undefined : live + (r.wasmPeakBytes ?? 0);
    lines.push(`| ${r.label} | ${r.storageType} | ${r.wallS.toFixed(1)} | ${r.workerdCpuS.toFixed(1)} | ` +
      `${mib(r.live.peak?.heap)} / ${mib(r.live.peak?.buffers)} | ${mib(live)} | ${r.live.fullGcs} | ` +
      `${mib(r.peak ? heapPlusBuffers(r.peak) : undefined)} (${r.samples}) | ${mib(r.wasmPeakBytes)} | ` +
      `${mib(total)} | ${total === undefined ? "n/a" : total <= BUDGET ? "yes" : "NO"} | ${r.verified ? "yes" : "NO"} |`);
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
  // V8 flags for the live figure (bench/v8-flags-hook.cjs puts them into wrangler's workerd config) and a copy
  // of workerd's output, where V8 prints its GC trace.
  const gcLog = join(scratch, "workerd-output.log");
  traceWorkerdGc(ROOT, gcLog);
  const worker = new LocalWorker({
    root: dir, port: PORT, inspectorPort: INSPECTOR_PORT, persistTo: join(scratch, "state"), script: "bench/worker-entry.ts",
    vars: { DG_DEV_CREDENTIALS: "true", DG_MAX_DELTA_OBJECT_SIZE: String(2 * 1024 * MiB), BENCH_GC_EVERY_MIB: "4" },
  });
  await worker.start();
  const inspector = await Inspector.connect(INSPECTOR_PORT);
  // One gc() while idle marks the Worker's isolate in the GC trace (and fails early without the V8 flags).
  await freshGet(`${worker.endpoint}/_/gc`, 30_000);
  const client = new S3Client({ endpoint: worker.endpoint, region: "us-east-1", credentials: CREDENTIALS, forcePathStyle: true });
  try {
    const results: Completion[] = [];
    for (const version of [1, 2]) {
      const result = await uploadAndComplete(client, worker, inspector, gcLog, `bench-mpu/app-${version}.zip`, version);
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
