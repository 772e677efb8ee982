// `npm run bench:compressed-memory`: the memory bound of compressed-aware PUT and GET (issue #18, "within the
// per-request memory budget"), measured the way bench/multipart-memory.ts measures Complete. The Worker runs under
// `wrangler dev` (bench/worker-entry.ts) with V8's GC trace and the inspector; per request the bench reports
//   - live heap + ArrayBuffers: the largest figure V8 printed after a full mark-compact of the Worker's isolate
//     (bench/gc-trace.ts; garbage excluded; the entry runs one per 4 MiB its stream writers pass),
//   - sampled heap + ArrayBuffers: inspector Runtime.getHeapUsage every 100 ms (bench/inspector.ts; upper bound),
//   - WASM: the codec's largest linear memory and the largest memory of a shipped-deflater instance (they own
//     theirs; bench/worker-entry.ts tracks both).
// Artifacts are generated here, deterministically, at growing inflated sizes: a tar of text-like source files
// (test/workerd/helpers/artifacts.ts packageFiles/tarOf) gzipped as the npm CLI does (node:zlib level 9 memLevel 8,
// OS byte 0xff), and the same files as a zip written by Python's zipfile (level 6, vanilla zlib: its entries are
// rebuilt by the shipped wasm deflater, not the runtime's zlib). Version 2 is version 1 with a few edits per
// changed file, a version string in every file and one file added. Per artifact: PUT v1 (seeds the deltaspace, not
// measured), PUT v2 and GET v2 compressed-aware (rebuilt-object cache off, so the GET rebuilds), and the same v2
// bytes under a key that is not delta-eligible (stored as-is), PUT and GET, for comparison.
//
//   npm run bench:compressed-memory [-- --sizes 8,30,90] [-- --formats tgz,zip] [-- --port 9450] [-- --no-docs]
//                                   [-- --var NAME=value …] (more Worker settings; then use --no-docs)
//
// Writes bench/results/compressed-memory-<date>.json and the "## Compressed artifacts: memory" section of
// docs/PERFORMANCE.md.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { get as httpGet } from "node:http";
import { cpus, homedir, loadavg, tmpdir, totalmem } from "node:os";
import { join, resolve } from "node:path";
import { AwsClient } from "aws4fetch";
import { livePeak, parseGcTrace, type GcPoint, type LivePeak, traceWorkerdGc } from "./gc-trace.ts";
import { heapPlusBuffers, Inspector, type HeapUsage } from "./inspector.ts";
import { measuredCommit, publishSection } from "./dev-worker.ts";
import { cpuMs, LocalWorker } from "./worker.ts";
import { npmGzip, packageFiles, tarOf, type FileEntry } from "../test/workerd/helpers/artifacts.ts";

const ROOT = resolve(import.meta.dirname, "..");
const CACHE = join(homedir(), ".cache/dg-bench/compressed-memory");
const MiB = 1024 * 1024;
/** docs/ARCHITECTURE.md "Per-isolate limits": everything an isolate's requests hold at once. */
const ISOLATE_LIMIT = 128e6;
/** The codec's reservation per job (ISOLATE_CODEC_BUDGET, maxMemory): what its WASM may reach, whatever it used. */
const CODEC_RESERVATION = 64 * MiB;
/** packageFiles' file shape (lines per file), and about how many bytes of tar one file adds. */
const LINES_PER_FILE = 400;
const HEADING = "## Compressed artifacts: memory";

const args = process.argv.slice(2);
const option = (name: string) => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1] : undefined; };
const PORT = Number(option("port") ?? 9450);
const SIZES = (option("sizes") ?? "8,30,90").split(",").map(Number);
const FORMATS = (option("formats") ?? "tgz,zip").split(",") as Format[];
/** `--var NAME=value` (repeatable): more Worker settings, e.g. to find out what a figure depends on. */
const EXTRA_VARS = Object.fromEntries(args.flatMap((a, i) => (args[i - 1] === "--var" ? [a.split(/=(.*)/s).slice(0, 2)] : [])));
if (SIZES.some((s) => !(s > 0)) || FORMATS.some((f) => f !== "tgz" && f !== "zip")) throw new Error("--sizes N,… (MiB > 0), --formats tgz,zip");

