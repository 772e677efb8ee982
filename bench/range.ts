// `npm run bench:range`: a Range GET of a large delta object — the codec's ranged decode (targetRange) against
// the full rebuild it replaces.
//
//   npm run bench:range [-- --sizes 256,1024]
//
// Per size: synthetic source/target versions (test/fixtures/codec/synthetic.ts: edits, inserts, deletions,
// moves, new blocks) written to bench/corpus/range/, two deltas — ours with the defaults (-6 -B16M -W1M, LZMA) and
// Debian's xdelta3 with its defaults (-B64M -W8M, LZMA: what DeltaGlider stores) — then per delta: the full
// decode, the last 1 MiB and 1 MiB in the middle. Reported: wall and CPU time, reference (source) bytes read,
// delta bytes read, windows skipped/decoded. Every ranged answer is compared with the target file's bytes.
// Prints a markdown table (docs/PERFORMANCE.md, "## Range GET") and writes bench/results/range-<date>.json.
import { spawnSync } from "node:child_process";
import { once } from "node:events";
import { createReadStream, createWriteStream, existsSync, mkdirSync, statSync, writeFileSync } from "node:fs";
import { open, type FileHandle } from "node:fs/promises";
import { cpus, loadavg, totalmem } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { decode, encode, type CodecOptions, type CodecStats, type SourceInfo } from "../src/codec/index.ts";
import { loadCodecModule } from "../src/codec/node.ts";
import { syntheticSource, syntheticTargetBlocks } from "../test/fixtures/codec/synthetic.ts";

const MiB = 1024 * 1024;
const ROOT = new URL("..", import.meta.url).pathname;
const CORPUS = join(ROOT, "bench/corpus/range");
const RESULTS = join(ROOT, "bench/results");

interface Run {
  delta: string;
  read: string;
  bytesOut: number;
  wallMs: number;
  cpuMs: number;
  sourceBytesRead: number;
  deltaBytesRead: number;
  windowsSkipped?: number;
  windowsDecoded?: number;
  wasmPeakMiB: number;
}

function arg(name: string, fallback: string): string {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 ? process.argv[at + 1] : fallback;
}

async function writeSynthetic(blocks: number): Promise<{ src: string; tgt: string }> {
  mkdirSync(CORPUS, { recursive: true });
  // bench:codec writes the same files (same generator and seed) for 1 GiB: reuse them.
  const shared = join(ROOT, "bench/corpus/codec");
  if (existsSync(join(shared, `synthetic-${blocks}m-target.bin`))) {
    return { src: join(shared, `synthetic-${blocks}m-source.bin`), tgt: join(shared, `synthetic-${blocks}m-target.bin`) };
  }
  const src = join(CORPUS, `synthetic-${blocks}m-source.bin`);
  const tgt = join(CORPUS, `synthetic-${blocks}m-target.bin`);
  if (!existsSync(src) || !existsSync(tgt)) {
    const source = syntheticSource(blocks, 1);
    const s = createWriteStream(src);
    for (let i = 0; i < blocks; i++) if (!s.write(await source.read(i * MiB, MiB))) await once(s, "drain");
    s.end();
    await once(s, "finish");
    const t = createWriteStream(tgt);
    for (const b of syntheticTargetBlocks(blocks, 1)) if (!t.write(b)) await once(t, "drain");
    t.end();
    await once(t, "finish");
  }
  return { src, tgt };
}

/** The file read by range, counting what is read (as the engine reads reference.bin from R2). */
function fileSource(file: FileHandle, size: number): SourceInfo {
  return {
    size,
    async read(offset, length) {
      const out = new Uint8Array(length);
      const { bytesRead } = await file.read(out, 0, length, offset);
      return out.subarray(0, bytesRead);
    },
  };
}

function fileStream(path: string): ReadableStream<Uint8Array> {
  return Readable.toWeb(createReadStream(path, { highWaterMark: MiB })) as ReadableStream<Uint8Array>;
}

async function encodeOurs(module: WebAssembly.Module, src: string, tgt: string, out: string): Promise<void> {
  if (existsSync(out)) return;
  const file = await open(src);
  try {
    const delta = encode(module, fileSource(file, statSync(src).size), fileStream(tgt), { targetSize: statSync(tgt).size });
    const sink = createWriteStream(out);
    for await (const chunk of delta) if (!sink.write(chunk)) await once(sink, "drain");
    sink.end();
    await once(sink, "finish");
  } finally {
    await file.close();
  }
}

function encodeNative(src: string, tgt: string, out: string): void {
  if (existsSync(out)) return;
  const r = spawnSync("xdelta3", ["-e", "-f", "-s", src, tgt, out]);
  if (r.status !== 0) throw new Error(`xdelta3 failed: ${r.stderr}`);
}

