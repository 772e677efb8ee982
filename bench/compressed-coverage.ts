// `npm run bench:compressed-coverage`: which deflate streams of real artifacts the SHIPPED deflaters (wasm/zlib-
// chromium.wasm, wasm/zlib.wasm) reproduce byte-exact (issue #18), per producer.
//
//   npm run bench:compressed-coverage [-- --limit N]
//
// Corpus (fetched once into ~/.cache/dg-bench, or $DG_BENCH_CACHE; outside the repository):
//   - npm: every tarball of bench/compressed-coverage-npm.txt, via `npm pack --prefer-offline`;
//   - Debian Java: every .jar (regular file) in the packages of DEBIAN_JAVA, via `apt-get download` + `dpkg-deb -x`.
// For each gzip member / deflated zip entry: the recipe search (src/deflate/recipe-search.ts) on the first 256 KiB,
// then the whole stream recompressed by the shipped wasm deflater and compared byte for byte (the only proof
// counted). For npm tarballs also: does the runtime's node:zlib at level 9 / memLevel 8 reproduce it (the fast
// path)? Prints markdown tables (docs/PERFORMANCE.md "Compressed artifacts: coverage") and writes
// bench/results/compressed-coverage-<date>.json.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { cpus, homedir, loadavg, totalmem } from "node:os";
import { join } from "node:path";
import { deflateRawSync, inflateRawSync } from "node:zlib";
import type { DeflateRecipe } from "../src/deflate/api.ts";
import { loadDeflaterModules } from "../src/deflate/node.ts";
import { findRecipes } from "../src/deflate/recipe-search.ts";
import { deflateWhole, ZLIB_CHROMIUM_ID } from "../src/deflate/wasm-deflater.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const CACHE = process.env.DG_BENCH_CACHE ?? join(homedir(), ".cache/dg-bench");
const NPM_DIR = join(CACHE, "npm");
const DEBIAN_DIR = join(CACHE, "debian");
const PREFIX = 256 * 1024;
const DEBIAN_JAVA = ["libcommons-lang3-java", "libguava-java", "libjackson2-core-java", "libcommons-io-java",
  "libslf4j-java", "junit4", "libasm-java", "libcommons-compress-java"];

interface StreamResult {
  artifact: string;
  producer: string;
  compressed: number;
  content: number;
  /** The recipe that reproduced the whole stream with a shipped deflater, or null. */
  recipe: DeflateRecipe | null;
  /** Candidates consistent with the prefix that were recompressed in full before one matched (or none did). */
  fullTries: number;
  /** node:zlib deflateRaw at level 9 / memLevel 8 reproduces it (npm only). */
  nodeZlib98?: boolean;
  searchMs: number;
}

const args = process.argv.slice(2);
const limit = args.includes("--limit") ? Number(args[args.indexOf("--limit") + 1]) : Infinity;
const modules = await loadDeflaterModules();

