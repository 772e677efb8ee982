// `npm run bench:load`: sustained concurrent load against `npm start`, on local R2 and on the remote-S3 backend
// (radosgw behind a front that delays every backend call by a random 0–150 ms), then an audit: every object is
// read back and compared with the writes that could have been the last acknowledged one.
//
//   npm run bench:load [-- --backend r2|s3|both] [-- --clients 32] [-- --seconds 60] [-- --no-docs] [-- --seed N]
//
// Workload: versioned .zip-like artifacts (512 KiB, a few KiB changed per version) in a handful of shared
// deltaspaces with few keys each, so same-key writers race, DELETEs empty deltaspaces while others upload into
// them, and LISTs page through them with 1-, 2-, 3- and 1000-key pages. Every body names its key and write id and
// is reproducible from them, so any GET can be checked byte for byte.
//
// Writes bench/results/load-<date>.json and the "## Load" section of docs/PERFORMANCE.md.
import { AwsClient } from "aws4fetch";
import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import { createCipheriv, createHash } from "node:crypto";
import { cpus, totalmem } from "node:os";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startJitterProxy, type JitterProxy } from "./jitter-proxy.ts";

const ROOT = join(import.meta.dirname, "..");
const DEV_KEY = { accessKeyId: "deltaglider", secretAccessKey: "deltaglider-secret" };
const BASE_SIZE = 512 * 1024;
const DELTASPACES = 4;
const KEYS_PER_DELTASPACE = 5;
const MAX_JITTER_MS = 150;

interface Options { backends: ("r2" | "s3")[]; clients: number; seconds: number; docs: boolean; seed: number; port: number }

function parseOptions(argv: string[]): Options {
  const value = (name: string, fallback: string) => {
    const at = argv.indexOf(`--${name}`);
    return at >= 0 ? argv[at + 1] : fallback;
  };
  const backend = value("backend", "both");
  return {
    backends: backend === "both" ? ["r2", "s3"] : [backend as "r2" | "s3"],
    clients: Number(value("clients", "32")),
    seconds: Number(value("seconds", "60")),
    docs: !argv.includes("--no-docs"),
    seed: Number(value("seed", String(Date.now() % 1_000_000))),
    port: Number(value("port", "8850")),
  };
}

// ---- deterministic content -------------------------------------------------------------------------------

/** Reproducible pseudo-random bytes (AES-128-CTR keystream of a seed string). */
function prngBytes(seed: string, length: number): Uint8Array<ArrayBuffer> {
  const key = createHash("sha256").update(seed).digest().subarray(0, 16);
  const cipher = createCipheriv("aes-128-ctr", key, Buffer.alloc(16));
  return new Uint8Array(cipher.update(Buffer.alloc(length)));
}

/** A small seeded PRNG for scheduling decisions (xorshift32 is enough for picking operations). */
function scheduler(seed: number): () => number {
  let state = (seed >>> 0) || 1;
  return () => {
    state ^= state << 13; state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5; state >>>= 0;
    return state / 2 ** 32;
  };
}

const HEADER = 96;
const baseCache = new Map<string, Uint8Array<ArrayBuffer>>();

/** Every fifth write is unlike its deltaspace's reference, so it is stored as-is beside others' deltas of the key. */
const isUnlike = (writeId: number) => writeId % 5 === 0;

/**
 * Version `writeId` of `key` with a self-describing header: its deltaspace's base with a few changed KiB
 * (stored as a delta), or for an "unlike" write fresh random bytes (the delta would not pay: stored as-is).
 */
function versionBody(run: string, key: string, writeId: number): Uint8Array<ArrayBuffer> {
  const ds = key.slice(0, key.lastIndexOf("/"));
  let base = baseCache.get(ds);
  if (!base) baseCache.set(ds, (base = prngBytes(`${run}/${ds}`, BASE_SIZE)));
  const body = isUnlike(writeId) ? prngBytes(`${run}/${key}/${writeId}/unlike`, BASE_SIZE) : base.slice();
  body.set(new TextEncoder().encode(`DGLOAD ${writeId} ${key}`.padEnd(HEADER, " ").slice(0, HEADER)));
  const patches = prngBytes(`${run}/${key}/${writeId}`, 8 * 1024 + 64);
  for (let i = 0; i < 8; i++) {
    const offset = HEADER + ((patches[8192 + i * 4] << 16 | patches[8193 + i * 4] << 8 | patches[8194 + i * 4]) % (BASE_SIZE - HEADER - 1024));
    body.set(patches.subarray(i * 1024, (i + 1) * 1024), offset);
  }
  return body;
}

