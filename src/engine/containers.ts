// Compressed containers (gzip, zip) as segments: raw bytes kept verbatim (gzip headers and trailers, zip local
// headers, data descriptors, stored entries, the central directory) and deflate streams, each replaced by its
// inflated content. The "inflated form" of an object is a small header (the segment table, with a recipe per
// deflate stream) followed by every segment's bytes in order, raw ones as they are and deflate ones inflated;
// that is what compressed-aware deltas delta-compress (docs/STORAGE_FORMAT.md "Compressed artifacts").
//
// Nothing here decides whether the bytes are rebuilt correctly: the caller recompresses the whole object from its
// inflated form and compares it with the upload before using it, and every GET checks the SHA-256.
// Zip entries are found by walking local headers front to back (never by the central directory's offsets), so
// overlapping or lying entries cannot make a segment cover bytes twice; anything the walk does not understand
// ends the walk and stays raw.
import type { DeflateRecipe, Deflater } from "../deflate/api";
import { InflateError, RawInflater } from "../deflate/runtime-zlib";

export type ContainerFormat = "gzip" | "zip";

export type Segment =
  | { kind: "raw"; length: number }
  /** `length` compressed bytes that inflate to `inflated` bytes; `recipe` rebuilds them (absent: inflate only). */
  | { kind: "deflate"; length: number; inflated: number; recipe?: DeflateRecipe };

/** Bytes of one segment's start kept for the recipe search (and all of a stream up to this size). */
export const SAMPLE_BYTES = 1024 * 1024;
/** A gzip header's optional fields (name, comment, extra) beyond this are not parsed (stays as-is). */
const MAX_GZIP_HEADER = 64 * 1024;
const COPY_CHUNK = 256 * 1024;

export class ContainerError extends Error {
  /** The segment it concerns, when known (the rebuild of that segment failed). */
  constructor(message: string, readonly segment?: number) {
    super(message);
  }
}

/** A deflate segment recompressed to another length than recorded: its deflater did not make the same bytes. */
export class RecompressMismatchError extends ContainerError {}

/** The deflater a recipe names (a fast path may stand in for it), or null when this build has none. */
export type DeflaterResolver = (recipe: DeflateRecipe) => Deflater | null | Promise<Deflater | null>;

/** gzip (1f 8b 08) or zip (a local file header, PK\3\4) by the first bytes; null for anything else. */
export function sniffFormat(head: Uint8Array): ContainerFormat | null {
  if (head.length >= 3 && head[0] === 0x1f && head[1] === 0x8b && head[2] === 8) return "gzip";
  if (head.length >= 4 && head[0] === 0x50 && head[1] === 0x4b && head[2] === 3 && head[3] === 4) return "zip";
  return null;
}

// ------------------------------------------------------------------------------------------ byte queue

/** Pull-based reading of a stream: wait for n bytes, look at them, take them, give back what was not used. */
export class ByteQueue {
  private chunks: Uint8Array[] = [];
  private buffered = 0;
  private ended = false;
  /** Bytes taken so far. */
  position = 0;

  constructor(private readonly reader: ReadableStreamDefaultReader<Uint8Array>) {}

  /** True when n bytes are buffered (false: the stream ended first). */
  async fill(n: number): Promise<boolean> {
    while (this.buffered < n && !this.ended) {
      const { done, value } = await this.reader.read();
      if (done) this.ended = true;
      else if (value.byteLength) {
        this.chunks.push(value);
        this.buffered += value.byteLength;
      }
    }
    return this.buffered >= n;
  }

  async atEnd(): Promise<boolean> {
    return !(await this.fill(1));
  }

  get available(): number {
    return this.buffered;
  }

  peek(n: number): Uint8Array {
    if (this.chunks[0]?.byteLength >= n) return this.chunks[0].subarray(0, n);
    const out = new Uint8Array(n);
    let at = 0;
    for (const chunk of this.chunks) {
      if (at >= n) break;
      const part = chunk.subarray(0, n - at);
      out.set(part, at);
      at += part.byteLength;
    }
    return out;
  }