function npmSpecs(): string[] {
  return readFileSync(join(ROOT, "bench/compressed-coverage-npm.txt"), "utf8").split("\n")
    .map((l) => l.replace(/#.*/, "").trim()).filter(Boolean);
}

/** `npm pack` names the file <scope>-<name>-<version>.tgz. */
function tarballName(spec: string): string {
  const at = spec.lastIndexOf("@");
  return `${spec.slice(0, at).replace(/^@/, "").replace("/", "-")}-${spec.slice(at + 1)}.tgz`;
}

function fetchNpm(specs: string[]): string[] {
  mkdirSync(NPM_DIR, { recursive: true });
  const files: string[] = [];
  for (const spec of specs) {
    const file = join(NPM_DIR, tarballName(spec));
    if (!existsSync(file)) {
      try {
        execFileSync("npm", ["pack", "--prefer-offline", "--silent", spec], { cwd: NPM_DIR, stdio: "pipe" });
      } catch {
        console.warn(`npm pack ${spec} failed: skipped`);
        continue;
      }
    }
    if (existsSync(file)) files.push(file);
  }
  return files;
}

function fetchJars(): string[] {
  mkdirSync(DEBIAN_DIR, { recursive: true });
  const have = readdirSync(DEBIAN_DIR).filter((f) => f.endsWith(".deb"));
  const missing = DEBIAN_JAVA.filter((p) => !have.some((f) => f.startsWith(`${p}_`)));
  if (missing.length) execFileSync("apt-get", ["download", ...missing], { cwd: DEBIAN_DIR, stdio: "pipe" });
  const tree = join(DEBIAN_DIR, "x");
  for (const deb of readdirSync(DEBIAN_DIR).filter((f) => f.endsWith(".deb"))) {
    execFileSync("dpkg-deb", ["-x", join(DEBIAN_DIR, deb), tree]);
  }
  return execFileSync("find", [tree, "-name", "*.jar", "-type", "f"], { encoding: "utf8" }).split("\n").filter(Boolean).sort();
}

/** Recipe search on the prefix, then full recompression of each consistent candidate until one reproduces. */
function reproduce(raw: Uint8Array, content: Uint8Array): { recipe: DeflateRecipe | null; fullTries: number; ms: number } {
  const t0 = performance.now();
  const contentComplete = content.length <= PREFIX;
  const originalComplete = raw.length <= PREFIX;
  const matches = findRecipes(modules, content.subarray(0, PREFIX), raw.subarray(0, PREFIX),
    { contentComplete, originalComplete, limit: 3 });
  let fullTries = 0;
  for (const m of matches) {
    if (m.exact) return { recipe: m.recipe, fullTries, ms: performance.now() - t0 };
    fullTries++;
    if (Buffer.compare(deflateWhole(modules[m.recipe.deflater], m.recipe, content), raw) === 0) {
      return { recipe: m.recipe, fullTries, ms: performance.now() - t0 };
    }
  }
  return { recipe: null, fullTries, ms: performance.now() - t0 };
}

interface GzipMember { os: number; xfl: number; mtime: number; flags: number; raw: Uint8Array; content: Uint8Array }

function gzipMembers(buf: Uint8Array): GzipMember[] {
  const members: GzipMember[] = [];
  let pos = 0;
  while (pos + 18 <= buf.length && buf[pos] === 0x1f && buf[pos + 1] === 0x8b) {
    const flags = buf[pos + 3];
    const mtime = (buf[pos + 4] | buf[pos + 5] << 8 | buf[pos + 6] << 16 | buf[pos + 7] << 24) >>> 0;
    const xfl = buf[pos + 8];
    const os = buf[pos + 9];
    let at = pos + 10;
    if (flags & 4) at += 2 + (buf[at] | buf[at + 1] << 8);
    if (flags & 8) while (buf[at++] !== 0) { /* FNAME */ }
    if (flags & 16) while (buf[at++] !== 0) { /* FCOMMENT */ }
    if (flags & 2) at += 2;
    const { buffer, engine } = inflateRawSync(buf.subarray(at), { info: true } as object) as unknown as
      { buffer: Buffer; engine: { bytesWritten: number } };
    const raw = buf.subarray(at, at + engine.bytesWritten);
    members.push({ os, xfl, mtime, flags, raw, content: buffer });
    pos = at + engine.bytesWritten + 8;
  }
  return members;
}

function gzipProducer(m: GzipMember): string {
  const traits = `OS ${m.os}, XFL ${m.xfl}, mtime ${m.mtime === 0 ? "0" : "set"}${m.flags & 8 ? ", name" : ""}`;
  // The npm CLI packs through pacote → node-tar → minizlib with { portable: true, gzip: { level: 9 } }: minizlib's
  // portable mode overwrites the OS byte with 255, mtime stays 0, and zlib writes XFL 2 for level 9.
  return m.os === 255 && m.xfl === 2 && m.mtime === 0 && (m.flags & ~1) === 0 ? `npm CLI (${traits})` : `other packer (${traits})`;
}

interface ZipEntry { name: string; method: number; raw: Uint8Array; madeBy: number }

function zipEntries(buf: Uint8Array): ZipEntry[] {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let eocd = -1;
  for (let i = buf.length - 22; i >= Math.max(0, buf.length - 65_557); i--) {
    if (view.getUint32(i, true) === 0x06054b50) { eocd = i; break; }
  }
  if (eocd < 0) throw new Error("no end of central directory");
  const count = view.getUint16(eocd + 10, true);
  let at = view.getUint32(eocd + 16, true);
  const entries: ZipEntry[] = [];
  for (let n = 0; n < count; n++) {
    if (view.getUint32(at, true) !== 0x02014b50) throw new Error("bad central directory");
    const madeBy = view.getUint16(at + 4, true);
    const method = view.getUint16(at + 10, true);
    const compSize = view.getUint32(at + 20, true);
    const nameLen = view.getUint16(at + 28, true);
    const extraLen = view.getUint16(at + 30, true);
    const commentLen = view.getUint16(at + 32, true);
    const local = view.getUint32(at + 42, true);
    const name = new TextDecoder().decode(buf.subarray(at + 46, at + 46 + nameLen));
    const dataAt = local + 30 + view.getUint16(local + 26, true) + view.getUint16(local + 28, true);
    entries.push({ name, method, madeBy, raw: buf.subarray(dataAt, dataAt + compSize) });
    at += 46 + nameLen + extraLen + commentLen;
  }
  return entries;
}

function jarProducer(entries: ZipEntry[]): string {
  const manifest = entries.find((e) => e.name === "META-INF/MANIFEST.MF");
  let createdBy = "no manifest";
  if (manifest) {
    const text = new TextDecoder().decode(manifest.method === 8 ? inflateRawSync(manifest.raw) : manifest.raw);
    createdBy = /^Created-By: *(.*)$/m.exec(text)?.[1].trim() ?? "no Created-By";
  }
  return createdBy;
}

const results: StreamResult[] = [];
const started = Date.now();

const npmFiles = fetchNpm(npmSpecs().slice(0, limit));
for (const [i, file] of npmFiles.entries()) {
  const artifact = file.slice(NPM_DIR.length + 1);
  for (const m of gzipMembers(new Uint8Array(readFileSync(file)))) {
    const r = reproduce(m.raw, m.content);
    const nodeZlib98 = Buffer.compare(deflateRawSync(m.content, { level: 9, memLevel: 8 }), m.raw) === 0;
    results.push({ artifact, producer: gzipProducer(m), compressed: m.raw.length, content: m.content.length,
      recipe: r.recipe, fullTries: r.fullTries, nodeZlib98, searchMs: r.ms });
  }
  if (process.env.DG_BENCH_VERBOSE) console.error(artifact, results.at(-1));
  if ((i + 1) % 25 === 0) console.error(`npm ${i + 1}/${npmFiles.length}`);
}

const jarFiles = fetchJars().slice(0, limit);
for (const file of jarFiles) {
  const artifact = file.slice(file.lastIndexOf("/") + 1);
  const entries = zipEntries(new Uint8Array(readFileSync(file)));
  const producer = jarProducer(entries);
  for (const e of entries.filter((x) => x.method === 8)) {
    const content = inflateRawSync(e.raw);
    const r = reproduce(e.raw, content);
    results.push({ artifact, producer: `${producer} (zip made by ${e.madeBy >> 8 === 3 ? "Unix" : e.madeBy >> 8 === 0 ? "FAT/DOS" : e.madeBy >> 8})`,
      compressed: e.raw.length, content: content.length, recipe: r.recipe, fullTries: r.fullTries, searchMs: r.ms });
  }
}

// ---- report ----
const pct = (n: number, d: number) => (d === 0 ? "–" : `${((100 * n) / d).toFixed(1)} %`);
const recipeName = (r: DeflateRecipe) => `${r.deflater === ZLIB_CHROMIUM_ID ? "chromium" : "vanilla"} ${r.level}/${r.memLevel}` +
  (r.windowBits !== 15 ? ` w${r.windowBits}` : "") + (r.strategy !== 0 ? ` s${r.strategy}` : "");

function table(kind: "npm" | "jar"): string {
  const rows = results.filter((r) => (kind === "npm" ? r.nodeZlib98 !== undefined : r.nodeZlib98 === undefined));
  const producers = [...new Set(rows.map((r) => r.producer))].sort();
  const lines = [kind === "npm"
    ? "| producer (gzip header) | tarballs | reproduced by a shipped deflater | recipes found | node:zlib 9/8 reproduces | bytes reproduced |"
    : "| producer (Created-By; zip host) | deflated entries | reproduced by a shipped deflater | recipes found | bytes reproduced |",
  kind === "npm" ? "|---|---:|---:|---|---:|---:|" : "|---|---:|---:|---|---:|"];
  for (const p of [...producers, "all"]) {
    const group = p === "all" ? rows : rows.filter((r) => r.producer === p);
    const ok = group.filter((r) => r.recipe);
    const recipes = new Map<string, number>();
    for (const r of ok) recipes.set(recipeName(r.recipe!), (recipes.get(recipeName(r.recipe!)) ?? 0) + 1);
    const recipeText = [...recipes].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k}: ${v}`).join(", ") || "–";
    const bytes = pct(ok.reduce((s, r) => s + r.compressed, 0), group.reduce((s, r) => s + r.compressed, 0));
    const label = p === "all" ? "**all**" : p;
    lines.push(kind === "npm"
      ? `| ${label} | ${group.length} | ${ok.length} (${pct(ok.length, group.length)}) | ${recipeText} | ${group.filter((r) => r.nodeZlib98).length} (${pct(group.filter((r) => r.nodeZlib98).length, group.length)}) | ${bytes} |`
      : `| ${label} | ${group.length} | ${ok.length} (${pct(ok.length, group.length)}) | ${recipeText} | ${bytes} |`);
  }
  return lines.join("\n");
}

function perJar(): string {
  const rows = results.filter((r) => r.nodeZlib98 === undefined);
  const jars = [...new Set(rows.map((r) => r.artifact))];
  const lines = ["| jar | Created-By | deflated entries | reproduced |", "|---|---|---:|---:|"];
  for (const j of jars) {
    const g = rows.filter((r) => r.artifact === j);
    lines.push(`| ${j} | ${g[0].producer} | ${g.length} | ${pct(g.filter((r) => r.recipe).length, g.length)} |`);
  }
  return lines.join("\n");
}

/**
 * Recompression speed (content MB/s) of the shipped wasm deflater vs the runtime's native zlib (the fast path), on
 * the biggest npm-CLI streams the Chromium zlib at 9/8 reproduced (content ≤ 40 MB): the CPU a GET costs when
 * the rebuilt-object cache does not serve it.
 */
function throughput(): string {
  const picks = results.filter((r) => r.producer.startsWith("npm CLI") && r.recipe?.deflater === ZLIB_CHROMIUM_ID &&
    r.recipe.level === 9 && r.content <= 40e6).sort((a, b) => b.content - a.content).slice(0, 3);
  const lines = ["| tarball | content | wasm zlib-chromium 9/8 | node:zlib 9/8 (native) |", "|---|---:|---:|---:|"];
  for (const p of picks) {
    const member = gzipMembers(new Uint8Array(readFileSync(join(NPM_DIR, p.artifact))))[0];
    let t = performance.now();
    const wasm = deflateWhole(modules[ZLIB_CHROMIUM_ID], p.recipe!, member.content);
    const wasmS = (performance.now() - t) / 1000;
    t = performance.now();
    const native = deflateRawSync(member.content, { level: 9, memLevel: 8 });
    const nativeS = (performance.now() - t) / 1000;
    if (Buffer.compare(wasm, member.raw) !== 0 || Buffer.compare(native, member.raw) !== 0) throw new Error(`${p.artifact}: not reproduced`);
    const mb = member.content.length / 1e6;
    lines.push(`| ${p.artifact} | ${mb.toFixed(1)} MB | ${(mb / wasmS).toFixed(1)} MB/s | ${(mb / nativeS).toFixed(1)} MB/s |`);
  }
  return lines.join("\n");
}

const commit = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: ROOT, encoding: "utf8" }).trim();
const machine = `${cpus()[0].model}, ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, Node ${process.version}`;
const searchMs = results.map((r) => r.searchMs).sort((a, b) => a - b);
const summary = [
  `Run ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC, commit ${commit}, ${machine}, ` +
    `load average ${loadavg().map((x) => x.toFixed(2)).join(" / ")}; ${((Date.now() - started) / 1000).toFixed(0)} s.`,
  "",
  `npm: ${npmFiles.length} tarballs; Debian Java: ${jarFiles.length} jars from ${DEBIAN_JAVA.join(", ")}.`,
  "",
  table("npm"),
  "",
  table("jar"),
  "",
  perJar(),
  "",
  throughput(),
  "",
  `Search + full check per stream (wasm, this machine): median ${searchMs[Math.floor(searchMs.length / 2)]?.toFixed(1)} ms, ` +
    `p95 ${searchMs[Math.floor(searchMs.length * 0.95)]?.toFixed(1)} ms, max ${searchMs.at(-1)?.toFixed(0)} ms.`,
].join("\n");
console.log(summary);
mkdirSync(join(ROOT, "bench/results"), { recursive: true });
const out = join(ROOT, `bench/results/compressed-coverage-${new Date().toISOString().slice(0, 10)}.json`);
// One result per line: the file stays diffable and small.
writeFileSync(out, `{"commit":${JSON.stringify(commit)},"machine":${JSON.stringify(machine)},"results":[\n` +
  results.map((r) => JSON.stringify({ ...r, searchMs: Math.round(r.searchMs) })).join(",\n") + "\n]}\n");
console.error(`wrote ${out} (${(statSync(out).size / 1024).toFixed(0)} KiB)`);