type Format = "tgz" | "zip";

interface Artifact {
  format: Format;
  /** Inflated size of version 2 (its tar, or its zip entries' content). */
  inflated: number;
  versions: [Uint8Array, Uint8Array];
}

interface Measured {
  artifact: string;
  format: Format;
  inflated: number;
  size: number;
  op: "PUT" | "GET";
  stored: "compressed-aware" | "as-is";
  storageType: string | null;
  /** PUT: the `.delta` carries a recipe header (dg-recompress); GET: the bytes matched. */
  ok: boolean;
  wallS: number;
  workerdCpuS: number;
  live: LivePeak;
  sampled?: HeapUsage;
  samples: number;
  codecWasm: number;
  deflateWasm: number;
  deflateInstances: number;
  retries: number;
  /** Heap + buffers after a full GC right before the request: what the isolate kept from earlier ones. */
  atRest: number;
}

// ---- artifacts -------------------------------------------------------------------------------------------------

/** Version `minor` of a package whose tar is about `mib` MiB: packageFiles' shape, as many files as it takes. */
function filesOf(minor: number, mib: number): FileEntry[] {
  const perFile = packageFiles(minor, 1, LINES_PER_FILE)[0].data.length + 512;
  return packageFiles(minor, Math.max(1, Math.round((mib * MiB) / perFile)), LINES_PER_FILE);
}

/** Python's zipfile, level 6 (zlib's default), fixed timestamps: the same bytes on every run. */
function pythonZip(tar: Uint8Array): Uint8Array {
  const script = [
    "import io, sys, tarfile, zipfile",
    "src = tarfile.open(fileobj=io.BytesIO(sys.stdin.buffer.read()))",
    "out = io.BytesIO()",
    "with zipfile.ZipFile(out, 'w', zipfile.ZIP_DEFLATED) as z:",
    "    for m in src.getmembers():",
    "        z.writestr(zipfile.ZipInfo(m.name, date_time=(2026, 1, 1, 0, 0, 0)), src.extractfile(m).read(), compress_type=zipfile.ZIP_DEFLATED)",
    "sys.stdout.buffer.write(out.getvalue())",
  ].join("\n");
  return new Uint8Array(execFileSync("python3", ["-c", script], { input: tar, maxBuffer: 1024 * MiB }));
}

/** Both versions of one artifact, made once and kept in ~/.cache (outside the repository). */
function artifact(format: Format, mib: number): Artifact {
  mkdirSync(CACHE, { recursive: true });
  const paths = [1, 2].map((v) => join(CACHE, `pkg-${mib}mib-v${v}.${format}`));
  const sizePath = join(CACHE, `pkg-${mib}mib-v2.inflated`);
  if (!paths.every(existsSync) || !existsSync(sizePath)) {
    const tars = [1, 2].map((minor) => tarOf(filesOf(minor, mib)));
    tars.forEach((tar, i) => writeFileSync(paths[i], format === "tgz" ? npmGzip(tar) : pythonZip(tar)));
    const content = (minor: number) => filesOf(minor, mib).reduce((n, f) => n + f.data.length, 0);
    writeFileSync(sizePath, JSON.stringify({ tgz: tars[1].length, zip: content(2) }));
  }
  const inflated = (JSON.parse(readFileSync(sizePath, "utf8")) as Record<Format, number>)[format];
  return { format, inflated, versions: [new Uint8Array(readFileSync(paths[0])), new Uint8Array(readFileSync(paths[1]))] };
}

// ---- the Worker and its requests -------------------------------------------------------------------------------

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

/** A GET on a connection of its own (a kept-alive one sometimes went unanswered after a long request). */
function freshGet(url: string, timeoutMs = 120_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = httpGet(url, { agent: false, timeout: timeoutMs }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (chunk) => (text += chunk));
      res.on("end", () => (res.statusCode && res.statusCode < 300 ? resolve(text) : reject(new Error(`${url}: ${res.statusCode} ${text}`))));
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error(`${url}: no answer in ${timeoutMs} ms`)));
    req.on("error", reject);
  });
}

