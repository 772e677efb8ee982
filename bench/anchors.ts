// Native anchors on the same corpus files the Worker stores: Debian `xdelta3 -e -9 -s` (delta size, encode and
// decode time, verified round trip) and `zstd -19 --patch-from` (size). Deltas are taken against the first
// version of each series, exactly as a deltaspace stores them against its reference.bin.
//
//   npx tsx bench/anchors.ts     computes (or reuses) the anchors and prints them
//
// Results are cached in bench/.cache/anchors.json, keyed by the tool versions and both files' SHA-256, because
// `zstd -19` on 50 MB binaries takes about a minute per pair.
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { BENCH_DIR, buildCorpus, type CorpusFile, type CorpusSeries } from "./corpus.ts";

export interface PairAnchor {
  source: string;
  target: string;
  targetSize: number;
  xdelta3: { size: number; encodeMs: number; decodeMs: number; roundTrip: boolean } | null;
  zstd19: { size: number; encodeMs: number } | null;
  /** Extra native runs with more flags after `-e -9` (e.g. the same -B as the Worker), keyed by those flags. */
  xdelta3Variants?: Record<string, { size: number; encodeMs: number }>;
}

export interface AnchorOptions {
  /** Skip `zstd -19 --patch-from` (1 GiB pairs: several minutes each and 2+ GiB of memory). */
  zstd: boolean;
  /** Extra flag sets for `xdelta3 -e -9 <flags>`, measured for size and encode time. */
  xdelta3Variants: string[][];
}

export interface SeriesAnchor {
  id: string;
  pairs: PairAnchor[];
  /** What a deltaspace written by native `xdelta3 -9` would hold: the reference + every delta (or the whole
   * file where the delta is not below DeltaGlider's 0.75 ratio). The first version is the reference itself. */
  xdelta3Stored: number;
  zstd19Stored: number | null;
  /** Same as xdelta3Stored for each extra flag set. */
  xdelta3VariantsStored?: Record<string, number>;
}

const CACHE_DIR = join(BENCH_DIR, ".cache");
const CACHE_FILE = join(CACHE_DIR, "anchors.json");
const MAX_DELTA_RATIO = 0.75;

const toolVersion = (cmd: string, arg: string) => {
  const r = spawnSync(cmd, [arg], { encoding: "utf8" });
  return r.error ? null : `${r.stdout}${r.stderr}`.trim().split("\n")[0];
};

function timed(cmd: string, args: string[]): number {
  const start = performance.now();
  execFileSync(cmd, args, { stdio: ["ignore", "ignore", "pipe"] });
  return performance.now() - start;
}

const sha256File = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex");