  /** Up to n buffered bytes from the front (at least one if any is buffered). */
  takeSome(n: number): Uint8Array {
    const first = this.chunks[0];
    if (!first) return new Uint8Array(0);
    const piece = first.subarray(0, n);
    if (piece.byteLength === first.byteLength) this.chunks.shift();
    else this.chunks[0] = first.subarray(piece.byteLength);
    this.buffered -= piece.byteLength;
    this.position += piece.byteLength;
    return piece;
  }

  /** Give back the tail of what was taken last (bytes past a deflate stream's end). */
  unshift(bytes: Uint8Array): void {
    if (!bytes.byteLength) return;
    this.chunks.unshift(bytes);
    this.buffered += bytes.byteLength;
    this.position -= bytes.byteLength;
  }

  async cancel(): Promise<void> {
    await this.reader.cancel().catch(() => {});
  }
}

// ------------------------------------------------------------------------------------------ scanning

/** What the scan reports about each deflate stream (for the recipe search). */
export interface StreamSeen {
  content: Uint8Array;
  compressed: Uint8Array;
  whole: boolean;
}

export interface ScanOptions {
  /** The inflated form may not grow beyond this (gzip bombs): the scan gives up (null). */
  maxInflated: number;
  /** Called for each deflate stream with its sample; returns the recipe to record (or none). */
  onStream?: (seen: StreamSeen) => DeflateRecipe | undefined;
}

/**
 * Walk the container and return its segments; null when it is not a container we can take apart (bad header,
 * truncated or corrupt deflate data, over the size cap, nothing deflated in it).
 */
export async function scanContainer(stream: ReadableStream<Uint8Array>, options: ScanOptions): Promise<Segment[] | null> {
  const queue = new ByteQueue(stream.getReader());
  const segments = new SegmentList(options.maxInflated);
  try {
    if (!(await queue.fill(4))) return null;
    const format = sniffFormat(queue.peek(4));
    if (format === "gzip") await scanGzip(queue, segments, options);
    else if (format === "zip") await scanZip(queue, segments, options);
    else return null;
    await rawToEnd(queue, segments);
    return segments.hasDeflate() ? segments.list : null;
  } catch (error) {
    if (error instanceof ContainerError || error instanceof InflateError) return null;
    throw error;
  } finally {
    await queue.cancel();
  }
}

class SegmentList {
  readonly list: Segment[] = [];
  private inflatedTotal = 0;

  constructor(private readonly maxInflated: number) {}

  raw(length: number): void {
    if (!length) return;
    this.grow(length);
    const last = this.list[this.list.length - 1];
    if (last?.kind === "raw") last.length += length;
    else this.list.push({ kind: "raw", length });
  }

  deflate(length: number, inflated: number, recipe?: DeflateRecipe): void {
    this.list.push({ kind: "deflate", length, inflated, ...(recipe ? { recipe } : {}) });
  }

  /** Count inflated bytes as they appear, so a bomb is stopped while inflating, not after. */
  grow(bytes: number): void {
    this.inflatedTotal += bytes;
    if (this.inflatedTotal > this.maxInflated) throw new ContainerError("inflated form over the size cap");
  }

  hasDeflate(): boolean {
    return this.list.some((s) => s.kind === "deflate");
  }
}

async function scanGzip(queue: ByteQueue, segments: SegmentList, options: ScanOptions): Promise<void> {
  while (await queue.fill(3)) {
    if (sniffFormat(queue.peek(3)) !== "gzip") return; // the rest (padding, anything) stays raw
    const headerLength = await gzipHeaderLength(queue);
    skipRaw(queue, segments, headerLength);
    await scanDeflate(queue, segments, options);
    if (!(await queue.fill(8))) throw new ContainerError("gzip member without its trailer");
    skipRaw(queue, segments, 8); // CRC32 + ISIZE, verbatim
  }
}

