// `npm run bench:stats`: what keeping the savings totals (src/coordination/savings.ts, docs/ARCHITECTURE.md
// "Savings totals") costs a PUT and a DELETE. No extra call: the totals ride on the coordinator calls every PUT
// (commit) and DELETE (remove) already make, and are a few Durable Object storage operations inside them. This
// measures the same sequential requests through the S3 API against two `wrangler dev` Workers running side by
// side, one with DG_STATS=off and one with it on, request by request in alternating order (so the load other
// jobs put on this shared machine falls on both alike; separate runs drifted by more than the effect), and reads
// the totals at the end to check they count what was written.
//
//   npm run bench:stats [-- --rounds 200] [-- --no-docs]
//
// Writes the "## Savings totals: cost" section of docs/PERFORMANCE.md.
import { AwsClient } from "aws4fetch";
import type { ChildProcess } from "node:child_process";
import { measuredCommit, median, p90, publishSection, startDevWorker, stopDevWorker, timedRequest } from "./dev-worker";
import { cpus, tmpdir, totalmem } from "node:os";
import { mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";

const ROOT = join(import.meta.dirname, "..");
/** Inside this helper's port range (9400–9499): the Worker with totals off here, on at +2 (each + its inspector). */
const BASE_PORT = Number(process.env.BENCH_PORT ?? 9410);
const PORTS = { off: BASE_PORT, on: BASE_PORT + 2 } as const;
const aws = new AwsClient({ accessKeyId: "deltaglider", secretAccessKey: "deltaglider-secret", service: "s3", region: "us-east-1" });

const argv = process.argv.slice(2);
const option = (name: string, fallback: number) => Number(argv[argv.indexOf(name) + 1] || 0) || fallback;
const rounds = argv.includes("--rounds") ? option("--rounds", 200) : 200;

type Mode = "on" | "off";

function startWorker(stats: Mode, persistTo: string): Promise<ChildProcess> {
  const port = PORTS[stats];
  return startDevWorker({ root: ROOT, port, persistTo, startTimeoutMs: 90_000,
    vars: { DG_DEV_CREDENTIALS: "true", DG_STATS: stats, DG_LOG_REQUESTS: "false" } });
}


interface Timings { put: number[]; deltaPut: number[]; overwrite: number[]; del: number[] }


/**
 * Sequential 4 KiB as-is PUTs, 64 KiB delta PUTs into one deltaspace, overwrites, then a DELETE of each: every
 * request sent to both Workers back to back, which one first alternating.
 */
async function measure(results: Record<Mode, Timings>): Promise<void> {
  const prefix = `stats-bench-${Date.now().toString(36)}`;
  const base = (mode: Mode) => `http://127.0.0.1:${PORTS[mode]}/default/${prefix}`;
  const small = new Uint8Array(4096).fill(7);
  const version = (i: number) => { const v = new Uint8Array(65536).fill(3); v.set(new TextEncoder().encode(`version ${i}`)); return v; };
  let turn = 0;
  const both = async (kind: keyof Timings, path: string, init: RequestInit) => {
    const order: Mode[] = turn++ % 2 === 0 ? ["off", "on"] : ["on", "off"];
    for (const mode of order) results[mode][kind].push(await timedRequest(() => aws.fetch(`${base(mode)}/${path}`, init)));
  };
  // Warm-up: the first requests compile the Worker and the codec, and wake the bucket's Durable Object.
  for (const mode of ["off", "on"] as const) {
    for (let i = 0; i < 5; i++) await timedRequest(() => aws.fetch(`${base(mode)}/warm${i}.bin`, { method: "PUT", body: small }));
  }
  for (let i = 0; i < rounds; i++) {
    await both("put", `o${i}.bin`, { method: "PUT", body: small });
    await both("deltaPut", `v${i}.zip`, { method: "PUT", body: version(i) });
  }
  for (let i = 0; i < rounds; i++) await both("overwrite", `o${i}.bin`, { method: "PUT", body: small.subarray(0, 2048) });
  for (let i = 0; i < rounds; i++) {
    await both("del", `o${i}.bin`, { method: "DELETE" });
    await both("del", `v${i}.zip`, { method: "DELETE" });
  }
  const totals = await (await aws.fetch(`http://127.0.0.1:${PORTS.on}/_/stats?bucket=default`)).json() as { objects: number };
  if (totals.objects !== 5) throw new Error(`the totals count ${totals.objects} objects, 5 (the warm-up PUTs) are stored`);
}


const results: Record<Mode, Timings> = {
  on: { put: [], deltaPut: [], overwrite: [], del: [] },
  off: { put: [], deltaPut: [], overwrite: [], del: [] },
};
const states = { off: mkdtempSync(join(tmpdir(), "dg-stats-bench-")), on: mkdtempSync(join(tmpdir(), "dg-stats-bench-")) };
const workers: ChildProcess[] = [];
try {
  for (const mode of ["off", "on"] as const) workers.push(await startWorker(mode, states[mode]));
  await measure(results);
} finally {
  for (const worker of workers) await stopDevWorker(worker);
  for (const state of Object.values(states)) rmSync(state, { recursive: true, force: true });
}

const row = (name: string, key: keyof Timings) => {
  const on = results.on[key];
  const off = results.off[key];
  return `| ${name} | ${median(off).toFixed(1)} / ${p90(off).toFixed(1)} | ${median(on).toFixed(1)} / ${p90(on).toFixed(1)} | ${(median(on) - median(off)).toFixed(1)} |`;
};
const section = [
  "## Savings totals: cost",
  "",
  `\`npm run bench:stats\`, run ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC at ${measuredCommit(ROOT)}, on ${cpus().length} × ${cpus()[0]?.model.trim()}, ` +
    `${Math.round(totalmem() / 2 ** 30)} GiB (shared with other jobs): ${rounds} sequential requests of each kind through the S3 API to each of ` +
    "two `wrangler dev` Workers running side by side (Durable Object in-process), one with `DG_STATS=off`, one with it on (the default), " +
    "each request sent to both back to back in alternating order.",
  "",
  "**Extra calls: none.** The totals ride on the coordinator calls a PUT (commit) and a DELETE (remove) already make. Inside " +
    "the Durable Object a commit adds 2 storage reads (the key's old record with its deltaspace's and the bucket's totals in one " +
    "get; the activity counter) and 1 write of 5 entries (record, deltaspace, totals, activity entry, counter), plus 1 delete of " +
    "the oldest activity entry; a DELETE the same per key (a delete instead of the record's write). They are SQLite operations inside the " +
    "object (no network). Only when writes of a key overlap, or a write fails, does the last one to close re-read the key from " +
    "storage (4 HEADs, by the Durable Object); a failed seeding upload adds 2 HEADs of its reference.",
  "",
  "| request | DG_STATS=off median / p90 ms | DG_STATS=on median / p90 ms | added (median, ms) |",
  "|---|---|---|---|",
  row("PUT 4 KiB (as-is)", "put"),
  row("PUT 64 KiB .zip (delta)", "deltaPut"),
  row("PUT 2 KiB over 4 KiB (overwrite)", "overwrite"),
  row("DELETE", "del"),
  "",
].join("\n");
publishSection(ROOT, "## Savings totals: cost", section, argv);