interface Ops { wasmPeakBytes: number; ownMemoryPeakBytes: number; ownMemoryInstances: number }
const readOps = async (worker: LocalWorker) => JSON.parse(await freshGet(`${worker.endpoint}/_/ops`)) as Ops;

class Bench {
  private readonly s3 = new AwsClient({ accessKeyId: "deltaglider", secretAccessKey: "deltaglider-secret", service: "s3", region: "us-east-1" });

  constructor(private readonly worker: LocalWorker, private readonly inspector: Inspector, private readonly gcLog: string,
    private readonly isolate: { pid: number; isolate: string } | null) {}

  /**
   * One request, measured: ops read before (resets the WASM peaks) and after, the GC trace slice in between,
   * inspector samples while it runs. wrangler dev's proxy sometimes resets a kept-alive connection before the
   * request reaches the Worker; PUT and GET are idempotent, so the request is sent again (counted in `retries`).
   */
  async measure(send: () => Promise<{ storageType: string | null; ok: boolean }>):
    Promise<Omit<Measured, "artifact" | "format" | "inflated" | "size" | "op" | "stored">> {
    for (let retries = 0; ; retries++) {
      const atRest = await this.atRest();
      await readOps(this.worker);
      const pid = this.worker.workerdPid();
      const cpuBefore = pid ? cpuMs(pid) : NaN;
      const traceFrom = sizeOf(this.gcLog);
      const start = performance.now();
      try {
        const { result, peak, samples } = await this.inspector.sampleDuring(send, 100);
        const wallS = (performance.now() - start) / 1000;
        const workerdCpuS = pid ? (cpuMs(pid) - cpuBefore) / 1000 : NaN;
        await new Promise((r) => setTimeout(r, 500)); // wrangler relays workerd's output asynchronously
        const live = livePeak(this.trace(traceFrom), this.isolate);
        const ops = await readOps(this.worker);
        return {
          ...result, atRest, wallS, workerdCpuS, live, sampled: peak, samples, retries,
          codecWasm: ops.wasmPeakBytes, deflateWasm: ops.ownMemoryPeakBytes, deflateInstances: ops.ownMemoryInstances,
        };
      } catch (error) {
        if (retries >= 2 || !String((error as Error).cause ?? error).match(/ECONNRESET|socket|other side closed/i)) throw error;
      }
    }
  }

  put(key: string, body: Uint8Array): Promise<{ storageType: string | null; ok: boolean }> {
    return (async () => {
      const response = await this.s3.fetch(this.url(key), { method: "PUT", body: body as BodyInit });
      const text = await response.text();
      if (!response.ok) throw new Error(`PUT ${key}: ${response.status} ${text.slice(0, 300)}`);
      return { storageType: response.headers.get("x-amz-storage-type"), ok: true };
    })();
  }

  /** GET streamed into a hash (the bench holds no copy), compared with the uploaded bytes' SHA-256 and size. */
  get(key: string, expected: Uint8Array): Promise<{ storageType: string | null; ok: boolean }> {
    return (async () => {
      const response = await this.s3.fetch(this.url(key));
      if (!response.ok) throw new Error(`GET ${key}: ${response.status} ${(await response.text()).slice(0, 300)}`);
      const hash = createHash("sha256");
      let size = 0;
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        hash.update(chunk);
        size += chunk.byteLength;
      }
      return { storageType: response.headers.get("x-amz-storage-type"), ok: size === expected.length && hash.digest("hex") === sha256(expected) };
    })();
  }

  /** Whether the stored `<key>.delta` is compressed-aware (carries dg-recompress), from its raw R2 metadata. */
  async compressedAware(key: string): Promise<boolean> {
    const text = await freshGet(`${this.worker.endpoint}/_/raw-meta?key=${encodeURIComponent(`${key}.delta`)}`).catch(() => null);
    return text !== null && "dg-recompress" in (JSON.parse(text) as { customMetadata: Record<string, string> }).customMetadata;
  }

  /** Heap + buffers the isolate holds between requests: a gc() of its own, read from the trace. */
  private async atRest(): Promise<number> {
    const from = sizeOf(this.gcLog);
    await freshGet(`${this.worker.endpoint}/_/gc`);
    for (let i = 0; i < 20; i++) {
      const forced = this.trace(from).find((p) => p.forced && p.buffersAfter !== undefined &&
        (!this.isolate || (p.pid === this.isolate.pid && p.isolate === this.isolate.isolate)));
      if (forced) return forced.heapAfter + forced.buffersAfter!;
      await new Promise((r) => setTimeout(r, 100));
    }
    return NaN;
  }

  private url(key: string): string {
    return `${this.worker.endpoint}/default/${key}`;
  }

  private trace(from: number): GcPoint[] {
    return parseGcTrace(existsSync(this.gcLog) ? readFileSync(this.gcLog).subarray(from).toString("utf8") : "");
  }
}