/** The write id a body claims, and whether the body is exactly that write's bytes. */
function checkBody(run: string, key: string, bytes: Uint8Array): { writeId: number; exact: boolean } {
  const header = new TextDecoder().decode(bytes.subarray(0, HEADER)).trim().split(" ");
  const writeId = Number(header[1]);
  if (header[0] !== "DGLOAD" || header[2] !== key || !Number.isInteger(writeId)) return { writeId: -1, exact: false };
  const expected = versionBody(run, key, writeId);
  return { writeId, exact: bytes.length === expected.length && Buffer.compare(Buffer.from(bytes), Buffer.from(expected)) === 0 };
}

// ---- the log of operations -------------------------------------------------------------------------------

type Kind = "put" | "get" | "list" | "delete" | "empty";
interface KeyOp { kind: "put" | "delete"; writeId: number; start: number; end: number; acked: boolean }
interface ListCheck { prefix: string; start: number; end: number; keys: string[]; orderOk: boolean }

class Log {
  readonly latencies: Record<Kind, number[]> = { put: [], get: [], list: [], delete: [], empty: [] };
  readonly errors = new Map<string, number>();
  readonly keyOps = new Map<string, KeyOp[]>();
  readonly lists: ListCheck[] = [];
  wrongBytesDuringRun = 0;
  operations = 0;

  error(kind: Kind, code: string): void {
    const name = `${kind} ${code}`;
    this.errors.set(name, (this.errors.get(name) ?? 0) + 1);
  }
  keyOp(key: string, op: KeyOp): void {
    const ops = this.keyOps.get(key) ?? [];
    ops.push(op);
    this.keyOps.set(key, ops);
  }
}

async function s3Code(response: Response): Promise<string> {
  const text = await response.text();
  return /<Code>([^<]+)<\/Code>/.exec(text)?.[1] ?? String(response.status);
}

// ---- one client --------------------------------------------------------------------------------------------

interface Target { endpoint: string; bucket: string; run: string; aws: AwsClient }

const keyName = (run: string, ds: number, n: number) => `${run}/ds${ds}/app-${n}.zip`;

async function put(t: Target, log: Log, key: string, writeId: number): Promise<void> {
  const start = performance.now();
  let acked = false;
  try {
    const response = await t.aws.fetch(`${t.endpoint}/${t.bucket}/${key}`, { method: "PUT", body: versionBody(t.run, key, writeId) });
    if (response.ok) { acked = true; await response.arrayBuffer(); } else log.error("put", await s3Code(response));
  } catch (error) {
    log.error("put", `network: ${(error as Error).message}`);
  }
  const end = performance.now();
  log.latencies.put.push(end - start);
  log.keyOp(key, { kind: "put", writeId, start, end, acked });
}

async function get(t: Target, log: Log, key: string): Promise<void> {
  const start = performance.now();
  try {
    const response = await t.aws.fetch(`${t.endpoint}/${t.bucket}/${key}`);
    if (response.ok) {
      const { exact } = checkBody(t.run, key, new Uint8Array(await response.arrayBuffer()));
      if (!exact) log.wrongBytesDuringRun++;
    } else if (response.status !== 404) log.error("get", await s3Code(response));
    else await response.arrayBuffer();
  } catch (error) {
    log.error("get", `network: ${(error as Error).message}`);
  }
  log.latencies.get.push(performance.now() - start);
}

async function remove(t: Target, log: Log, key: string): Promise<void> {
  const start = performance.now();
  let acked = false;
  try {
    const response = await t.aws.fetch(`${t.endpoint}/${t.bucket}/${key}`, { method: "DELETE" });
    if (response.ok) { acked = true; await response.arrayBuffer(); } else log.error("delete", await s3Code(response));
  } catch (error) {
    log.error("delete", `network: ${(error as Error).message}`);
  }
  const end = performance.now();
  log.latencies.delete.push(end - start);
  log.keyOp(key, { kind: "delete", writeId: -1, start, end, acked });
}