function measureVariant(src: CorpusFile, tgt: CorpusFile, flags: string[]): { size: number; encodeMs: number } {
  mkdirSync(CACHE_DIR, { recursive: true });
  const tmp = mkdtempSync(join(CACHE_DIR, "tmp-"));
  const delta = join(tmp, "d.xd3");
  try {
    const encodeMs = timed("xdelta3", ["-e", "-9", ...flags, "-D", "-f", "-s", src.path, tgt.path, delta]);
    return { size: statSync(delta).size, encodeMs };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

function measurePair(src: CorpusFile, tgt: CorpusFile, hasZstd: boolean): PairAnchor {
  mkdirSync(CACHE_DIR, { recursive: true });
  // A directory per pair and process: two runs at once must not overwrite each other's delta files.
  const tmp = mkdtempSync(join(CACHE_DIR, "tmp-"));
  const delta = join(tmp, "d.xd3");
  const decoded = join(tmp, "out");
  // -D: never run external (de)compression; the corpus holds no gzip, but this keeps the round trip byte-exact.
  const encodeMs = timed("xdelta3", ["-e", "-9", "-D", "-f", "-s", src.path, tgt.path, delta]);
  const size = statSync(delta).size;
  let decodeMs = NaN;
  let roundTrip = false;
  try {
    decodeMs = timed("xdelta3", ["-d", "-D", "-f", "-s", src.path, delta, decoded]);
    roundTrip = sha256File(decoded) === tgt.sha256;
  } catch (error) {
    console.warn(`  native xdelta3 could not decode its own delta of ${tgt.name}: ${(error as Error).message.split("\n").pop()}`);
  }
  let zstd19: PairAnchor["zstd19"] = null;
  if (hasZstd) {
    const z = join(tmp, "d.zst");
    const zMs = timed("zstd", ["-q", "-f", "-19", `--patch-from=${src.path}`, tgt.path, "-o", z]);
    zstd19 = { size: statSync(z).size, encodeMs: zMs };
  }
  rmSync(tmp, { recursive: true, force: true });
  return { source: src.name, target: tgt.name, targetSize: tgt.size, xdelta3: { size, encodeMs, decodeMs, roundTrip }, zstd19 };
}

const storedWith = (ref: CorpusFile, pairs: PairAnchor[], pick: (p: PairAnchor) => number | undefined) =>
  pairs.reduce((total, p) => {
    const d = pick(p);
    if (d === undefined) return NaN;
    return total + (d / p.targetSize < MAX_DELTA_RATIO ? d : p.targetSize);
  }, ref.size);

const DEFAULT_OPTIONS: AnchorOptions = { zstd: true, xdelta3Variants: [] };

export function computeAnchors(
  corpus: CorpusSeries[],
  log: (line: string) => void = console.log,
  optionsOf: (seriesId: string) => AnchorOptions = () => DEFAULT_OPTIONS,
): SeriesAnchor[] {
  const xdVersion = toolVersion("xdelta3", "-V");
  if (!xdVersion) throw new Error("xdelta3 is not installed (Debian: apt-get install -y xdelta3)");
  const zstdVersion = toolVersion("zstd", "-V");
  const cache: Record<string, PairAnchor> = existsSync(CACHE_FILE) ? JSON.parse(readFileSync(CACHE_FILE, "utf8")) : {};
  const result: SeriesAnchor[] = [];
  for (const series of corpus) {
    const [ref, ...rest] = series.files;
    const options = optionsOf(series.id);
    const useZstd = options.zstd && zstdVersion !== null;
    const save = () => {
      mkdirSync(CACHE_DIR, { recursive: true });
      writeFileSync(CACHE_FILE, JSON.stringify(cache, null, 1));
    };
    const pairs = rest.map((tgt) => {
      const key = `${xdVersion}|${useZstd ? zstdVersion : "no zstd"}|${ref.sha256}|${tgt.sha256}`;
      if (!cache[key]) {
        log(`  anchors ${series.id}: ${ref.name} -> ${tgt.name}`);
        cache[key] = measurePair(ref, tgt, useZstd);
        save();
      }
      const pair = { ...cache[key], xdelta3Variants: {} as Record<string, { size: number; encodeMs: number }> };
      for (const flags of options.xdelta3Variants) {
        const label = flags.join(" ");
        const vkey = `${xdVersion}|-9 ${label}|${ref.sha256}|${tgt.sha256}`;
        if (!cache[vkey]) {
          log(`  anchors ${series.id}: xdelta3 -e -9 ${label} ${ref.name} -> ${tgt.name}`);
          cache[vkey] = measureVariant(ref, tgt, flags) as never;
          save();
        }
        pair.xdelta3Variants[label] = cache[vkey] as never;
      }
      return pair;
    });
    const variantsStored = Object.fromEntries(options.xdelta3Variants.map((flags) => {
      const label = flags.join(" ");
      return [label, storedWith(ref, pairs, (p) => p.xdelta3Variants?.[label]?.size)];
    }));
    result.push({
      id: series.id,
      pairs,
      xdelta3Stored: storedWith(ref, pairs, (p) => p.xdelta3?.size),
      zstd19Stored: useZstd ? storedWith(ref, pairs, (p) => p.zstd19?.size) : null,
      ...(options.xdelta3Variants.length ? { xdelta3VariantsStored: variantsStored } : {}),
    });
  }
  return result;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const anchors = computeAnchors(buildCorpus());
  for (const a of anchors) {
    for (const p of a.pairs) {
      const x = p.xdelta3!;
      const ratio = (n: number) => `${((100 * n) / p.targetSize).toFixed(2)}%`;
      console.log(
        `${a.id.padEnd(24)} ${p.target.padEnd(34)} xdelta3 -9 ${ratio(x.size).padStart(7)} enc ${(x.encodeMs / 1000).toFixed(1)}s dec ${(x.decodeMs / 1000).toFixed(2)}s ${x.roundTrip ? "ok" : "MISMATCH"}` +
          (p.zstd19 ? `  zstd -19 ${ratio(p.zstd19.size)}` : ""),
      );
    }
  }
}