const sizeOf = (file: string) => (existsSync(file) ? statSync(file).size : 0);

/** The Worker's isolate in the GC trace: the one the bench's gc() call ran in (reason "testing"). */
function workerIsolate(gcLog: string): { pid: number; isolate: string } | null {
  const tagged = parseGcTrace(existsSync(gcLog) ? readFileSync(gcLog, "utf8") : "").find((p) => p.forced);
  return tagged ? { pid: tagged.pid, isolate: tagged.isolate } : null;
}

/**
 * Does V8's "Backing store memory" (the live buffers figure) count WASM linear memory? gc() with a 32 MiB memory
 * alive and after it was let go (/_/wasm-probe): the difference of the two figures.
 */
async function wasmInBuffers(worker: LocalWorker, gcLog: string, isolate: { pid: number; isolate: string } | null): Promise<number> {
  const from = sizeOf(gcLog);
  await freshGet(`${worker.endpoint}/_/wasm-probe?mib=32`);
  let forced: GcPoint[] = [];
  for (let i = 0; i < 20 && forced.filter((p) => p.buffersAfter !== undefined).length < 2; i++) {
    await new Promise((r) => setTimeout(r, 250));
    forced = parseGcTrace(readFileSync(gcLog).subarray(from).toString("utf8"))
      .filter((p) => p.forced && (!isolate || (p.pid === isolate.pid && p.isolate === isolate.isolate)));
  }
  if (forced.length < 2) return NaN;
  return (forced[0].buffersAfter ?? NaN) - (forced[1].buffersAfter ?? NaN);
}

// ---- the run ---------------------------------------------------------------------------------------------------