/** Every key under `prefix`, paged by `pageSize`; null when a page failed. */
async function listAll(t: Target, log: Log, prefix: string, pageSize: number): Promise<string[] | null> {
  const keys: string[] = [];
  let token: string | undefined;
  for (let page = 0; page < 1000; page++) {
    const query = new URLSearchParams({ "list-type": "2", prefix, "max-keys": String(pageSize) });
    if (token) query.set("continuation-token", token);
    const response = await t.aws.fetch(`${t.endpoint}/${t.bucket}?${query}`);
    if (!response.ok) { log.error("list", await s3Code(response)); return null; }
    const xml = await response.text();
    for (const match of xml.matchAll(/<Key>([^<]*)<\/Key>/g)) keys.push(decodeXml(match[1]));
    token = /<NextContinuationToken>([^<]+)<\/NextContinuationToken>/.exec(xml)?.[1];
    if (!/<IsTruncated>true<\/IsTruncated>/.test(xml)) return keys;
  }
  log.error("list", "more than 1000 pages");
  return null;
}

const decodeXml = (s: string) => s.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&quot;/g, "\"").replace(/&apos;/g, "'").replace(/&amp;/g, "&");

async function list(t: Target, log: Log, ds: number, pageSize: number): Promise<void> {
  const prefix = `${t.run}/ds${ds}/`;
  const start = performance.now();
  try {
    const keys = await listAll(t, log, prefix, pageSize);
    const end = performance.now();
    if (keys) log.lists.push({ prefix, start, end, keys, orderOk: keys.every((k, i) => i === 0 || Buffer.compare(Buffer.from(keys[i - 1]), Buffer.from(k)) < 0) });
  } catch (error) {
    log.error("list", `network: ${(error as Error).message}`);
  }
  log.latencies.list.push(performance.now() - start);
}

/** Deletes every listed key of a deltaspace in one DeleteObjects, while other clients may be uploading into it. */
async function emptyDeltaspace(t: Target, log: Log, ds: number): Promise<void> {
  const start = performance.now();
  const keys = await listAll(t, log, `${t.run}/ds${ds}/`, 1000).catch(() => null);
  let acked = false;
  if (keys && keys.length > 0) {
    const body = `<Delete>${keys.map((k) => `<Object><Key>${k}</Key></Object>`).join("")}<Quiet>true</Quiet></Delete>`;
    const md5 = createHash("md5").update(body).digest("base64");
    try {
      const response = await t.aws.fetch(`${t.endpoint}/${t.bucket}?delete`, { method: "POST", body, headers: { "content-md5": md5 } });
      const text = await response.text();
      if (response.ok && !text.includes("<Error>")) acked = true;
      else log.error("empty", /<Code>([^<]+)<\/Code>/.exec(text)?.[1] ?? String(response.status));
    } catch (error) {
      log.error("empty", `network: ${(error as Error).message}`);
    }
  }
  const end = performance.now();
  for (const key of keys ?? []) log.keyOp(key, { kind: "delete", writeId: -1, start, end, acked });
  log.latencies.empty.push(end - start);
}

async function client(t: Target, log: Log, random: () => number, until: number, nextWriteId: () => number): Promise<void> {
  while (performance.now() < until) {
    const ds = Math.floor(random() * DELTASPACES);
    const key = keyName(t.run, ds, Math.floor(random() * KEYS_PER_DELTASPACE));
    const roll = random();
    if (roll < 0.4) await put(t, log, key, nextWriteId());
    else if (roll < 0.7) await get(t, log, key);
    else if (roll < 0.85) await list(t, log, ds, [1, 2, 3, 1000][Math.floor(random() * 4)]);
    else if (roll < 0.96) await remove(t, log, key);
    else await emptyDeltaspace(t, log, ds);
    log.operations++;
  }
}

// ---- the audit -------------------------------------------------------------------------------------------

/**
 * Which final states are allowed for a key: the effect of any operation that no acknowledged operation started
 * strictly after (a failed operation may or may not have taken effect). "absent" is allowed when such an
 * operation is a DELETE, or when nothing on the key was acknowledged.
 */
