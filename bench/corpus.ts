// Benchmark corpus: real consecutive npm releases turned into the artifact shapes users store in S3
// (a raw binary, an uncompressed .tar of the package tree, a .zip with stored or deflated entries).
//
//   npx tsx bench/corpus.ts          fetch (npm pack, cached) + derive; prints the manifest summary
//
// Everything lives under the git-ignored bench/corpus/. Output is deterministic: tars are npm's own tar stream,
// zips are written here with fixed timestamps and entry order, binaries are copied byte for byte.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { crc32, deflateRawSync, gunzipSync } from "node:zlib";

export const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
export const CORPUS_DIR = join(BENCH_DIR, "corpus");

/** The shape of the artifact a series stores. */
export type Shape = "bin" | "tar" | "zip-stored" | "zip-deflate" | "iso";

export interface SeriesSpec {
  /** Deltaspace name in the bench bucket. */
  id: string;
  pkg: string;
  /** Consecutive releases, oldest first (upload order). */
  versions: string[];
  shape: Shape;
  /** For "bin": the path of the binary inside the package tarball. */
  binPath?: string;
}

export interface CorpusFile {
  version: string;
  /** Object name inside the deltaspace (the S3 key is `<series id>/<name>`). */
  name: string;
  path: string;
  size: number;
  sha256: string;
}

export interface CorpusSeries {
  id: string;
  pkg: string;
  shape: Shape;
  files: CorpusFile[];
}

// 8 series x 3 consecutive releases, ~446 MiB logical. Binaries keep their own names (no extension), as users
// store executables; the S3 key used for them is chosen by bench.ts.
export const SERIES: SeriesSpec[] = [
  { id: "esbuild-bin", pkg: "@esbuild/linux-x64", versions: ["0.24.0", "0.24.1", "0.24.2"], shape: "bin", binPath: "package/bin/esbuild" },
  { id: "biome-bin", pkg: "@biomejs/cli-linux-x64", versions: ["1.9.2", "1.9.3", "1.9.4"], shape: "bin", binPath: "package/biome" },
  { id: "swc-bin", pkg: "@swc/core-linux-x64-gnu", versions: ["1.7.35", "1.7.36", "1.7.39"], shape: "bin", binPath: "package/swc.linux-x64-gnu.node" },
  { id: "typescript-tar", pkg: "typescript", versions: ["5.6.2", "5.6.3", "5.7.2"], shape: "tar" },
  { id: "typescript-zip-stored", pkg: "typescript", versions: ["5.6.2", "5.6.3", "5.7.2"], shape: "zip-stored" },
  { id: "typescript-zip-deflate", pkg: "typescript", versions: ["5.6.2", "5.6.3", "5.7.2"], shape: "zip-deflate" },
  { id: "prettier-tar", pkg: "prettier", versions: ["3.3.1", "3.3.2", "3.3.3"], shape: "tar" },
  { id: "prettier-zip-stored", pkg: "prettier", versions: ["3.3.1", "3.3.2", "3.3.3"], shape: "zip-stored" },
];

const npmName = (pkg: string, version: string) => `${pkg.replace(/^@/, "").replace("/", "-")}-${version}`;

