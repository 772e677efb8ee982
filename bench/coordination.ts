// `npm run bench:coordination`: what the per-bucket Durable Object (docs/ARCHITECTURE.md "Guarantees") costs a
// PUT and a DELETE. The same sequential requests through the S3 API against two `wrangler dev` Workers: the
// project's wrangler.toml (writes coordinated by the bucket's Durable Object) and a copy without the
// DG_COORDINATOR binding (the in-memory coordinator of one isolate). Local workerd runs the DO in-process, so the
// difference is the DO's own work and RPC, not the network hop a deployed Worker pays to reach it.
//
//   npm run bench:coordination [-- --rounds 100] [-- --no-docs]
//
// Writes the "## Coordination cost" section of docs/PERFORMANCE.md.
import { AwsClient } from "aws4fetch";
import type { ChildProcess } from "node:child_process";
import { measuredCommit, median, p90, publishSection, startDevWorker, stopDevWorker, timedRequest } from "./dev-worker";
import { cpus, tmpdir, totalmem } from "node:os";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const ROOT = join(import.meta.dirname, "..");
const PORT = 8860;
const aws = new AwsClient({ accessKeyId: "deltaglider", secretAccessKey: "deltaglider-secret", service: "s3", region: "us-east-1" });

const argv = process.argv.slice(2);
const rounds = Number(argv[argv.indexOf("--rounds") + 1] || 0) || 100;

/** wrangler.toml without the Durable Object binding and its migration: every write coordinated in memory. */
function configWithoutCoordinator(dir: string): string {
  const toml = readFileSync(join(ROOT, "wrangler.toml"), "utf8")
    .replace(/\[\[durable_objects\.bindings\]\][^[]*/, "")
    .replace(/\[\[migrations\]\][^[]*/, "")
    .replace(/^main = "src\/index.ts"/m, `main = "${join(ROOT, "src/index.ts")}"`);
  if (toml.includes("DG_COORDINATOR")) throw new Error("could not remove the DG_COORDINATOR binding from wrangler.toml");
  const path = join(dir, "wrangler.toml");
  writeFileSync(path, toml);
  return path;
}

function startWorker(config: string, persistTo: string): Promise<ChildProcess> {
  return startDevWorker({ root: ROOT, port: PORT, persistTo, config, vars: { DG_DEV_CREDENTIALS: "true" } });
}


interface Timings { put: number[]; deltaPut: number[]; del: number[] }


/** Sequential 4 KiB passthrough PUTs, 64 KiB delta PUTs into one deltaspace, then a DELETE of each. */
async function measure(): Promise<Timings> {
  const base = `http://127.0.0.1:${PORT}/default/coord-bench-${Date.now().toString(36)}`;
  const small = new Uint8Array(4096).fill(7);
  const version = (i: number) => { const v = new Uint8Array(65536).fill(3); v.set(new TextEncoder().encode(`version ${i}`)); return v; };
  const timings: Timings = { put: [], deltaPut: [], del: [] };
  // Warm-up: the first requests compile the Worker and the codec.
  await timedRequest(() => aws.fetch(`${base}/warm.bin`, { method: "PUT", body: small }));
  for (let i = 0; i < rounds; i++) {
    timings.put.push(await timedRequest(() => aws.fetch(`${base}/o${i}.bin`, { method: "PUT", body: small })));
    timings.deltaPut.push(await timedRequest(() => aws.fetch(`${base}/v${i}.zip`, { method: "PUT", body: version(i) })));
  }
  for (let i = 0; i < rounds; i++) {
    timings.del.push(await timedRequest(() => aws.fetch(`${base}/o${i}.bin`, { method: "DELETE" })));
    timings.del.push(await timedRequest(() => aws.fetch(`${base}/v${i}.zip`, { method: "DELETE" })));
  }
  return timings;
}

async function run(config: string): Promise<Timings> {
  const state = mkdtempSync(join(tmpdir(), "dg-coord-bench-"));
  const worker = await startWorker(config, state);
  try {
    return await measure();
  } finally {
    await stopDevWorker(worker);
    rmSync(state, { recursive: true, force: true });
  }
}


const scratch = mkdtempSync(join(tmpdir(), "dg-coord-config-"));
try {
  const coordinated = await run(join(ROOT, "wrangler.toml"));
  const inMemory = await run(configWithoutCoordinator(scratch));
  const row = (name: string, a: number[], b: number[]) =>
    `| ${name} | ${median(b).toFixed(1)} / ${p90(b).toFixed(1)} | ${median(a).toFixed(1)} / ${p90(a).toFixed(1)} | ${(median(a) - median(b)).toFixed(1)} |`;
  const section = [
    "## Coordination cost (npm run bench:coordination)",
    "",
    `Run ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC at ${measuredCommit(ROOT)}, on ${cpus().length} × ${cpus()[0]?.model.trim()}, ` +
      `${Math.round(totalmem() / 2 ** 30)} GiB: ${rounds} sequential requests of each kind through the S3 API against \`wrangler dev\`, ` +
      "with the bucket's Durable Object (wrangler.toml) and without its binding (in-memory coordinator of the one local isolate). " +
      "A PUT makes two DO calls (begin, commit), a DELETE one (remove, which also collects an unused reference). Locally the DO runs " +
      "in-process; deployed, each call adds the round trip to the DO's location.",
    "",
    "| request | in-memory median / p90 ms | Durable Object median / p90 ms | added by the DO (median, ms) |",
    "|---|---|---|---|",
    row("PUT 4 KiB (as-is)", coordinated.put, inMemory.put),
    row("PUT 64 KiB .zip (delta)", coordinated.deltaPut, inMemory.deltaPut),
    row("DELETE", coordinated.del, inMemory.del),
    "",
  ].join("\n");
  publishSection(ROOT, "## Coordination cost", section, argv);
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
