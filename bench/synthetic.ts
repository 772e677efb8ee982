// The synthetic 1 GiB series of the benchmark (issue 7): three ~1 GiB disk-image-like versions, generated
// deterministically from a seeded PRNG into the git-ignored bench/corpus/synthetic-1g/ (nothing is stored in git).
// Version 1 is pseudo-random 1 MiB blocks (half of each word low-entropy, so secondary compression has work);
// each later version is the previous one with, per 1 MiB block: scattered byte edits, a 200-byte insert in every
// 4th block, a 100-byte deletion in every 8th, neighbour blocks swapped (moves), every 64th block replaced by the
// block 6 MiB earlier (a long move), and every 128th block brand new. Offsets shift per version so edits accumulate.
//
//   npx tsx bench/synthetic.ts      generate (or reuse) and print the files
//
// Blocks stream through memory one at a time (a ring of the last 8 blocks for moves): generating 3 GiB needs
// ~10 MiB. A small manifest next to the files records sizes and SHA-256 so later runs skip the hashing.
import { createHash } from "node:crypto";
import { closeSync, createWriteStream, existsSync, mkdirSync, openSync, readFileSync, readSync, renameSync, statSync, writeFileSync } from "node:fs";
import { once } from "node:events";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { CORPUS_DIR, type CorpusSeries, type CorpusFile } from "./corpus.ts";
import { fillRandomWords, xorshift32 } from "../test/fixtures/random.ts";

export const SYNTHETIC_ID = "synthetic-1g";
const DIR = join(CORPUS_DIR, SYNTHETIC_ID);
const MiB = 1024 * 1024;
const BLOCKS = 1024;
const SEED = 7;
/** Bump when the generator changes: the manifest of an older generator is ignored and the files rebuilt. */
const GENERATOR = 1;
const VERSIONS = ["1.0.0", "1.1.0", "1.2.0"];
const nameOf = (version: string) => `disk-${version}.iso`;

/** A pseudo-random stream per (version, block) so any block can be regenerated alone; the multiply spreads
 *  nearby seeds apart. */
function prng(seed: number): () => number {
  return xorshift32(Math.imul(seed, 2654435761));
}

/** Half of each 32-bit word low-entropy, so secondary compression has work. */
function randomBlock(seed: number, size = MiB): Uint8Array {
  const out = new Uint8Array(size);
  fillRandomWords(out, Math.imul(seed, 2654435761), 0x0f0f00ff);
  return out;
}

/** Version 1, block by block. */
function* firstVersion(): Generator<Uint8Array> {
  for (let j = 0; j < BLOCKS; j++) yield randomBlock(SEED * 1_000_003 + j);
}

/** The previous version's file, read back in 1 MiB blocks. */
function* blocksOf(path: string): Generator<Uint8Array> {
  const fd = openSync(path, "r");
  try {
    for (;;) {
      const buf = new Uint8Array(MiB);
      const n = readSync(fd, buf, 0, MiB, null);
      if (n === 0) return;
      yield n === MiB ? buf : buf.subarray(0, n);
    }
  } finally {
    closeSync(fd);
  }
}

/** Version `v` (≥ 2) from the blocks of version v-1. */
function* nextVersion(previous: Iterable<Uint8Array>, v: number): Generator<Uint8Array> {
  const ring: Uint8Array[] = []; // last 8 blocks of the previous version, for long moves
  let held: Uint8Array | undefined; // a block waiting for its neighbour (swap)
  let j = 0;
  const shift = v * 3;
  for (const original of previous) {
    ring.push(original);
    if (ring.length > 8) ring.shift();
    const k = j + shift;
    let block = original;
    if (k % 128 === 77) block = randomBlock(SEED * 7_000_001 + v * 100_000 + j); // brand new
    else if (k % 64 === 40 && ring.length > 6) block = ring[ring.length - 7].slice(); // from 6 MiB back
    const edited = edit(block === original ? original.slice() : block, v, j, k);
    j++;
    // Neighbour swap: hold block k≡5 (mod 16) and emit it after the next one.
    if (k % 16 === 5) {
      held = edited;
      continue;
    }
    yield edited;
    if (held) {
      yield held;
      held = undefined;
    }
  }
  if (held) yield held;
}

/** Scattered byte edits, an insert in every 4th block, a deletion in every 8th. */
function edit(block: Uint8Array, v: number, j: number, k: number): Uint8Array {
  const next = prng(v * 9_973 + j);
  for (let n = 0; n < 16; n++) block[next() % block.length] ^= 0x5a;
  let out = block;
  if (k % 4 === 0) {
    const insert = randomBlock(v * 31_337 + j, 200);
    const at = next() % out.length;
    const grown = new Uint8Array(out.length + insert.length);
    grown.set(out.subarray(0, at));
    grown.set(insert, at);
    grown.set(out.subarray(at), at + insert.length);
    out = grown;
  }
  if (k % 8 === 3 && out.length > 4096) {
    const at = next() % (out.length - 200);
    const shrunk = new Uint8Array(out.length - 100);
    shrunk.set(out.subarray(0, at));
    shrunk.set(out.subarray(at + 100), at);
    out = shrunk;
  }
  return out;
}

async function writeBlocks(path: string, blocks: Iterable<Uint8Array>): Promise<{ size: number; sha256: string }> {
  const hash = createHash("sha256");
  const file = createWriteStream(`${path}.part`);
  let size = 0;
  for (const b of blocks) {
    hash.update(b);
    size += b.length;
    if (!file.write(b)) await once(file, "drain");
  }
  file.end();
  await once(file, "finish");
  renameSync(`${path}.part`, path);
  return { size, sha256: hash.digest("hex") };
}

interface Manifest {
  generator: number;
  files: Array<{ version: string; name: string; size: number; sha256: string }>;
}

/** Generate (or reuse) the three versions; returns them as a corpus series (shape "iso"). */
export async function buildSynthetic(log: (line: string) => void = console.log): Promise<CorpusSeries> {
  mkdirSync(DIR, { recursive: true });
  const manifestPath = join(DIR, "manifest.json");
  const old: Manifest | undefined = existsSync(manifestPath) ? JSON.parse(readFileSync(manifestPath, "utf8")) : undefined;
  const files: CorpusFile[] = [];
  let rebuild = old?.generator !== GENERATOR;
  for (let i = 0; i < VERSIONS.length; i++) {
    const version = VERSIONS[i];
    const name = nameOf(version);
    const path = join(DIR, name);
    const known = old?.files.find((f) => f.name === name);
    if (!rebuild && known && existsSync(path) && statSync(path).size === known.size) {
      files.push({ version, name, path, size: known.size, sha256: known.sha256 });
      continue;
    }
    rebuild = true; // every later version derives from this one
    log(`  generating ${SYNTHETIC_ID}/${name}`);
    const blocks = i === 0 ? firstVersion() : nextVersion(blocksOf(files[i - 1].path), i + 1);
    const { size, sha256 } = await writeBlocks(path, blocks);
    files.push({ version, name, path, size, sha256 });
  }
  const manifest: Manifest = { generator: GENERATOR, files: files.map(({ version, name, size, sha256 }) => ({ version, name, size, sha256 })) };
  writeFileSync(manifestPath, JSON.stringify(manifest, null, 2));
  return { id: SYNTHETIC_ID, pkg: `synthetic (seed ${SEED})`, shape: "iso", files };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const series = await buildSynthetic();
  for (const f of series.files) console.log(`${f.name}  ${f.size} bytes  ${f.sha256}`);
}
