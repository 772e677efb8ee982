// How much of an R2 body being read stays alive in the isolate (docs/PERFORMANCE.md "Multipart"): the Worker
// (bench/worker-entry.ts, under wrangler dev with --expose-gc --trace-gc --trace-gc-verbose) reads one 64 MiB
// object with a BYOB reader (readAtLeast 1 MiB, as src/multipart/assemble.ts does) and with a default reader,
// runs gc() after a few chunks and at the end, and the live ArrayBuffer backing store after each of those GCs is
// read from V8's trace (bench/gc-trace.ts). It also writes a 64 MiB stream to R2 the way the engine stores objects.
//
// workerd runs with --no-concurrent-array-buffer-sweeping: otherwise V8 frees the ArrayBuffers a full GC found dead
// later, in the background, and "Backing store memory" printed right after that GC still counts them (measured:
// 63.1 MiB "live" at the end of a read, 1.1 MiB after a second GC). DG_PROBE_GCS=2 runs gc() twice at each point,
// which shows the same with concurrent sweeping (DG_BENCH_V8_FLAGS overrides the flags).
//
//   npx tsx bench/body-retention.ts [--port 8880]
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { AwsClient } from "aws4fetch";
import { parseGcTrace, traceWorkerdGc } from "./gc-trace";
import { LocalWorker } from "./worker";

const ROOT = resolve(import.meta.dirname, "..");
const MiB = 1024 * 1024;
const at = process.argv.indexOf("--port");
const GCS = Number(process.env.DG_PROBE_GCS ?? "1");
const PORT = at > 0 ? Number(process.argv[at + 1]) : 8880;

async function main(): Promise<void> {
  const scratch = mkdtempSync(join(tmpdir(), "dg-bench-body-"));
  const log = join(scratch, "workerd-output.log");
  traceWorkerdGc(ROOT, log);
  const worker = new LocalWorker({
    root: ROOT, port: PORT, inspectorPort: PORT + 1, persistTo: join(scratch, "state"), script: "bench/worker-entry.ts",
    vars: { DG_DEV_CREDENTIALS: "true" },
  });
  await worker.start();
  try {
    const s3 = new AwsClient({ accessKeyId: "deltaglider", secretAccessKey: "deltaglider-secret", service: "s3", region: "us-east-1" });
    const put = await s3.fetch(`${worker.endpoint}/default/probe/body.bin`, {
      method: "PUT", body: new Uint8Array(64 * MiB).fill(7), headers: { "x-amz-content-sha256": "UNSIGNED-PAYLOAD" },
    });
    if (!put.ok) throw new Error(`PUT: ${put.status} ${await put.text()}`);
    for (const [reader, gcAfter] of [["byob", 3], ["byob", 30], ["default", 300]] as const) {
      const from = readFileSync(log).byteLength;
      const res = await fetch(`${worker.endpoint}/_/read-body?key=probe/body.bin&reader=${reader}&gcAfter=${gcAfter}&gcs=${GCS}`);
      const read = (await res.json()) as { chunks: number; bytes: number };
      // workerd's stdout is block-buffered: more GCs (more output) push the two we want out; only the first two count.
      let forced = parseGcTrace(readFileSync(log).subarray(from).toString("utf8")).filter((p) => p.forced);
      for (let i = 0; i < 50 && forced.filter((p) => p.buffersAfter !== undefined).length < 2 * GCS; i++) {
        await (await fetch(`${worker.endpoint}/_/gc`)).arrayBuffer();
        await new Promise((r) => setTimeout(r, 200));
        forced = parseGcTrace(readFileSync(log).subarray(from).toString("utf8")).filter((p) => p.forced);
      }
      const live = forced.map((p) => ((p.buffersAfter ?? NaN) / MiB).toFixed(1)).filter((_, i) => i % GCS === GCS - 1);
      if (GCS > 1) console.log(`  all forced GCs: ${forced.map((p) => ((p.buffersAfter ?? NaN) / MiB).toFixed(1)).join(" ")}`);
      console.log(`${reader} reader, ${read.chunks} chunks (${(read.bytes / MiB).toFixed(0)} MiB): live buffers after ${gcAfter} chunks ${live[0]} MiB, at the end ${live[1]} MiB`);
    }
    // The write side: a 64 MiB stream written to R2 through a FixedLengthStream (as a completion writes its object).
    {
      const from = readFileSync(log).byteLength;
      const res = await fetch(`${worker.endpoint}/_/write-body?key=probe/written.bin&gcAfter=32&gcs=${GCS}`);
      const wrote = (await res.json()) as { chunks: number; bytes: number };
      let forced = parseGcTrace(readFileSync(log).subarray(from).toString("utf8")).filter((p) => p.forced);
      for (let i = 0; i < 50 && forced.filter((p) => p.buffersAfter !== undefined).length < 2 * GCS; i++) {
        await (await fetch(`${worker.endpoint}/_/gc`)).arrayBuffer();
        await new Promise((r) => setTimeout(r, 200));
        forced = parseGcTrace(readFileSync(log).subarray(from).toString("utf8")).filter((p) => p.forced);
      }
      const live = forced.map((p) => ((p.buffersAfter ?? NaN) / MiB).toFixed(1)).filter((_, i) => i % GCS === GCS - 1);
      if (GCS > 1) console.log(`  all forced GCs: ${forced.map((p) => ((p.buffersAfter ?? NaN) / MiB).toFixed(1)).join(" ")}`);
      console.log(`R2 put of a stream, ${wrote.chunks} chunks (${(wrote.bytes / MiB).toFixed(0)} MiB): live buffers after 32 chunks ${live[0]} MiB, at the end ${live[1]} MiB`);
    }
  } finally {
    await worker.stop();
    rmSync(scratch, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