async function run(): Promise<{ results: Measured[]; wasmCounted: number; when: string }> {
  const artifacts = SIZES.flatMap((mib) => FORMATS.map((format) => ({ mib, ...artifact(format, mib) })));
  const scratch = mkdtempSync(join(tmpdir(), "dg-bench-compressed-memory-"));
  const gcLog = join(scratch, "workerd-output.log");
  traceWorkerdGc(ROOT, gcLog);
  const worker = new LocalWorker({
    root: ROOT, port: PORT, inspectorPort: PORT + 1, persistTo: join(scratch, "state"), script: "bench/worker-entry.ts",
    vars: { DG_DEV_CREDENTIALS: "true", DG_CACHE_REBUILT_MAX_SIZE: "0", DG_LOG_REQUESTS: "false", BENCH_GC_EVERY_MIB: "4", ...EXTRA_VARS },
  });
  await worker.start();
  const inspector = await Inspector.connect(PORT + 1);
  const results: Measured[] = [];
  try {
    await freshGet(`${worker.endpoint}/_/gc`); // marks the Worker's isolate in the trace (fails early without the flags)
    await new Promise((r) => setTimeout(r, 500));
    const isolate = workerIsolate(gcLog);
    const wasmCounted = await wasmInBuffers(worker, gcLog, isolate);
    const bench = new Bench(worker, inspector, gcLog, isolate);
    for (const a of artifacts) {
      const name = `pkg-${a.mib}mib.${a.format}`;
      const prefix = `mem-${a.format}-${a.mib}`;
      const [v1, v2] = a.versions;
      const seeded = await bench.put(`${prefix}/pkg-1.${a.format}`, v1);
      console.log(`${name}: v1 ${(v1.length / MiB).toFixed(1)} MiB seeded (${seeded.storageType}); v2 ${(v2.length / MiB).toFixed(1)} MiB, ${(a.inflated / MiB).toFixed(1)} MiB inflated`);
      const row = { artifact: name, format: a.format, inflated: a.inflated, size: v2.length };
      const cases = [
        { stored: "compressed-aware", key: `${prefix}/pkg-2.${a.format}` },
        { stored: "as-is", key: `${prefix}-as-is/pkg-2.${a.format}.bin` }, // .bin: not delta-eligible
      ] as const;
      for (const { stored, key } of cases) {
        const put = await bench.measure(() => bench.put(key, v2));
        const aware = stored === "compressed-aware" ? await bench.compressedAware(key) : put.storageType === "Direct";
        results.push({ ...row, op: "PUT", stored, ...put, ok: aware });
        const got = await bench.measure(() => bench.get(key, v2));
        results.push({ ...row, op: "GET", stored, ...got });
        for (const r of results.slice(-2)) console.log(JSON.stringify({ ...r, sampled: r.sampled && heapPlusBuffers(r.sampled) }));
      }
    }
    return { results, wasmCounted, when: new Date().toISOString() };
  } catch (error) {
    console.error(`worker output:\n${worker.recentOutput().slice(-4000)}`);
    throw error;
  } finally {
    inspector.close();
    await worker.stop();
    rmSync(scratch, { recursive: true, force: true });
  }
}

// ---- the report ------------------------------------------------------------------------------------------------

const mib = (n: number | undefined) => (n === undefined || Number.isNaN(n) ? "n/a" : (n / MiB).toFixed(1));
const liveOf = (r: Measured) => (r.live.peak ? r.live.peak.heap + r.live.peak.buffers : NaN);
/** What the request can hold at most: live heap + buffers, the codec's reservation (or more, if it used more), one deflater. */
const boundOf = (r: Measured) => liveOf(r) + Math.max(CODEC_RESERVATION, r.codecWasm) + r.deflateWasm;