async function timedDecode(module: WebAssembly.Module, src: string, deltaPath: string, options: CodecOptions,
  expected: Uint8Array | null): Promise<Omit<Run, "delta" | "read">> {
  const file = await open(src);
  let stats: CodecStats | undefined;
  const started = performance.now();
  const cpu = process.cpuUsage();
  try {
    const out = decode(module, fileSource(file, statSync(src).size), fileStream(deltaPath), { ...options, onStats: (s) => (stats = s) });
    const pieces: Uint8Array[] = [];
    let bytesOut = 0;
    for await (const chunk of out) {
      bytesOut += chunk.length;
      if (expected) pieces.push(chunk);
    }
    const used = process.cpuUsage(cpu);
    const wallMs = performance.now() - started;
    if (expected && Buffer.compare(Buffer.concat(pieces), expected) !== 0) throw new Error(`ranged decode of ${deltaPath} gave wrong bytes`);
    return {
      bytesOut, wallMs, cpuMs: (used.user + used.system) / 1000,
      sourceBytesRead: stats!.sourceBytesRead, deltaBytesRead: stats!.bytesIn,
      windowsSkipped: stats!.windowsSkipped, windowsDecoded: stats!.windowsDecoded,
      wasmPeakMiB: stats!.wasmMemoryPeakBytes / MiB,
    };
  } finally {
    await file.close();
  }
}

async function slice(path: string, start: number, length: number): Promise<Uint8Array> {
  const file = await open(path);
  try {
    const out = new Uint8Array(length);
    await file.read(out, 0, length, start);
    return out;
  } finally {
    await file.close();
  }
}

async function main(): Promise<void> {
  const module = await loadCodecModule();
  const sizes = arg("sizes", "256,1024").split(",").map(Number);
  const runs: (Run & { sizeMiB: number; targetBytes: number; deltaBytes: number })[] = [];
  const loadBefore = loadavg().map((x) => x.toFixed(2)).join(" ");
  for (const blocks of sizes) {
    const { src, tgt } = await writeSynthetic(blocks);
    const targetBytes = statSync(tgt).size;
    const deltas = [
      { name: "ours (-6 -B16M -W1M, LZMA)", path: join(CORPUS, `synthetic-${blocks}m.ours.vcdiff`), make: () => encodeOurs(module, src, tgt, join(CORPUS, `synthetic-${blocks}m.ours.vcdiff`)) },
      { name: "xdelta3 CLI defaults (-B64M -W8M, LZMA)", path: join(CORPUS, `synthetic-${blocks}m.native.vcdiff`), make: async () => encodeNative(src, tgt, join(CORPUS, `synthetic-${blocks}m.native.vcdiff`)) },
    ];
    for (const d of deltas) {
      await d.make();
      const deltaBytes = statSync(d.path).size;
      const reads: [string, { start: number; end: number } | undefined][] = [
        ["full rebuild", undefined],
        ["last 1 MiB", { start: targetBytes - MiB, end: targetBytes - 1 }],
        ["1 MiB in the middle", { start: Math.floor(targetBytes / 2), end: Math.floor(targetBytes / 2) + MiB - 1 }],
      ];
      for (const [read, range] of reads) {
        const expected = range ? await slice(tgt, range.start, range.end - range.start + 1) : null;
        const result = await timedDecode(module, src, d.path, range ? { targetRange: range } : {}, expected);
        if (!range && result.bytesOut !== targetBytes) throw new Error(`full decode gave ${result.bytesOut} of ${targetBytes} bytes`);
        runs.push({ sizeMiB: blocks, targetBytes, deltaBytes, delta: d.name, read, ...result });
        console.error(`${blocks} MiB ${d.name} ${read}: ${result.wallMs.toFixed(0)} ms, source ${result.sourceBytesRead} B`);
      }
    }
  }
  const date = new Date().toISOString();
  const header = [
    `Run on ${date}, commit ${spawnSync("git", ["rev-parse", "--short", "HEAD"], { encoding: "utf8" }).stdout.trim()}. ` +
    `${cpus()[0]?.model.trim()}, ${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}; ` +
    `load average ${loadBefore} → ${loadavg().map((x) => x.toFixed(2)).join(" ")}.`,
    "",
    "| target | delta | read | wall ms | CPU ms | reference bytes read | delta bytes read | windows skipped / decoded | peak WASM MiB |",
    "|---|---|---|---|---|---|---|---|---|",
  ];
  const rows = runs.map((r) => `| ${r.sizeMiB} MiB | ${r.delta} (${r.deltaBytes} B) | ${r.read} | ${r.wallMs.toFixed(0)} | ${r.cpuMs.toFixed(0)} | ` +
    `${r.sourceBytesRead} | ${r.deltaBytesRead} | ${r.windowsSkipped === undefined ? "–" : `${r.windowsSkipped} / ${r.windowsDecoded}`} | ${r.wasmPeakMiB.toFixed(1)} |`);
  console.log([...header, ...rows].join("\n"));
  mkdirSync(RESULTS, { recursive: true });
  writeFileSync(join(RESULTS, `range-${date.slice(0, 10)}.json`), JSON.stringify({ date, runs }, null, 2));
}

await main();