/** `npm pack` once into bench/corpus/tgz; later runs reuse the file. */
function fetchTarball(pkg: string, version: string): string {
  const dir = join(CORPUS_DIR, "tgz");
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${npmName(pkg, version)}.tgz`);
  if (existsSync(file)) return file;
  const out = execFileSync("npm", ["pack", `${pkg}@${version}`, "--json", "--pack-destination", dir], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  });
  const packed = join(dir, JSON.parse(out)[0].filename as string);
  if (packed !== file) renameSync(packed, file);
  return file;
}

interface TarEntry {
  name: string;
  mode: number;
  data: Uint8Array;
}

const tarString = (b: Uint8Array, off: number, len: number) => {
  const raw = b.subarray(off, off + len);
  const end = raw.indexOf(0);
  return new TextDecoder().decode(end < 0 ? raw : raw.subarray(0, end));
};
const tarOctal = (b: Uint8Array, off: number, len: number) => parseInt(tarString(b, off, len).trim() || "0", 8);

/** Regular files of a ustar/pax tar stream, in stream order (enough for npm's tarballs). */
export function readTar(tar: Uint8Array): TarEntry[] {
  const entries: TarEntry[] = [];
  let pos = 0;
  let longName: string | undefined;
  while (pos + 512 <= tar.length) {
    const header = tar.subarray(pos, pos + 512);
    if (header.every((x) => x === 0)) break;
    const size = tarOctal(header, 124, 12);
    const type = String.fromCharCode(header[156] || 0x30);
    const prefix = tarString(header, 345, 155);
    const data = tar.subarray(pos + 512, pos + 512 + size);
    pos += 512 + Math.ceil(size / 512) * 512;
    if (type === "x") {
      const path = /\d+ path=([^\n]*)\n/.exec(new TextDecoder().decode(data));
      longName = path?.[1];
      continue;
    }
    if (type === "L") {
      longName = tarString(data, 0, data.length);
      continue;
    }
    const name = longName ?? (prefix ? `${prefix}/${tarString(header, 0, 100)}` : tarString(header, 0, 100));
    longName = undefined;
    if (type === "0" || type === "\0") entries.push({ name, mode: tarOctal(header, 100, 8), data });
  }
  return entries;
}

// 1980-01-01 00:00:00 in MS-DOS format: the earliest DOS timestamp, fixed so the zip is reproducible.
const DOS_TIME = 0;
const DOS_DATE = (0 << 9) | (1 << 5) | 1;

/** A zip of the given files, entries in the given order, stored (method 0) or deflated (method 8, level 9). */
export function writeZip(entries: TarEntry[], deflate: boolean): Uint8Array {
  const locals: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  for (const entry of entries) {
    const name = new TextEncoder().encode(entry.name);
    const packed = deflate ? new Uint8Array(deflateRawSync(entry.data, { level: 9 })) : entry.data;
    const crc = crc32(entry.data);
    const local = new DataView(new ArrayBuffer(30));
    local.setUint32(0, 0x04034b50, true);
    local.setUint16(4, 20, true);
    local.setUint16(6, 0x0800, true); // names are UTF-8
    local.setUint16(8, deflate ? 8 : 0, true);
    local.setUint16(10, DOS_TIME, true);
    local.setUint16(12, DOS_DATE, true);
    local.setUint32(14, crc, true);
    local.setUint32(18, packed.length, true);
    local.setUint32(22, entry.data.length, true);
    local.setUint16(26, name.length, true);
    locals.push(new Uint8Array(local.buffer), name, packed);
    const cd = new DataView(new ArrayBuffer(46));
    cd.setUint32(0, 0x02014b50, true);
    cd.setUint16(4, (3 << 8) | 20, true); // made by Unix, so external attributes carry the file mode
    cd.setUint16(6, 20, true);
    cd.setUint16(8, 0x0800, true);
    cd.setUint16(10, deflate ? 8 : 0, true);
    cd.setUint16(12, DOS_TIME, true);
    cd.setUint16(14, DOS_DATE, true);
    cd.setUint32(16, crc, true);
    cd.setUint32(20, packed.length, true);
    cd.setUint32(24, entry.data.length, true);
    cd.setUint16(28, name.length, true);
    cd.setUint32(38, ((0o100000 | (entry.mode & 0o777)) << 16) >>> 0, true);
    cd.setUint32(42, offset, true);
    central.push(new Uint8Array(cd.buffer), name);
    offset += 30 + name.length + packed.length;
  }
  const cdSize = central.reduce((n, b) => n + b.length, 0);
  const end = new DataView(new ArrayBuffer(22));
  end.setUint32(0, 0x06054b50, true);
  end.setUint16(8, entries.length, true);
  end.setUint16(10, entries.length, true);
  end.setUint32(12, cdSize, true);
  end.setUint32(16, offset, true);
  return Buffer.concat([...locals, ...central, new Uint8Array(end.buffer)]);
}

const EXT: Record<Shape, string> = { bin: "", tar: ".tar", "zip-stored": ".zip", "zip-deflate": ".zip", iso: ".iso" };

function deriveArtifact(spec: SeriesSpec, version: string, tgz: string): Uint8Array {
  const tar = new Uint8Array(gunzipSync(readFileSync(tgz)));
  if (spec.shape === "tar") return tar;
  const entries = readTar(tar);
  if (spec.shape === "bin") {
    const bin = entries.find((e) => e.name === spec.binPath);
    if (!bin) throw new Error(`${spec.pkg}@${version}: no ${spec.binPath} in the tarball`);
    return bin.data;
  }
  return writeZip(entries, spec.shape === "zip-deflate");
}

/** Fetch (cached) and derive every series; returns the manifest, also written to bench/corpus/manifest.json. */
export function buildCorpus(log: (line: string) => void = console.log): CorpusSeries[] {
  const manifest: CorpusSeries[] = [];
  for (const spec of SERIES) {
    const files: CorpusFile[] = [];
    const dir = join(CORPUS_DIR, "artifacts", spec.id);
    mkdirSync(dir, { recursive: true });
    for (const version of spec.versions) {
      const base = spec.shape === "bin" ? spec.binPath!.split("/").pop()! : npmName(spec.pkg, "").replace(/-$/, "");
      const name = `${base}-${version}${EXT[spec.shape]}`;
      const path = join(dir, name);
      if (!existsSync(path)) {
        log(`  deriving ${spec.id}/${name}`);
        writeFileSync(path, deriveArtifact(spec, version, fetchTarball(spec.pkg, version)));
      }
      const sha256 = createHash("sha256").update(readFileSync(path)).digest("hex");
      files.push({ version, name, path, size: statSync(path).size, sha256 });
    }
    manifest.push({ id: spec.id, pkg: spec.pkg, shape: spec.shape, files });
  }
  writeFileSync(join(CORPUS_DIR, "manifest.json"), JSON.stringify(manifest, null, 2));
  return manifest;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const manifest = buildCorpus();
  let total = 0;
  for (const s of manifest) {
    const bytes = s.files.reduce((n, f) => n + f.size, 0);
    total += bytes;
    console.log(`${s.id.padEnd(24)} ${s.files.length} versions  ${(bytes / 2 ** 20).toFixed(1).padStart(7)} MiB`);
  }
  console.log(`total ${(total / 2 ** 20).toFixed(1)} MiB logical in ${manifest.length} series`);
}