/** RFC 1952 header length (fixed 10 bytes + FEXTRA + FNAME + FCOMMENT + FHCRC). */
async function gzipHeaderLength(queue: ByteQueue): Promise<number> {
  if (!(await queue.fill(10))) throw new ContainerError("truncated gzip header");
  const flags = queue.peek(10)[3];
  if (flags & 0xe0) throw new ContainerError("reserved gzip flags set");
  let length = 10;
  if (flags & 4) {
    if (!(await queue.fill(length + 2))) throw new ContainerError("truncated gzip extra field");
    const head = queue.peek(length + 2);
    length += 2 + (head[length] | (head[length + 1] << 8));
  }
  for (const flag of [8, 16]) {
    if (flags & flag) length = await zeroTerminated(queue, length);
  }
  if (flags & 2) length += 2;
  if (length > MAX_GZIP_HEADER || !(await queue.fill(length))) throw new ContainerError("gzip header too long or truncated");
  return length;
}

async function zeroTerminated(queue: ByteQueue, from: number): Promise<number> {
  for (let at = from; at < MAX_GZIP_HEADER; at++) {
    if (!(await queue.fill(at + 1))) break;
    if (queue.peek(at + 1)[at] === 0) return at + 1;
  }
  throw new ContainerError("gzip header field not terminated");
}

const LOCAL_HEADER = 0x04034b50;
const DATA_DESCRIPTOR = 0x08074b50;

async function scanZip(queue: ByteQueue, segments: SegmentList, options: ScanOptions): Promise<void> {
  while ((await queue.fill(30)) && u32(queue.peek(4), 0) === LOCAL_HEADER) {
    const head = queue.peek(30);
    const flags = u16(head, 6);
    const method = u16(head, 8);
    const compressedSize = u32(head, 18);
    const headerLength = 30 + u16(head, 26) + u16(head, 28);
    if (!(await queue.fill(headerLength))) return;
    skipRaw(queue, segments, headerLength);
    const encrypted = flags & 1;
    if (method === 8 && !encrypted) await scanDeflate(queue, segments, options);
    else if (flags & 8 || compressedSize === 0xffffffff) return; // size unknown here: the rest stays raw
    else if (!(await queue.fill(compressedSize))) return;
    else skipRaw(queue, segments, compressedSize);
    if (flags & 8) await skipDataDescriptor(queue, segments);
  }
}

/** A data descriptor (with or without its signature; 32- or 64-bit sizes) stays raw. */
async function skipDataDescriptor(queue: ByteQueue, segments: SegmentList): Promise<void> {
  await queue.fill(28);
  const bytes = queue.peek(Math.min(queue.available, 28));
  const signed = bytes.byteLength >= 4 && u32(bytes, 0) === DATA_DESCRIPTOR;
  const short = signed ? 16 : 12;
  const long = signed ? 24 : 20;
  const signatureAt = (at: number) => bytes.byteLength >= at + 4 && [LOCAL_HEADER, 0x02014b50].includes(u32(bytes, at));
  skipRaw(queue, segments, Math.min(queue.available, !signatureAt(short) && signatureAt(long) ? long : short));
}

function skipRaw(queue: ByteQueue, segments: SegmentList, length: number): void {
  let left = length;
  while (left > 0) left -= queue.takeSome(left).byteLength;
  segments.raw(length);
}

async function rawToEnd(queue: ByteQueue, segments: SegmentList): Promise<void> {
  while (await queue.fill(1)) segments.raw(queue.takeSome(Number.MAX_SAFE_INTEGER).byteLength);
}

/** Inflate one deflate stream at the queue's front: its segment, with a recipe when the search found one. */
async function scanDeflate(queue: ByteQueue, segments: SegmentList, options: ScanOptions): Promise<void> {
  const sample = new Sample();
  const steps = inflateOne(queue, Number.MAX_SAFE_INTEGER);
  for (;;) {
    const next = await steps.next();
    if (next.done) {
      const { length, inflated } = next.value;
      segments.deflate(length, inflated, options.onStream?.(sample.seen(length, inflated)));
      return;
    }
    segments.grow(total(next.value.content));
    sample.add(next.value.content, next.value.compressed);
  }
}