function allowedFinal(ops: KeyOp[]): { writeIds: Set<number>; absent: boolean } {
  const acked = ops.filter((op) => op.acked);
  const writeIds = new Set<number>();
  let absent = acked.length === 0;
  for (const op of ops) {
    if (acked.some((later) => later.start > op.end)) continue;
    if (op.kind === "put") writeIds.add(op.writeId);
    else absent = true;
  }
  return { writeIds, absent };
}

interface Audit { keys: number; lost: number; wrong: number; lostKeys: string[] }

async function audit(t: Target, log: Log): Promise<Audit> {
  const result: Audit = { keys: 0, lost: 0, wrong: 0, lostKeys: [] };
  for (const [key, ops] of log.keyOps) {
    result.keys++;
    const allowed = allowedFinal(ops);
    const response = await t.aws.fetch(`${t.endpoint}/${t.bucket}/${key}`);
    if (response.status === 404) {
      await response.arrayBuffer();
      if (!allowed.absent) { result.lost++; result.lostKeys.push(`${key}: 404, expected one of ${[...allowed.writeIds]}`); }
      continue;
    }
    if (!response.ok) {
      result.lost++;
      result.lostKeys.push(`${key}: ${response.status} ${await s3Code(response)}`);
      continue;
    }
    const { writeId, exact } = checkBody(t.run, key, new Uint8Array(await response.arrayBuffer()));
    if (!exact) result.wrong++;
    else if (!allowed.writeIds.has(writeId)) { result.lost++; result.lostKeys.push(`${key}: write ${writeId}, expected one of ${[...allowed.writeIds]}${allowed.absent ? " or absent" : ""}`); }
  }
  return result;
}

/** Listings checked against the log: in order, and holding every key that was stably present throughout. */
function auditListings(log: Log): { listings: number; outOfOrder: number; missing: number; phantom: number } {
  let outOfOrder = 0, missing = 0, phantom = 0;
  for (const listing of log.lists) {
    if (!listing.orderOk) outOfOrder++;
    const listed = new Set(listing.keys);
    for (const [key, ops] of log.keyOps) {
      if (!key.startsWith(listing.prefix)) continue;
      // The state is known when the last acknowledged op ended before the listing and nothing else touched the key.
      const before = ops.filter((op) => op.acked && op.end < listing.start).sort((a, b) => a.end - b.end).at(-1);
      if (!before) continue;
      const touched = ops.some((op) => op !== before && op.end > before.start && op.start < listing.end);
      if (touched) continue;
      if (before.kind === "put" && !listed.has(key)) missing++;
      if (before.kind === "delete" && listed.has(key)) phantom++;
    }
  }
  return { listings: log.lists.length, outOfOrder, missing, phantom };
}

// ---- running the proxy ------------------------------------------------------------------------------------

async function startProxy(port: number, env: Record<string, string>): Promise<ChildProcess> {
  const child = spawn(process.execPath, ["scripts/dev.mjs"], {
    cwd: ROOT, env: { ...process.env, ...env, PORT: String(port) }, stdio: ["ignore", "pipe", "pipe"], detached: true,
  });
  let output = "";
  child.stdout!.on("data", (c) => (output = (output + c).slice(-8000)));
  child.stderr!.on("data", (c) => (output = (output + c).slice(-8000)));
  const deadline = Date.now() + 90_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`npm start exited:\n${output}`);
    const up = await fetch(`http://127.0.0.1:${port}/_/health`).then((r) => r.arrayBuffer().then(() => r.ok), () => false);
    if (up) return child;
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`npm start did not come up:\n${output}`);
}

async function stopProxy(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  process.kill(-child.pid!, "SIGTERM");
  const timer = setTimeout(() => { try { process.kill(-child.pid!, "SIGKILL"); } catch { /* gone */ } }, 10_000);
  await exited;
  clearTimeout(timer);
}

interface RemoteServer { endpoint: string; accessKeyId: string; secretAccessKey: string; stop(): void }