function render(results: Measured[], wasmCounted: number, when: string, commit: string): string {
  const intro = [
    HEADING,
    "",
    `\`npm run bench:compressed-memory\` (bench/compressed-memory.ts), run ${when.slice(0, 16).replace("T", " ")} UTC at ${commit}: ` +
      `${cpus()[0]?.model ?? "cpu"} × ${cpus().length}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, ` +
      `load average at the end ${loadavg().map((l) => l.toFixed(2)).join(" / ")}; wrangler dev (local workerd, local R2), default settings ` +
      "except the rebuilt-object cache off (`DG_CACHE_REBUILT_MAX_SIZE=0`: every GET rebuilds). Rewritten by each run; raw JSON in " +
      "`bench/results/compressed-memory-<date>.json`.",
    "",
    "Issue #18 asks that compressed-aware PUT and GET stay within the per-request memory budget (streaming inflate and",
    "deflate). Local workerd does not enforce the isolate's 128 MB, so it is measured as for Multipart: per request,",
    "*live* heap + ArrayBuffers = the largest figure V8 printed after a full mark-compact of the Worker's isolate",
    "(garbage excluded; the bench's entry runs one per 4 MiB its stream writers pass, V8 more on its own; `full GCs` counts",
    "them), *sampled* = inspector `Runtime.getHeapUsage` every 100 ms (garbage included, upper bound; answered samples in",
    "brackets), *codec WASM* = the xdelta3 job's linear memory, *deflate WASM* = the largest memory of a shipped-deflater",
    "instance (each owns ≤ 2 MiB; one per deflate stream, used one after another; the count in brackets includes the",
    "recipe search's candidates). The runtime's node:zlib (pass-1 inflate, the reference form's inflater, the",
    "Chromium fast path) keeps its state in native memory that none of these figures shows: zlib's own formula gives",
    "≤ 256 KiB + 6 KiB per deflater (windowBits 15, memLevel 8) and ≤ 39 KiB per inflater, one of each at a time.",
    `V8's GC trace ${Number.isNaN(wasmCounted) ? "could not be checked for" : Math.abs(wasmCounted - 32 * MiB) < 2 * MiB ? "counts" : "does not count"} WASM linear memory` +
      ` in its ArrayBuffer figure (a 32 MiB WebAssembly.Memory alive at a gc() changed it by ${mib(wasmCounted)} MiB),` +
      (Math.abs(wasmCounted - 32 * MiB) < 2 * MiB ? " so \"live + WASM\" counts the WASM alive at a GC twice: an upper bound." : " so the columns add up."),
    `Bound = live heap + buffers + the codec's reservation (${CODEC_RESERVATION / MiB} MiB, \`ISOLATE_CODEC_BUDGET\`: what one job may`,
    "reach, whatever it used) + one deflater: what the request can hold at most, against the isolate's 128 MB (122.1 MiB).",
    "Artifacts: a tar of text-like source files (test/workerd/helpers/artifacts.ts) gzipped as the npm CLI does",
    "(node:zlib 9/8, OS byte 0xff; rebuilt through the node:zlib fast path) and the same files as a Python-zipfile",
    "`.zip` (level 6, vanilla zlib: rebuilt by the shipped wasm deflater); version 2 = version 1 with a changed version",
    "line in every file, a few edited lines in every 13th and one file added. PUT v1 seeds the deltaspace (not",
    "measured). `as-is` = the same v2 bytes under a key that is not delta-eligible, for comparison. All requests run",
    "in one isolate, in table order; *at rest before* = heap + buffers after a full GC right before the request: what",
    "the isolate still held from the requests before it. Wall and CPU include the bench's own full GCs (one per stream",
    "a request closes, so thousands for a zip): see \"Compressed artifacts\" for CPU per request.",
    "",
    "Found by this bench and fixed: workerd never frees a node:zlib stream's handle, which referenced its stream and",
    "buffers, so every inflater stayed in the isolate (the 92 MiB zip's PUT left 364 MB behind, 523 MB held at rest",
    "after the run; bench/results/compressed-memory-2026-12-07-before-fix.json); now released on close",
    "(`releaseWhenClosed`, src/deflate/runtime-zlib.ts). The handles themselves still stay (a few hundred bytes each,",
    "the \"at rest\" growth over a zip's PUT). And a reader of the reference block cache had unbounded background fills",
    "pending, each holding a 4 MiB block: a compressed-aware PUT held 26.7 MiB of its own at 31 MiB inflated (12.1 MiB",
    "with the cache off) and 37.1 MiB at 94 MiB; now ≤ 2 per reader (`MAX_FILLS_IN_FLIGHT`, src/cache/blocks.ts).",
    "",
    "| artifact | inflated MiB | upload MiB | op | stored | stored as | wall s | workerd CPU s | at rest before MiB | live heap / buffers MiB | live heap + buffers MiB | of it, the request's (live − at rest) MiB | full GCs | sampled heap + buffers MiB (upper bound) | codec WASM MiB | deflate WASM MiB (instances) | live + WASM MiB | bound MiB | ≤ 128 MB | byte-exact / compressed-aware |",
    "|---|--:|--:|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|---|",
  ];
  const rows = results.map((r) => {
    const live = liveOf(r);
    const bound = boundOf(r);
    return `| ${r.artifact} | ${mib(r.inflated)} | ${mib(r.size)} | ${r.op} | ${r.stored} | ${r.storageType ?? "?"} | ${r.wallS.toFixed(1)} | ` +
      `${r.workerdCpuS.toFixed(1)} | ${mib(r.atRest)} | ${mib(r.live.peak?.heap)} / ${mib(r.live.peak?.buffers)} | ${mib(live)} | ${mib(live - r.atRest)} | ${r.live.fullGcs} | ` +
      `${mib(r.sampled && heapPlusBuffers(r.sampled))} (${r.samples}) | ${mib(r.codecWasm)} | ${mib(r.deflateWasm)} (${r.deflateInstances}) | ` +
      `${mib(live + r.codecWasm + r.deflateWasm)} | ${mib(bound)} | ${Number.isNaN(bound) ? "n/a" : bound <= ISOLATE_LIMIT ? "yes" : "NO"} | ${r.ok ? "yes" : "NO"} |`;
  });
  return [...intro, ...rows, "", ...findings(results)].join("\n") + "\n";
}