class Sample {
  private content: Uint8Array[] = [];
  private contentBytes = 0;
  private compressed: Uint8Array[] = [];
  private compressedBytes = 0;

  add(content: Uint8Array[], compressed: Uint8Array): void {
    for (const chunk of content) {
      if (this.contentBytes >= SAMPLE_BYTES) break;
      const part = chunk.subarray(0, SAMPLE_BYTES - this.contentBytes);
      this.content.push(part.slice());
      this.contentBytes += part.byteLength;
    }
    // Compressed bytes are kept a little beyond the content sample: the candidate's output for the sample is about that long.
    const limit = SAMPLE_BYTES + 64 * 1024;
    if (this.compressedBytes < limit) {
      const part = compressed.subarray(0, limit - this.compressedBytes);
      this.compressed.push(part.slice());
      this.compressedBytes += part.byteLength;
    }
  }

  seen(length: number, inflated: number): StreamSeen {
    return {
      content: concat(this.content, this.contentBytes),
      compressed: concat(this.compressed, this.compressedBytes),
      whole: this.contentBytes === inflated && this.compressedBytes === length,
    };
  }
}

interface InflateStepOut {
  content: Uint8Array[];
  /** The compressed bytes that produced it. */
  compressed: Uint8Array;
}

/**
 * Inflate the deflate stream at the queue's front, reading at most `limit` compressed bytes: yields each piece
 * of output with the compressed bytes that made it, returns the stream's compressed and inflated length. Bytes
 * after the stream's end go back to the queue. Input ending before the stream does is an InflateError.
 */
async function* inflateOne(queue: ByteQueue, limit: number): AsyncGenerator<InflateStepOut, { length: number; inflated: number }> {
  const inflater = new RawInflater();
  let length = 0;
  let inflated = 0;
  try {
    for (;;) {
      if (length >= limit || !(await queue.fill(1))) {
        const rest = await inflater.finish();
        inflated += total(rest);
        yield { content: rest, compressed: new Uint8Array(0) };
        return { length, inflated };
      }
      const input = queue.takeSome(Math.min(limit - length, 64 * 1024));
      let offset = 0;
      while (offset < input.byteLength) {
        const step = await inflater.push(input.subarray(offset));
        const used = step.taken - step.unused;
        inflated += total(step.output);
        const compressed = input.subarray(offset, offset + used);
        offset += used;
        length += used;
        yield { content: step.output, compressed };
        if (step.ended) {
          queue.unshift(input.subarray(offset));
          return { length, inflated };
        }
      }
    }
  } finally {
    inflater.close();
  }
}

// ------------------------------------------------------------------------------------------ inflated form

const MAGIC = [0x44, 0x47, 0x49, 0x46]; // "DGIF": DeltaGlider inflated form
/**
 * v2 (written now) keeps the recipe of each deflate segment in a column after the segment table, v1 (still read)
 * beside each segment. Why: a delta is taken between an object's form and the reference's form, and the
 * reference's is made without a recipe search (its segments name no recipe), so in v1 one byte of every
 * segment differed between the two headers and a zip of 1000 entries paid ~4 KB of delta for it; in v2 the
 * tables match wherever the entries do and the recipe column is one run.
 */
export const INFLATED_FORM_VERSION = 2;
const VERSIONS = [1, 2];
/** A header past this is refused when read back (a damaged delta must not make us allocate gigabytes). */
const MAX_HEADER = 16 * 1024 * 1024;