/** The test S3 server: DG_TEST_S3_* or a radosgw on :8000, else one started with scripts/radosgw.sh. */
async function remoteServer(): Promise<RemoteServer> {
  const endpoint = process.env.DG_TEST_S3_ENDPOINT ?? "http://127.0.0.1:8000";
  const accessKeyId = process.env.DG_TEST_S3_ACCESS_KEY_ID ?? "0555b35654ad1656d804";
  const secretAccessKey = process.env.DG_TEST_S3_SECRET_ACCESS_KEY ?? "h7GhxuBLTrlhVUyxSPUKUV8r/2EI4ngqJxD7iBdBYLhwluN30JaT3Q==";
  if (await fetch(endpoint).then(() => true, () => false)) return { endpoint, accessKeyId, secretAccessKey, stop: () => {} };
  const [started, key, secret] = execFileSync("bash", [join(ROOT, "scripts/radosgw.sh"), "start", "8000"], { encoding: "utf8" }).trim().split(/\s+/).slice(-3);
  return { endpoint: started, accessKeyId: key, secretAccessKey: secret, stop: () => execFileSync("bash", [join(ROOT, "scripts/radosgw.sh"), "stop"]) };
}

// ---- one run -------------------------------------------------------------------------------------------------

interface RunResult {
  backend: string; clients: number; seconds: number; operations: number; opsPerSecond: number;
  latencyMs: Record<Kind, { count: number; p50: number; p99: number }>;
  errors: Record<string, number>; audit: Audit; listings: ReturnType<typeof auditListings>; wrongBytesDuringRun: number;
  backendCalls?: number;
}

const percentile = (values: number[], p: number) => {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return Math.round(sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]);
};

async function runBackend(backend: "r2" | "s3", options: Options): Promise<RunResult> {
  const run = `load-${Date.now().toString(36)}`;
  let remote: RemoteServer | undefined;
  let jitter: JitterProxy | undefined;
  const env: Record<string, string> = {};
  if (backend === "s3") {
    remote = await remoteServer();
    const rgw = new AwsClient({ accessKeyId: remote.accessKeyId, secretAccessKey: remote.secretAccessKey, service: "s3", region: "us-east-1" });
    const bucket = `dg-load-${Date.now().toString(36)}`;
    const made = await rgw.fetch(`${remote.endpoint}/${bucket}`, { method: "PUT" });
    if (!made.ok) throw new Error(`creating ${bucket} on ${remote.endpoint}: ${made.status} ${await made.text()}`);
    jitter = await startJitterProxy(remote.endpoint, MAX_JITTER_MS, scheduler(options.seed ^ 0x5eed));
    Object.assign(env, { S3_ENDPOINT: jitter.url, S3_BUCKET: bucket, S3_ACCESS_KEY_ID: remote.accessKeyId, S3_SECRET_ACCESS_KEY: remote.secretAccessKey, S3_REGION: "us-east-1" });
  }
  const proxy = await startProxy(options.port, env);
  try {
    const t: Target = { endpoint: `http://127.0.0.1:${options.port}`, bucket: "default", run, aws: new AwsClient({ ...DEV_KEY, service: "s3", region: "us-east-1" }) };
    const log = new Log();
    let writeId = 0;
    const until = performance.now() + options.seconds * 1000;
    const started = performance.now();
    console.log(`${backend}: ${options.clients} clients for ${options.seconds} s (seed ${options.seed}, prefix ${run}/)`);
    await Promise.all(Array.from({ length: options.clients }, (_, i) => client(t, log, scheduler(options.seed * 1000 + i + 1), until, () => ++writeId)));
    const elapsed = (performance.now() - started) / 1000;
    console.log(`${backend}: ${log.operations} operations in ${elapsed.toFixed(1)} s; auditing ${log.keyOps.size} keys`);
    const result: RunResult = {
      backend: backend === "r2" ? "R2 (npm start, local R2)" : `remote S3 (npm start, radosgw behind 0–${MAX_JITTER_MS} ms jitter)`,
      clients: options.clients, seconds: Math.round(elapsed), operations: log.operations,
      opsPerSecond: Math.round((log.operations / elapsed) * 10) / 10,
      latencyMs: Object.fromEntries(Object.entries(log.latencies).map(([k, v]) => [k, { count: v.length, p50: percentile(v, 0.5), p99: percentile(v, 0.99) }])) as RunResult["latencyMs"],
      errors: Object.fromEntries(log.errors),
      audit: await audit(t, log),
      listings: auditListings(log),
      wrongBytesDuringRun: log.wrongBytesDuringRun,
      backendCalls: jitter?.forwarded(),
    };
    // Leave nothing behind in the local R2 state / the test bucket.
    for (let ds = 0; ds < DELTASPACES; ds++) await emptyDeltaspace(t, new Log(), ds);
    return result;
  } finally {
    await stopProxy(proxy);
    await jitter?.close();
    remote?.stop();
  }
}

