// `npm run bench:codec`: the WebAssembly xdelta3 codec against Debian's native xdelta3 on the same inputs.
//
//   npm run bench:codec [-- --skip-1g] [-- --pairs esbuild,biome]
//
// 1. Real artifacts: consecutive npm releases (fetched with `npm pack` into bench/corpus/codec/, used as .tar).
//    Per pair: (a) same flags on both sides -- our defaults (-6 -B16M -W1M, LZMA) and DeltaGlider's CLI defaults
//    (-3 -B64M -W8M, LZMA) -- encode/decode CPU time and delta size; (b) our capped defaults vs native -9.
// 2. Memory: a 1 GiB target against a 1 GiB source (synthetic versions, test/fixtures/codec/synthetic.ts):
//    peak WASM memory of encode and decode with the defaults, delta size vs native with the same -B/-W, and
//    decoding a native default (-B 64M, DeltaGlider-style) delta.
// Prints markdown tables (pasted into docs/PERFORMANCE.md, "## Codec") and writes bench/results/codec-<date>.json.
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { createReadStream, createWriteStream, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { once } from "node:events";
import { cpus, loadavg, totalmem } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { gunzipSync } from "node:zlib";
import { decode, encode, setIsolateCodecBudget, type CodecOptions, type CodecStats } from "../src/codec/index.ts";
import { loadCodecModule } from "../src/codec/node.ts";
import { openFileSource } from "../src/cli/file-source.ts";
import { syntheticSource, syntheticTargetBlocks } from "../test/fixtures/codec/synthetic.ts";

const MiB = 1024 * 1024;
const ROOT = new URL("..", import.meta.url).pathname;
const CORPUS = join(ROOT, "bench/corpus/codec");
const RESULTS = join(ROOT, "bench/results");

const PAIRS = [
  { id: "esbuild", from: "@esbuild/linux-x64@0.24.0", to: "@esbuild/linux-x64@0.24.1" },
  { id: "typescript", from: "typescript@5.6.3", to: "typescript@5.7.2" },
  { id: "biome", from: "@biomejs/cli-linux-x64@1.9.3", to: "@biomejs/cli-linux-x64@1.9.4" },
  { id: "swc", from: "@swc/core-linux-x64-gnu@1.7.35", to: "@swc/core-linux-x64-gnu@1.7.36" },
];

/** Flag sets run identically by both sides. */
const SAME_FLAGS = [
  { id: "ours-default", label: "-6 -B16M -W1M (our defaults)", level: 6, B: 16 * MiB, W: 1 * MiB },
  { id: "dg-default", label: "-3 -B64M -W8M (xdelta3/DeltaGlider defaults)", level: 3, B: 64 * MiB, W: 8 * MiB },
];

interface Timing { cpuMs: number; wallMs: number }

// ---------- corpus ----------

function tarballName(spec: string): string {
  const at = spec.lastIndexOf("@");
  return `${spec.slice(0, at).replace(/^@/, "").replace("/", "-")}-${spec.slice(at + 1)}`;
}

function corpusTar(spec: string): string {
  const name = tarballName(spec);
  const tar = join(CORPUS, `${name}.tar`);
  if (!existsSync(tar)) {
    const tgz = join(CORPUS, `${name}.tgz`);
    if (!existsSync(tgz)) execFileSync("npm", ["pack", spec, "--silent"], { cwd: CORPUS, stdio: "ignore" });
    writeFileSync(tar, gunzipSync(readFileSync(tgz)));
  }
  return tar;
}

// ---------- native xdelta3, timed by /usr/bin/time ----------

function native(args: string[]): Timing & { maxRssKiB: number } {
  const r = spawnSync("/usr/bin/time", ["-f", "%e %U %S %M", "xdelta3", ...args], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`xdelta3 ${args.join(" ")}: ${r.stderr}`);
  const [wall, user, sys, rss] = r.stderr.trim().split("\n").pop()!.split(" ").map(Number);
  return { wallMs: wall * 1000, cpuMs: (user + sys) * 1000, maxRssKiB: rss };
}

// ---------- our codec on files ----------

const fileStream = (path: string) => Readable.toWeb(createReadStream(path, { highWaterMark: MiB })) as unknown as ReadableStream<Uint8Array>;

async function timed<T>(fn: () => Promise<T>): Promise<T & Timing> {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const r = await fn();
  const cpu = process.cpuUsage(cpu0);
  return { ...r, wallMs: performance.now() - t0, cpuMs: (cpu.user + cpu.system) / 1000 };
}

async function ourEncode(module: WebAssembly.Module, src: string, tgt: string, options: CodecOptions, out: string) {
  const source = await openFileSource(src);
  try {
    return await timed(async () => {
      let stats!: CodecStats;
      const file = createWriteStream(out);
      await encode(module, source.info, fileStream(tgt), { targetSize: statSync(tgt).size, ...options, onStats: (s) => (stats = s) })
        .pipeTo(new WritableStream({ async write(c) { if (!file.write(c)) await once(file, "drain"); } }));
      file.end();
      await once(file, "finish");
      return { stats };
    });
  } finally {
    await source.close();
  }
}

async function ourDecode(module: WebAssembly.Module, src: string, delta: string, options: CodecOptions = {}) {
  const source = await openFileSource(src);
  const out = join(CORPUS, "out", "ours.out");
  try {
    const run = await timed(async () => {
      let stats!: CodecStats;
      const file = createWriteStream(out);
      await decode(module, source.info, fileStream(delta), { ...options, onStats: (s) => (stats = s) })
        .pipeTo(new WritableStream({ async write(c) { if (!file.write(c)) await once(file, "drain"); } }));
      file.end();
      await once(file, "finish");
      return { stats };
    });
    // Hashed outside the timed region: native's decode is timed writing its file, without hashing.
    return { ...run, sha256: sha256File(out) };
  } finally {
    await source.close();
  }
}

function sha256File(path: string): string {
  return createHash("sha256").update(readFileSync(path)).digest("hex");
}

// ---------- report helpers ----------

const mb = (n: number) => (n / 1e6).toFixed(2);
const mib = (n: number) => (n / MiB).toFixed(1);
const rate = (bytes: number, ms: number) => (bytes / 1e6 / (ms / 1000)).toFixed(1);
const x = (a: number, b: number) => (a / b).toFixed(3);

async function realArtifacts(module: WebAssembly.Module, pairs: typeof PAIRS, log: (s: string) => void) {
  const rows: Record<string, unknown>[] = [];
  const work = join(CORPUS, "out");
  mkdirSync(work, { recursive: true });
  for (const pair of pairs) {
    const src = corpusTar(pair.from);
    const tgt = corpusTar(pair.to);
    const tgtSize = statSync(tgt).size;
    const tgtSha = sha256File(tgt);
    const row: Record<string, unknown> = { pair: pair.id, from: pair.from, to: pair.to, srcBytes: statSync(src).size, tgtBytes: tgtSize };
    for (const f of SAME_FLAGS) {
      const nd = join(work, `${pair.id}.${f.id}.native.vcdiff`);
      const od = join(work, `${pair.id}.${f.id}.ours.vcdiff`);
      const nEnc = native(["-e", "-D", "-f", `-${f.level}`, "-B", String(f.B), "-W", String(f.W), "-s", src, tgt, nd]);
      const nDec = native(["-d", "-D", "-f", "-s", src, nd, join(work, "native.out")]);
      if (sha256File(join(work, "native.out")) !== tgtSha) throw new Error(`native round trip failed on ${pair.id}`);
      const oEnc = await ourEncode(module, src, tgt, { level: f.level, sourceWindow: f.B, inputWindow: f.W, maxMemory: 1024 * MiB }, od);
      const oDec = await ourDecode(module, src, od, f.id === "ours-default" ? {} : { sourceWindow: f.B, maxMemory: 1024 * MiB });
      if (oDec.sha256 !== tgtSha) throw new Error(`our round trip failed on ${pair.id}`);
      const crossNative = await ourDecode(module, src, nd, { maxMemory: 1024 * MiB, sourceWindow: 64 * MiB });
      if (crossNative.sha256 !== tgtSha) throw new Error(`native delta did not decode with ours on ${pair.id}`);
      const nSize = statSync(nd).size, oSize = statSync(od).size;
      row[f.id] = {
        nativeDelta: nSize, oursDelta: oSize, sizeRatio: oSize / nSize,
        nativeEncCpuMs: nEnc.cpuMs, oursEncCpuMs: oEnc.cpuMs, encSpeedRatio: nEnc.cpuMs / oEnc.cpuMs,
        nativeDecCpuMs: nDec.cpuMs, oursDecCpuMs: oDec.cpuMs, decSpeedRatio: nDec.cpuMs / oDec.cpuMs,
        nativeEncRssMiB: nEnc.maxRssKiB / 1024, oursEncWasmMiB: oEnc.stats.wasmMemoryPeakBytes / MiB,
        oursDecWasmMiB: oDec.stats.wasmMemoryPeakBytes / MiB,
      };
      log(`${pair.id} ${f.label}: size ${x(oSize, nSize)}x native, encode ${x(nEnc.cpuMs, oEnc.cpuMs)}x native speed, decode ${x(nDec.cpuMs, oDec.cpuMs)}x`);
    }
    const n9 = join(work, `${pair.id}.native9.vcdiff`);
    const n9t = native(["-e", "-D", "-f", "-9", "-s", src, tgt, n9]);
    row.native9 = { delta: statSync(n9).size, encCpuMs: n9t.cpuMs };
    rows.push(row);
  }
  return rows;
}

async function writeSynthetic(blocks: number, seed: number): Promise<{ src: string; tgt: string }> {
  const src = join(CORPUS, `synthetic-${blocks}m-source.bin`);
  const tgt = join(CORPUS, `synthetic-${blocks}m-target.bin`);
  if (!existsSync(src) || statSync(src).size !== blocks * MiB) {
    const s = syntheticSource(blocks, seed);
    const file = createWriteStream(src);
    for (let i = 0; i < blocks; i++) if (!file.write(await s.read(i * MiB, MiB))) await once(file, "drain");
    file.end();
    await once(file, "finish");
  }
  if (!existsSync(tgt)) {
    const file = createWriteStream(tgt);
    for (const b of syntheticTargetBlocks(blocks, seed)) if (!file.write(b)) await once(file, "drain");
    file.end();
    await once(file, "finish");
  }
  return { src, tgt };
}

async function oneGiB(module: WebAssembly.Module, log: (s: string) => void) {
  const blocks = 1024;
  const { src, tgt } = await writeSynthetic(blocks, 1);
  const tgtSha = sha256File(tgt);
  const work = join(CORPUS, "out");
  const od = join(work, "synthetic.ours.vcdiff");
  const enc = await ourEncode(module, src, tgt, {}, od);
  log(`1 GiB encode (defaults): wasm peak ${mib(enc.stats.wasmMemoryPeakBytes)} MiB, delta ${statSync(od).size} B, cpu ${enc.cpuMs.toFixed(0)} ms`);
  const dec = await ourDecode(module, src, od);
  if (dec.sha256 !== tgtSha) throw new Error("1 GiB round trip failed");
  log(`1 GiB decode (defaults): wasm peak ${mib(dec.stats.wasmMemoryPeakBytes)} MiB, cpu ${dec.cpuMs.toFixed(0)} ms`);
  const nd = join(work, "synthetic.native.vcdiff");
  const nEnc = native(["-e", "-D", "-f", "-6", "-B", String(16 * MiB), "-W", String(MiB), "-s", src, tgt, nd]);
  const dg = join(work, "synthetic.native-dg.vcdiff");
  const dgEnc = native(["-e", "-D", "-f", "-s", src, tgt, dg]);
  const dgDec = await ourDecode(module, src, dg);
  if (dgDec.sha256 !== tgtSha) throw new Error("1 GiB native -B64M delta did not decode");
  log(`1 GiB native -B64M delta decoded by ours: wasm peak ${mib(dgDec.stats.wasmMemoryPeakBytes)} MiB, source read ${mb(dgDec.stats.sourceBytesRead)} MB`);
  return {
    sourceBytes: statSync(src).size, targetBytes: statSync(tgt).size,
    ours: { delta: statSync(od).size, encWasmPeak: enc.stats.wasmMemoryPeakBytes, decWasmPeak: dec.stats.wasmMemoryPeakBytes,
      encCpuMs: enc.cpuMs, decCpuMs: dec.cpuMs, encSourceRead: enc.stats.sourceBytesRead, decSourceRead: dec.stats.sourceBytesRead },
    nativeSameFlags: { delta: statSync(nd).size, encCpuMs: nEnc.cpuMs, rssKiB: nEnc.maxRssKiB },
    nativeDg: { delta: statSync(dg).size, encCpuMs: dgEnc.cpuMs, oursDecWasmPeak: dgDec.stats.wasmMemoryPeakBytes,
      oursDecSourceRead: dgDec.stats.sourceBytesRead, oursDecCpuMs: dgDec.cpuMs },
  };
}

function markdown(rows: Record<string, any>[], big: Record<string, any> | undefined): string {
  const lines: string[] = [];
  for (const f of SAME_FLAGS) {
    lines.push(`Same flags on both sides: \`${f.label}\`, LZMA secondary. Speed = target MB per CPU second.`, "",
      "| pair (.tar) | target MB | native delta | ours delta | size ours/native | native enc MB/s | ours enc MB/s | enc speed ours/native | native dec MB/s | ours dec MB/s | dec speed ours/native | ours enc / dec WASM MiB |",
      "|---|---|---|---|---|---|---|---|---|---|---|---|");
    for (const r of rows) {
      const c = r[f.id];
      lines.push(`| ${r.pair} ${r.from.split("@").pop()}→${r.to.split("@").pop()} | ${mb(r.tgtBytes)} | ${c.nativeDelta} | ${c.oursDelta} | ${c.sizeRatio.toFixed(3)} | ${rate(r.tgtBytes, c.nativeEncCpuMs)} | ${rate(r.tgtBytes, c.oursEncCpuMs)} | ${c.encSpeedRatio.toFixed(2)} | ${rate(r.tgtBytes, c.nativeDecCpuMs)} | ${rate(r.tgtBytes, c.oursDecCpuMs)} | ${c.decSpeedRatio.toFixed(2)} | ${c.oursEncWasmMiB.toFixed(1)} / ${c.oursDecWasmMiB.toFixed(1)} |`);
    }
    const sum = (k: string) => rows.reduce((n, r) => n + r[f.id][k], 0);
    lines.push(`| **total** | ${mb(rows.reduce((n, r) => n + r.tgtBytes, 0))} | ${sum("nativeDelta")} | ${sum("oursDelta")} | ${(sum("oursDelta") / sum("nativeDelta")).toFixed(3)} | | | ${(sum("nativeEncCpuMs") / sum("oursEncCpuMs")).toFixed(2)} | | | ${(sum("nativeDecCpuMs") / sum("oursDecCpuMs")).toFixed(2)} | |`, "");
  }
  lines.push("Our capped defaults vs native `xdelta3 -9` (its default -B64M -W8M, LZMA):", "",
    "| pair | native -9 delta | ours (defaults) delta | ours/native -9 | native -9 enc CPU s | ours enc CPU s |", "|---|---|---|---|---|---|");
  for (const r of rows) {
    lines.push(`| ${r.pair} | ${r.native9.delta} | ${r["ours-default"].oursDelta} | ${(r["ours-default"].oursDelta / r.native9.delta).toFixed(3)} | ${(r.native9.encCpuMs / 1000).toFixed(1)} | ${(r["ours-default"].oursEncCpuMs / 1000).toFixed(1)} |`);
  }
  const n9 = rows.reduce((n, r) => n + r.native9.delta, 0), ours = rows.reduce((n, r) => n + r["ours-default"].oursDelta, 0);
  lines.push(`| **total** | ${n9} | ${ours} | ${(ours / n9).toFixed(3)} | | |`, "");
  if (big) {
    lines.push("1 GiB synthetic target vs 1 GiB source (scattered edits, inserts, deletions, moves, new blocks):", "",
      "| run | delta bytes | peak WASM MiB | CPU s | source bytes read |", "|---|---|---|---|---|",
      `| ours encode, defaults | ${big.ours.delta} | ${mib(big.ours.encWasmPeak)} | ${(big.ours.encCpuMs / 1000).toFixed(1)} | ${big.ours.encSourceRead} |`,
      `| ours decode, defaults | | ${mib(big.ours.decWasmPeak)} | ${(big.ours.decCpuMs / 1000).toFixed(1)} | ${big.ours.decSourceRead} |`,
      `| native encode, same flags (-6 -B16M -W1M) | ${big.nativeSameFlags.delta} (ours/native ${(big.ours.delta / big.nativeSameFlags.delta).toFixed(3)}) | RSS ${(big.nativeSameFlags.rssKiB / 1024).toFixed(1)} | ${(big.nativeSameFlags.encCpuMs / 1000).toFixed(1)} | |`,
      `| native encode, defaults (-3 -B64M, DeltaGlider) | ${big.nativeDg.delta} | | ${(big.nativeDg.encCpuMs / 1000).toFixed(1)} | |`,
      `| ours decode of that -B64M delta, defaults | | ${mib(big.nativeDg.oursDecWasmPeak)} | ${(big.nativeDg.oursDecCpuMs / 1000).toFixed(1)} | ${big.nativeDg.oursDecSourceRead} |`, "");
  }
  return lines.join("\n");
}

async function main() {
  const args = process.argv.slice(2);
  const skip1g = args.includes("--skip-1g");
  const pairsArg = args.indexOf("--pairs");
  const pairs = pairsArg >= 0 ? PAIRS.filter((p) => args[pairsArg + 1].split(",").includes(p.id)) : PAIRS;
  mkdirSync(CORPUS, { recursive: true });
  mkdirSync(RESULTS, { recursive: true });
  setIsolateCodecBudget(4096 * MiB); // Node: compare with native at flags beyond the Worker's cap too
  const module = await loadCodecModule();
  const log = (s: string) => console.error(s);
  const machine = {
    date: new Date().toISOString(), cpu: cpus()[0]?.model, cores: cpus().length, memGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version, xdelta3: spawnSync("xdelta3", ["-V"], { encoding: "utf8" }).stderr.split("\n")[0],
    loadAvgAtStart: loadavg().map((l) => l.toFixed(2)).join(" "),
  };
  // Warm-up (untimed): V8 first runs wasm in its baseline compiler and optimizes hot functions in the background;
  // a Worker isolate serving many requests runs the optimized code, so that is what the tables report.
  await realArtifacts(module, PAIRS.slice(0, 1), () => {});
  const rows = await realArtifacts(module, pairs, log);
  const big = skip1g ? undefined : await oneGiB(module, log);
  const result = { machine: { ...machine, loadAvgAtEnd: loadavg().map((l) => l.toFixed(2)).join(" ") }, rows, oneGiB: big };
  writeFileSync(join(RESULTS, `codec-${machine.date.slice(0, 10)}.json`), JSON.stringify(result, null, 2));
  console.log(`Machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memGiB} GiB, Node ${machine.node}, ${machine.xdelta3}; ${machine.date}; load average ${machine.loadAvgAtStart} → ${result.machine.loadAvgAtEnd}\n`);
  console.log(markdown(rows, big));
}

await main();