/** The inflated form's header: magic, version, header length, original size, recipes, segments (varints). */
export function encodeHeader(segments: Segment[], originalSize: number, version = INFLATED_FORM_VERSION): Uint8Array {
  const recipes: DeflateRecipe[] = [];
  const recipeIndex = (recipe: DeflateRecipe | undefined): number => {
    if (!recipe) return 0;
    let at = recipes.findIndex((r) => sameRecipe(r, recipe));
    if (at < 0) at = recipes.push(recipe) - 1;
    return at + 1;
  };
  const body = new ByteWriter();
  body.varint(originalSize);
  const table = new ByteWriter();
  table.varint(segments.length);
  for (const segment of segments) {
    table.byte(segment.kind === "raw" ? 0 : 1);
    table.varint(segment.length);
    if (segment.kind === "deflate") {
      table.varint(segment.inflated);
      if (version === 1) table.varint(recipeIndex(segment.recipe));
    }
  }
  if (version !== 1) for (const segment of segments) if (segment.kind === "deflate") table.varint(recipeIndex(segment.recipe));
  body.varint(recipes.length);
  for (const recipe of recipes) {
    const id = new TextEncoder().encode(recipe.deflater);
    body.varint(id.byteLength);
    body.bytes(id);
    for (const value of [recipe.level, recipe.memLevel, recipe.windowBits, recipe.strategy]) body.byte(value);
  }
  body.bytes(table.finish());
  const content = body.finish();
  const head = new ByteWriter();
  for (const b of MAGIC) head.byte(b);
  head.byte(version);
  head.varint(content.byteLength);
  head.bytes(content);
  return head.finish();
}

function sameRecipe(a: DeflateRecipe, b: DeflateRecipe): boolean {
  return a.deflater === b.deflater && a.level === b.level && a.memLevel === b.memLevel && a.windowBits === b.windowBits && a.strategy === b.strategy;
}

/** Size of the inflated form: header + raw segments + inflated contents. */
export function inflatedFormSize(header: Uint8Array, segments: Segment[]): number {
  return segments.reduce((n, s) => n + (s.kind === "raw" ? s.length : s.inflated), header.byteLength);
}

/**
 * The inflated form of `original` for a known segment table: the header, then each segment's bytes in order.
 * Every deflate stream must end exactly where its segment says and inflate to exactly its recorded size.
 */
export async function* inflatedForm(original: ReadableStream<Uint8Array>, segments: Segment[], header: Uint8Array): AsyncGenerator<Uint8Array> {
  let started = false;
  try {
    yield header;
    started = true;
    yield* inflatedSegments(original, segments);
  } finally {
    // Stopped after the header: the original was never read, and is released here (else inflatedSegments did).
    if (!started) await original.cancel().catch(() => {});
  }
}

/**
 * The inflated bytes of `segments` read from `original`, which must hold exactly those segments' bytes (the
 * whole object, or its tail from a segment's start: each deflate segment is a stream of its own, so the inflated
 * form can be taken up at any segment, and inside a raw one at any byte).
 */
export async function* inflatedSegments(original: ReadableStream<Uint8Array>, segments: Segment[]): AsyncGenerator<Uint8Array> {
  const queue = new ByteQueue(original.getReader());
  try {
    for (const segment of segments) {
      if (segment.kind === "raw") {
        yield* copyBytes(queue, segment.length);
        continue;
      }
      const steps = inflateOne(queue, segment.length);
      let produced = 0;
      for (;;) {
        const next = await steps.next();
        if (!next.done) {
          produced += total(next.value.content);
          if (produced > segment.inflated) throw new ContainerError("a deflate stream inflated beyond its recorded size");
          yield* next.value.content; // one inflater piece's output (bounded: see RawInflater)
          continue;
        }
        if (next.value.length !== segment.length || next.value.inflated !== segment.inflated) throw new ContainerError("a deflate stream changed size");
        break;
      }
    }
    if (!(await queue.atEnd())) throw new ContainerError("bytes after the last segment");
  } finally {
    await queue.cancel();
  }
}

async function* copyBytes(queue: ByteQueue, length: number): AsyncGenerator<Uint8Array> {
  let left = length;
  while (left > 0) {
    if (!(await queue.fill(1))) throw new ContainerError("inflated form ended early");
    const piece = queue.takeSome(Math.min(left, COPY_CHUNK));
    left -= piece.byteLength;
    yield piece;
  }
}

/** The header read back from the front of an inflated form. */
export interface ParsedHeader {
  originalSize: number;
  segments: Segment[];
}

/**
 * Rebuild the original object from its inflated form: raw segments as they are, each deflate segment's content
 * recompressed with its recipe's deflater. Any inconsistency (unknown deflater, a segment that recompresses to
 * another length, a short form) throws; the caller's SHA-256 check catches everything else.
 */