// ---- report ----------------------------------------------------------------------------------------------------

function commitId(): string {
  try {
    const id = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: ROOT, encoding: "utf8" }).trim();
    const dirty = execFileSync("git", ["status", "--porcelain", "--untracked-files=no", "--", ".", ":!docs", ":!bench/results"], { cwd: ROOT, encoding: "utf8" }).trim();
    return dirty ? `${id} (+ uncommitted changes)` : id;
  } catch {
    return "unknown";
  }
}

function render(results: RunResult[], options: Options): string {
  const lines = [
    "## Load (npm run bench:load)",
    "",
    `Run ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC at ${commitId()}, on ${cpus().length} × ${cpus()[0]?.model.trim()}, ` +
      `${Math.round(totalmem() / 2 ** 30)} GiB, seed ${options.seed}. ${options.clients} concurrent clients for ${options.seconds} s of mixed ` +
      `PUT (40 %) / GET (30 %) / LIST (15 %, pages of 1, 2, 3 or 1000 keys) / DELETE (11 %) / empty-a-deltaspace (4 %) over ` +
      `${DELTASPACES} deltaspaces × ${KEYS_PER_DELTASPACE} keys of 512 KiB versioned .zip artifacts (one write in five unlike the ` +
      "reference, so stored as-is beside other writers' deltas of the same key), so same-key writers race and " +
      "deltaspaces are emptied while others upload into them. Afterwards every key is read back and compared with the writes that could " +
      "have been the last acknowledged one (an operation no acknowledged operation started after).",
    "",
    "| backend | ops/s | PUT p50/p99 ms | GET p50/p99 | LIST p50/p99 | DELETE p50/p99 | keys audited | lost | wrong bytes | listings out of order / missing / phantom | errors by code |",
    "|---|---|---|---|---|---|---|---|---|---|---|",
  ];
  for (const r of results) {
    const l = r.latencyMs;
    const errors = Object.entries(r.errors).map(([k, v]) => `${k}: ${v}`).join(", ") || "none";
    lines.push(`| ${r.backend} | ${r.opsPerSecond} | ${l.put.p50} / ${l.put.p99} | ${l.get.p50} / ${l.get.p99} | ${l.list.p50} / ${l.list.p99} | ` +
      `${l.delete.p50} / ${l.delete.p99} | ${r.audit.keys} | **${r.audit.lost}** | **${r.audit.wrong + r.wrongBytesDuringRun}** | ` +
      `${r.listings.outOfOrder} / ${r.listings.missing} / ${r.listings.phantom} (of ${r.listings.listings}) | ${errors} |`);
  }
  return lines.join("\n") + "\n";
}

function updateDoc(section: string): void {
  const path = join(ROOT, "docs/PERFORMANCE.md");
  const doc = readFileSync(path, "utf8");
  const start = doc.indexOf("## Load (npm run bench:load)");
  if (start < 0) { writeFileSync(path, `${doc.trimEnd()}\n\n${section}`); return; }
  const next = doc.indexOf("\n## ", start + 3);
  writeFileSync(path, doc.slice(0, start) + section + (next < 0 ? "" : doc.slice(next)));
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const results: RunResult[] = [];
  for (const backend of options.backends) {
    const result = await runBackend(backend, options);
    console.log(JSON.stringify(result, null, 2));
    results.push(result);
  }
  mkdirSync(join(ROOT, "bench/results"), { recursive: true });
  writeFileSync(join(ROOT, `bench/results/load-${new Date().toISOString().slice(0, 10)}.json`), JSON.stringify({ options, results }, null, 2));
  const section = render(results, options);
  console.log(section);
  if (options.docs) updateDoc(section);
  const bad = results.some((r) => r.audit.lost > 0 || r.audit.wrong > 0 || r.wrongBytesDuringRun > 0);
  process.exit(bad ? 1 : 0);
}

await main();
