// Real-ish release artifacts for the compressed-aware delta tests, made in the test itself: a tar of text
// files (a package's sources), gzipped the way the npm CLI does it (Node's zlib, level 9, memLevel 8, OS byte
// 0xff is npm's; the level is what matters), and zips with deflated and stored entries.
import * as zlib from "node:zlib";

export interface FileEntry {
  name: string;
  data: Uint8Array;
}

const encoder = new TextEncoder();

/** A package's sources, version `minor`: most files identical between versions, a few edited, one added. */
export function packageFiles(minor: number, files = 40, linesPerFile = 400): FileEntry[] {
  const out: FileEntry[] = [];
  for (let f = 0; f < files; f++) {
    const lines: string[] = [`// module ${f} of the package, version 1.${minor}.0`];
    for (let l = 0; l < linesPerFile; l++) {
      const edited = f % 13 === 3 && l % 97 === minor % 97;
      lines.push(`export function fn_${f}_${l}(a, b) { return a * ${(f * 31 + l * 7) % 1009} + b${edited ? ` - ${minor}` : ""}; } // ${"x".repeat((f + l) % 17)}`);
    }
    out.push({ name: `package/lib/module-${f}.js`, data: encoder.encode(lines.join("\n") + "\n") });
  }
  out.push({ name: "package/package.json", data: encoder.encode(JSON.stringify({ name: "pkg", version: `1.${minor}.0` }, null, 2)) });
  if (minor > 0) out.push({ name: `package/CHANGELOG-${minor}.md`, data: encoder.encode(`# 1.${minor}.0\n- fixes\n`.repeat(20)) });
  return out;
}

/** A POSIX ustar archive of the files (what `npm pack` makes before gzipping). */
export function tarOf(files: FileEntry[]): Uint8Array {
  const blocks: Uint8Array[] = [];
  for (const file of files) {
    const header = new Uint8Array(512);
    const put = (text: string, at: number) => header.set(encoder.encode(text), at);
    put(file.name, 0);
    put("0000644\0", 100);
    put("0000000\0", 108);
    put("0000000\0", 116);
    put(file.data.length.toString(8).padStart(11, "0") + "\0", 124);
    put("14717175000\0", 136);
    put("        ", 148);
    put("0", 156);
    put("ustar\0" + "00", 257);
    const sum = header.reduce((a, b) => a + b, 0);
    put(sum.toString(8).padStart(6, "0") + "\0 ", 148);
    blocks.push(header, file.data, new Uint8Array((512 - (file.data.length % 512)) % 512));
  }
  blocks.push(new Uint8Array(1024));
  return concat(blocks);
}

/** gzip as the npm CLI makes it: Node's zlib at level 9, memLevel 8, OS byte 0xff. */
export function npmGzip(tar: Uint8Array): Uint8Array {
  const out = new Uint8Array(zlib.gzipSync(tar, { level: 9, memLevel: 8 }));
  out[9] = 0xff;
  return out;
}

export interface ZipOptions {
  level?: number;
  /** Entries stored (method 0) instead of deflated. */
  stored?: (name: string) => boolean;
  /** Entries deflated with zlib's Huffman-only strategy at memLevel 2 (parameters the recipe search does not try). */
  huffmanOnly?: (name: string) => boolean;
  /** Sizes and CRC after the data (flag bit 3, data descriptor with signature). */
  dataDescriptor?: boolean;
}

/** A zip as Python's zipfile or a jar tool writes one: local headers, entries, central directory, end record. */
export function zipOf(files: FileEntry[], options: ZipOptions = {}): Uint8Array {
  const parts: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  for (const file of files) {
    const stored = options.stored?.(file.name) ?? false;
    const odd = options.huffmanOnly?.(file.name) ?? false;
    const params = { level: options.level ?? 6, strategy: odd ? zlib.constants.Z_HUFFMAN_ONLY : zlib.constants.Z_DEFAULT_STRATEGY, memLevel: odd ? 2 : 8 };
    const data = stored ? file.data : new Uint8Array(zlib.deflateRawSync(file.data, params));
    const crc = zlib.crc32(file.data);
    const name = encoder.encode(file.name);
    const flags = options.dataDescriptor ? 8 : 0;
    const local = le([[0x04034b50, 4], [20, 2], [flags, 2], [stored ? 0 : 8, 2], [0, 2], [0x5a21, 2],
      [flags ? 0 : crc, 4], [flags ? 0 : data.length, 4], [flags ? 0 : file.data.length, 4], [name.length, 2], [0, 2]]);
    const descriptor = flags ? le([[0x08074b50, 4], [crc, 4], [data.length, 4], [file.data.length, 4]]) : new Uint8Array(0);
    parts.push(local, name, data, descriptor);
    central.push(le([[0x02014b50, 4], [20, 2], [20, 2], [flags, 2], [stored ? 0 : 8, 2], [0, 2], [0x5a21, 2], [crc, 4],
      [data.length, 4], [file.data.length, 4], [name.length, 2], [0, 2], [0, 2], [0, 2], [0, 2], [0, 4], [offset, 4]]), name);
    offset += local.length + name.length + data.length + descriptor.length;
  }
  const directory = concat(central);
  const end = le([[0x06054b50, 4], [0, 2], [0, 2], [files.length, 2], [files.length, 2], [directory.length, 4], [offset, 4], [0, 2]]);
  return concat([...parts, directory, end]);
}

function le(fields: Array<[number, number]>): Uint8Array {
  const out = new Uint8Array(fields.reduce((n, [, size]) => n + size, 0));
  let at = 0;
  for (const [value, size] of fields) {
    for (let i = 0; i < size; i++) out[at + i] = Math.floor(value / 2 ** (8 * i)) & 0xff;
    at += size;
  }
  return out;
}

export function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}

/**
 * A gzip whose deflate stream is level 9 for its first `split` bytes and then carries a sync flush (an empty
 * stored block no plain level-9 stream has): its start matches the npm recipe, the whole does not.
 */
export async function gzipWithFlushAt(content: Uint8Array, split: number): Promise<Uint8Array> {
  const deflater = zlib.createDeflateRaw({ level: 9, memLevel: 8 });
  const out: Uint8Array[] = [];
  deflater.on("data", (chunk: Uint8Array) => out.push(new Uint8Array(chunk)));
  const ended = new Promise((resolve) => deflater.on("end", resolve));
  await new Promise<void>((resolve) => deflater.write(content.subarray(0, split), () => resolve()));
  await new Promise<void>((resolve) => deflater.flush(zlib.constants.Z_SYNC_FLUSH, () => resolve()));
  deflater.end(content.subarray(split));
  await ended;
  const header = Uint8Array.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 2, 0xff]);
  const trailer = le([[zlib.crc32(content), 4], [content.length % 2 ** 32, 4]]);
  return concat([header, ...out, trailer]);
}