export async function* rebuildOriginal(form: ReadableStream<Uint8Array>, deflaterFor: DeflaterResolver): AsyncGenerator<Uint8Array> {
  const queue = new ByteQueue(form.getReader());
  try {
    const header = await readHeader(queue);
    for (const [index, segment] of header.segments.entries()) {
      if (segment.kind === "raw") {
        yield* copyBytes(queue, segment.length);
        continue;
      }
      try {
        yield* recompress(queue, segment, deflaterFor);
      } catch (error) {
        if (error instanceof ContainerError && error.segment !== undefined) throw error;
        const message = `deflate segment ${index}: ${(error as Error).message ?? String(error)}`;
        throw error instanceof RecompressMismatchError ? new RecompressMismatchError(message, index) : new ContainerError(message, index);
      }
    }
    if (!(await queue.atEnd())) throw new ContainerError("the inflated form is longer than its segments");
  } finally {
    await queue.cancel();
  }
}

async function* recompress(queue: ByteQueue, segment: Extract<Segment, { kind: "deflate" }>,
  deflaterFor: DeflaterResolver): AsyncGenerator<Uint8Array> {
  const deflater = segment.recipe && await deflaterFor(segment.recipe);
  if (!deflater || !segment.recipe) throw new ContainerError(`no deflater ${JSON.stringify(segment.recipe?.deflater)} for a deflate segment`);
  const content = generatorStreamOf(copyBytes(queue, segment.inflated));
  const reader = content.pipeThrough(deflater.deflateRaw(segment.recipe)).getReader();
  let produced = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    produced += value.byteLength;
    if (produced > segment.length) throw new RecompressMismatchError("a deflate segment recompressed longer than recorded");
    yield value;
  }
  if (produced !== segment.length) throw new RecompressMismatchError("a deflate segment recompressed shorter than recorded");
}

function generatorStreamOf(chunks: AsyncGenerator<Uint8Array>): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const next = await chunks.next();
      if (next.done) controller.close();
      else controller.enqueue(next.value);
    },
  }, { highWaterMark: 0 });
}

/** A whole header (as encodeHeader made it) read back. */
export async function parseHeader(header: Uint8Array): Promise<ParsedHeader> {
  const queue = new ByteQueue(new Blob([header]).stream().getReader());
  try {
    const parsed = await readHeader(queue);
    if (!(await queue.atEnd())) throw new ContainerError("bytes after the inflated form's header");
    return parsed;
  } finally {
    await queue.cancel();
  }
}

export async function readHeader(queue: ByteQueue): Promise<ParsedHeader> {
  if (!(await queue.fill(MAGIC.length + 1))) throw new ContainerError("inflated form too short");
  const head = queue.peek(MAGIC.length + 1);
  const version = head[MAGIC.length];
  if (MAGIC.some((b, i) => head[i] !== b) || !VERSIONS.includes(version)) throw new ContainerError("not an inflated form (v1 or v2)");
  takeExactly(queue, MAGIC.length + 1);
  await queue.fill(10);
  const lengthReader = new ByteReader(queue.peek(Math.min(10, queue.available)));
  const headerLength = lengthReader.varint();
  if (headerLength > MAX_HEADER) throw new ContainerError("inflated form header too long");
  takeExactly(queue, lengthReader.offset);
  if (!(await queue.fill(headerLength))) throw new ContainerError("inflated form header truncated");
  return parseHeaderBody(new ByteReader(takeExactly(queue, headerLength)), version);
}