/** What the table says, computed: growth with the artifact per operation, and the largest bound. */
function findings(results: Measured[]): string[] {
  const out = ["What the numbers say (computed by the bench from the table):"];
  const aware = results.filter((r) => r.stored === "compressed-aware");
  for (const format of FORMATS) {
    for (const op of ["PUT", "GET"] as const) {
      const set = aware.filter((r) => r.format === format && r.op === op).sort((a, b) => a.inflated - b.inflated);
      if (set.length < 2) continue;
      const [small, large] = [set[0], set[set.length - 1]];
      const growth = (f: (r: Measured) => number) => `${mib(f(small))} → ${mib(f(large))} MiB`;
      out.push(`- .${format} ${op}, ${mib(small.inflated)} → ${mib(large.inflated)} MiB inflated (×${(large.inflated / small.inflated).toFixed(1)}): ` +
        `live heap + buffers ${growth(liveOf)} (the request's own: ${growth((r) => liveOf(r) - r.atRest)}), codec WASM ${growth((r) => r.codecWasm)}, deflate WASM ${growth((r) => r.deflateWasm)}, ` +
        `bound ${growth(boundOf)}.`);
    }
  }
  const first = results[0];
  const last = results[results.length - 1];
  if (first && last) {
    out.push(`- Held by the isolate between requests (a full GC before each): ${mib(first.atRest)} MiB before the first request, ` +
      `${mib(last.atRest)} MiB before the last; per artifact, before → after its compressed-aware PUT: ` +
      `${aware.filter((r) => r.op === "PUT").map((r) => `${r.artifact} ${mib(r.atRest)} → ${mib(results[results.indexOf(r) + 1]?.atRest)}`).join(", ")}.`);
  }
  const worst = aware.reduce<Measured | undefined>((w, r) => (!w || boundOf(r) > boundOf(w) ? r : w), undefined);
  if (worst) {
    const all = aware.every((r) => boundOf(r) <= ISOLATE_LIMIT);
    out.push(`- Largest bound: ${mib(boundOf(worst))} MiB (${worst.op} of ${worst.artifact}); ` +
      `${all ? "every compressed-aware request stays inside the isolate's 128 MB (122.1 MiB) with the codec's 64 MiB reservation counted" : "NOT every request stays inside the isolate's 128 MB"}.`);
  }
  const exact = results.filter((r) => r.op === "GET").every((r) => r.ok) && aware.filter((r) => r.op === "PUT").every((r) => r.ok);
  out.push(`- ${exact ? "Every GET was byte-exact and every compressed-aware PUT was stored as a compressed-aware delta" : "NOT every GET was byte-exact or NOT every PUT was compressed-aware (see the last column)"}.`);
  return out;
}

async function main(): Promise<void> {
  const commit = measuredCommit(ROOT);
  const { results, wasmCounted, when } = await run();
  // A run that does not publish (--no-docs, e.g. with --var) keeps its JSON out of bench/results.
  const dir = args.includes("--no-docs") ? tmpdir() : join(ROOT, "bench/results");
  mkdirSync(dir, { recursive: true });
  const json = join(dir, `compressed-memory-${when.slice(0, 10)}.json`);
  console.log(`results: ${json}`);
  writeFileSync(json, JSON.stringify({
    date: when, commit, machine: { cpu: cpus()[0]?.model, cores: cpus().length, memGiB: Math.round(totalmem() / 2 ** 30), node: process.version, loadAvg: loadavg() },
    sizesMiB: SIZES, vars: EXTRA_VARS, wasmCountedInBuffers: wasmCounted, results,
  }, null, 2));
  publishSection(ROOT, HEADING, render(results, wasmCounted, when, commit), args);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