function parseHeaderBody(reader: ByteReader, version: number): ParsedHeader {
  const originalSize = reader.varint();
  const recipes: DeflateRecipe[] = [];
  for (let n = reader.varint(); n > 0; n--) {
    const id = new TextDecoder().decode(reader.bytes(reader.varint()));
    const [level, memLevel, windowBits, strategy] = [reader.byte(), reader.byte(), reader.byte(), reader.byte()];
    recipes.push({ deflater: id, level, memLevel, windowBits, strategy });
  }
  const segments: Segment[] = [];
  let size = 0;
  for (let n = reader.varint(); n > 0; n--) {
    const kind = reader.byte();
    const length = reader.varint();
    size += length;
    if (kind === 0) segments.push({ kind: "raw", length });
    else if (kind === 1) {
      const inflated = reader.varint();
      const recipe = version === 1 ? recipeAt(recipes, reader.varint()) : undefined;
      segments.push({ kind: "deflate", length, inflated, ...(recipe ? { recipe } : {}) });
    } else throw new ContainerError("unknown segment kind");
  }
  if (version !== 1) {
    for (const segment of segments) {
      const recipe = segment.kind === "deflate" ? recipeAt(recipes, reader.varint()) : undefined;
      if (segment.kind === "deflate" && recipe) segment.recipe = recipe;
    }
  }
  if (size !== originalSize || !reader.done()) throw new ContainerError("segment table does not add up");
  return { originalSize, segments };
}

/** Recipe index 0 is "none" (the stream is kept as it is); 1.. name the header's recipes. */
function recipeAt(recipes: DeflateRecipe[], index: number): DeflateRecipe | undefined {
  if (index > recipes.length) throw new ContainerError("segment names an unknown recipe");
  return index ? recipes[index - 1] : undefined;
}

function takeExactly(queue: ByteQueue, n: number): Uint8Array {
  const out = new Uint8Array(n);
  let at = 0;
  while (at < n) {
    const piece = queue.takeSome(n - at);
    if (!piece.byteLength) throw new ContainerError("inflated form truncated");
    out.set(piece, at);
    at += piece.byteLength;
  }
  return out;
}

// ------------------------------------------------------------------------------------------ bytes

class ByteWriter {
  private parts: number[] = [];
  private chunks: Uint8Array[] = [];

  byte(value: number): void {
    this.parts.push(value & 0xff);
  }

  varint(value: number): void {
    if (!Number.isSafeInteger(value) || value < 0) throw new Error(`varint out of range: ${value}`);
    let v = value;
    while (v >= 0x80) {
      this.parts.push((v % 0x80) | 0x80);
      v = Math.floor(v / 0x80);
    }
    this.parts.push(v);
  }

  bytes(bytes: Uint8Array): void {
    this.flushParts();
    this.chunks.push(bytes);
  }

  finish(): Uint8Array {
    this.flushParts();
    return concat(this.chunks, total(this.chunks));
  }

  private flushParts(): void {
    if (this.parts.length) this.chunks.push(Uint8Array.from(this.parts));
    this.parts = [];
  }
}

class ByteReader {
  offset = 0;
  constructor(private readonly buffer: Uint8Array) {}

  byte(): number {
    if (this.offset >= this.buffer.byteLength) throw new ContainerError("header truncated");
    return this.buffer[this.offset++];
  }

  varint(): number {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 8; i++) {
      const b = this.byte();
      value += (b & 0x7f) * scale;
      if (!(b & 0x80)) return value;
      scale *= 0x80;
    }
    throw new ContainerError("varint too long");
  }

  bytes(n: number): Uint8Array {
    if (this.offset + n > this.buffer.byteLength) throw new ContainerError("header truncated");
    const out = this.buffer.subarray(this.offset, this.offset + n);
    this.offset += n;
    return out;
  }

  done(): boolean {
    return this.offset === this.buffer.byteLength;
  }
}

function u16(bytes: Uint8Array, at: number): number {
  return bytes[at] | (bytes[at + 1] << 8);
}

function u32(bytes: Uint8Array, at: number): number {
  return (bytes[at] | (bytes[at + 1] << 8) | (bytes[at + 2] << 16) | (bytes[at + 3] << 24)) >>> 0;
}

function total(chunks: Uint8Array[]): number {
  return chunks.reduce((n, c) => n + c.byteLength, 0);
}

function concat(chunks: Uint8Array[], size: number): Uint8Array {
  const out = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.byteLength;
  }
  return out;
}
