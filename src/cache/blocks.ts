// Reference block cache over the Workers Cache API (`caches.default`).
//
// A deltaspace's reference.bin is read by range on every delta encode and decode. This keeps it at the edge in
// fixed-size blocks keyed by the reference's SHA-256 + block size + block index. The key is content addressed:
// a new reference has a new SHA-256, so an entry can never be stale and is never invalidated, only aged out.
// Each entry carries the SHA-256 of its own bytes; a block whose bytes no longer match is evicted and re-read
// from the origin, so a corrupted cache entry never reaches the codec.
import type { SourceReader } from "../codec/api";
import { bytesToHex } from "../encoding";

export interface BlockCacheOptions {
  /** Bytes per cached block (default 4 MiB). Larger blocks mean fewer Cache API calls per request. */
  blockSize?: number;
  /**
   * Blocks a reader keeps in memory after using them (default 3, so ≤ 12 MiB at the default block size). The
   * decoder reads its source window (16 MiB by default) in scattered 256 KiB pieces; with one kept block a
   * 49 MiB binary's rebuild loaded 70 blocks (5.7× the reference), with three 21.
   */
  keptBlocks?: number;
  /** Seconds an entry may live in the cache (default 30 days; entries are immutable, so long is safe). */
  ttlSeconds?: number;
  /** The cache to use (default `caches.default`). */
  cache?: Cache;
  /** Origin of the synthetic cache-key URLs. Must be http(s); never fetched. */
  keyOrigin?: string;
  /**
   * Lets a fill finish after the response (`ctx.waitUntil`). Without it a fill is awaited before the read returns,
   * which costs latency on a miss but keeps tests deterministic.
   */
  waitUntil?: (promise: Promise<unknown>) => void;
}

/** A reference read through the cache (a codec SourceInfo without its size). */
export interface BlockSource {
  read: SourceReader;
  /** Reads `target.length` bytes at `offset` into `target`; resolves with that length. */
  readInto(offset: number, target: Uint8Array): Promise<number>;
}

export interface BlockCacheStats {
  hits: number;
  misses: number;
  /** Entries deleted because their bytes did not match the hash stored with them. */
  evictions: number;
  /** Bytes read from the origin (the backend) to fill misses. */
  originBytes: number;
  /** Missed blocks served without a cache fill, because the reader had MAX_FILLS_IN_FLIGHT fills pending. */
  skippedFills: number;
}

export const DEFAULT_BLOCK_SIZE = 4 * 1024 * 1024;
export const DEFAULT_KEPT_BLOCKS = 3;
/**
 * Background fills (cache.put through waitUntil) one reader may have pending. Each holds its block until the
 * cache has taken it, and a reader that moves through its reference faster than that (the encoder of a
 * compressed-aware PUT, whose form blocks are made by inflating) held one block per fill: for a 31 MiB form the PUT
 * held 26.7 MiB with the cache and 12.1 MiB with it off, 37.1 MiB for a 94 MiB form (bench:compressed-memory). Past this
 * limit a missed block is served without filling it (a later read fills it): the cache only saves reads.
 */
export const MAX_FILLS_IN_FLIGHT = 2;
export const DEFAULT_TTL_SECONDS = 30 * 24 * 3600;
const HASH_HEADER = "x-dg-block-sha256";
const MAX_REMEMBERED_SIZES = 4096;
/** Header bytes of form facts kept in the isolate (a header is a few bytes per container entry: a 10 000-entry jar ~60 KiB). */
const REMEMBERED_FORM_BYTES = 2 * 1024 * 1024;
/** A header past this is not cached (it is rebuilt by a scan of reference.bin instead). */
const MAX_FORM_HEADER = 1024 * 1024;
const FORM_OF_HEADER = "x-dg-form-of";
const FORM_SIZE_HEADER = "x-dg-form-size";
const FORM_SHA_HEADER = "x-dg-form-sha256";

/** The inflated form of a reference.bin (compressed-aware deltas): size, SHA-256, header. */
export interface FormFacts {
  size: number;
  sha256: string;
  header: Uint8Array;
}

/** Per-request settings of a reader: where a background fill may keep running after the response. */
export interface FillScope {
  waitUntil?: (promise: Promise<unknown>) => void;
}

/** How one reader uses the reference. */
export interface ReadPattern {
  /** Blocks to keep (default: the cache's keptBlocks). The encoder reads its source window front to back, so one
   *  is enough there; the decoder jumps around inside its window and wants three. */
  keptBlocks?: number;
}

/** The identity of a reference: its SHA-256 (hex) and its size in bytes. */
export interface ReferenceId {
  sha256: string;
  size: number;
}

export class ReferenceBlockCache {
  readonly blockSize: number;
  readonly ttlSeconds: number;
  readonly keptBlocks: number;
  readonly stats: BlockCacheStats = { hits: 0, misses: 0, evictions: 0, originBytes: 0, skippedFills: 0 };
  private readonly keyOrigin: string;
  /** Reference sizes seen by this isolate (sha256 → bytes), so a warm GET makes no cache lookup for them. */
  private readonly sizes = new Map<string, number>();
  /** Inflated-form facts seen by this isolate ("<reference.bin SHA-256>/<form version>" → facts). */
  private readonly forms = new Map<string, FormFacts>();
  private formBytes = 0;

  constructor(private readonly options: BlockCacheOptions = {}) {
    this.blockSize = options.blockSize ?? DEFAULT_BLOCK_SIZE;
    this.ttlSeconds = options.ttlSeconds ?? DEFAULT_TTL_SECONDS;
    this.keptBlocks = options.keptBlocks ?? DEFAULT_KEPT_BLOCKS;
    if (!Number.isSafeInteger(this.keptBlocks) || this.keptBlocks < 1) throw new RangeError("keptBlocks must be ≥ 1");
    this.keyOrigin = options.keyOrigin ?? "https://reference-cache.deltaglider.invalid";
    if (!Number.isSafeInteger(this.blockSize) || this.blockSize < 4096) throw new RangeError("blockSize must be ≥ 4096");
    if (!/^https?:\/\/[^/]+$/.test(this.keyOrigin)) {
      throw new RangeError("keyOrigin must be an http(s) origin without a path");
    }
  }

  private get cache(): Cache {
    return this.options.cache ?? caches.default;
  }

  /** The cache key of one block. Block size is part of it so a config change never mixes layouts. */
  blockKey(ref: ReferenceId, index: number): string {
    return `${this.keyOrigin}/ref/${ref.sha256}/${this.blockSize}/${index}`;
  }

  /**
   * A SourceReader over the reference that serves blocks from the cache and fills misses from `origin`
   * (a range reader of the stored reference, e.g. `backendRangeReader(backend, "prefix/reference.bin")`).
   */
  reader(ref: ReferenceId, origin: SourceReader, scope: FillScope = {}): SourceReader {
    return this.source(ref, origin, scope).read;
  }

  /**
   * The reference as a codec source: `read` (a fresh array) and `readInto` (straight into the caller's buffer,
   * e.g. the codec's WASM memory: no allocation, one copy). The reader keeps the `keptBlocks` blocks it used
   * last (LRU): the decoder asks for 256 KiB pieces scattered over its source window, and each block that has
   * to be loaded again costs a cache lookup, a copy and a SHA-256 of the whole block.
   */
  source(ref: ReferenceId, origin: SourceReader, scope: FillScope & ReadPattern = {}): BlockSource {
    if (!isSha256(ref.sha256)) throw new RangeError("reference sha256 must be 64 lower-case hex digits");
    const waitUntil = scope.waitUntil ?? this.options.waitUntil;
    const keptBlocks = Math.max(1, scope.keptBlocks ?? this.keptBlocks);
    const kept: Array<{ index: number; bytes: Uint8Array }> = []; // most recently used last
    const fills = { pending: 0 };
    const block = async (index: number) => {
      const at = kept.findIndex((entry) => entry.index === index);
      if (at >= 0) {
        const [entry] = kept.splice(at, 1);
        kept.push(entry);
        return entry.bytes;
      }
      // Drop the least recently used block before loading: never more than keptBlocks blocks in memory.
      if (kept.length >= keptBlocks) kept.shift();
      const bytes = await this.loadBlock(ref, index, origin, waitUntil, fills);
      kept.push({ index, bytes });
      return bytes;
    };
    const readInto = async (offset: number, target: Uint8Array): Promise<number> => {
      const length = target.length;
      if (offset < 0 || offset + length > ref.size) {
        throw new RangeError(`read ${offset}+${length} outside reference of ${ref.size} bytes`);
      }
      let done = 0;
      while (done < length) {
        const position = offset + done;
        const index = Math.floor(position / this.blockSize);
        const bytes = await block(index);
        const within = position - index * this.blockSize;
        const take = Math.min(length - done, bytes.length - within);
        target.set(bytes.subarray(within, within + take), done);
        done += take;
      }
      return done;
    };
    const read: SourceReader = async (offset, length) => {
      if (length < 0) throw new RangeError(`read ${offset}+${length} outside reference of ${ref.size} bytes`);
      const out = new Uint8Array(length);
      await readInto(offset, out);
      return out;
    };
    return { read, readInto };
  }

  /** Bytes of block `index`: from the cache when present and intact, else from the origin (then cached). */
  private async loadBlock(
    ref: ReferenceId, index: number, origin: SourceReader, waitUntil: FillScope["waitUntil"], fills: { pending: number },
  ): Promise<Uint8Array> {
    const key = this.blockKey(ref, index);
    const cached = await this.cache.match(key);
    if (cached) {
      const bytes = new Uint8Array(await cached.arrayBuffer());
      const expected = cached.headers.get(HASH_HEADER);
      if (expected && bytes.length === this.blockLength(ref, index) && (await sha256Hex(bytes)) === expected) {
        this.stats.hits++;
        return bytes;
      }
      this.stats.evictions++;
      await this.cache.delete(key);
    }
    this.stats.misses++;
    const start = index * this.blockSize;
    const bytes = await origin(start, this.blockLength(ref, index));
    this.stats.originBytes += bytes.length;
    if (!waitUntil) {
      await this.store(key, bytes);
      return bytes;
    }
    if (fills.pending >= MAX_FILLS_IN_FLIGHT) {
      this.stats.skippedFills++;
      return bytes;
    }
    fills.pending++;
    const fill = this.store(key, bytes).finally(() => { fills.pending--; });
    waitUntil(fill.catch((error) => console.warn(`reference cache: fill of ${key} failed: ${error}`)));
    return bytes;
  }

  /**
   * The size of the reference with this SHA-256, when this isolate or the cache has seen it (null otherwise).
   * With it, a delta whose record names its reference's SHA-256 can be decoded from cached blocks without
   * reading the reference's metadata from the backend. Content addressed like the blocks: it never goes stale.
   */
  async referenceSize(sha256: string): Promise<number | null> {
    if (!isSha256(sha256)) return null;
    const known = this.sizes.get(sha256);
    if (known !== undefined) return known;
    const key = this.sizeKey(sha256);
    const cached = await this.cache.match(key);
    if (!cached) return null;
    const size = parseSizeRecord(await cached.text(), sha256);
    if (size === null) {
      // Not written by us, or damaged: never trust it.
      this.stats.evictions++;
      await this.cache.delete(key);
      return null;
    }
    this.noteSize(sha256, size);
    return size;
  }

  /** Records a reference's size (learned from the backend) in this isolate and in the cache. */
  rememberReferenceSize(sha256: string, size: number, scope: FillScope = {}): Promise<void> {
    if (!isSha256(sha256) || !Number.isSafeInteger(size) || size < 0) return Promise.resolve();
    if (this.sizes.get(sha256) === size) return Promise.resolve();
    this.noteSize(sha256, size);
    const body = `${sha256}:${size}`;
    const put = this.cache.put(this.sizeKey(sha256), new Response(body, {
      headers: { "content-type": "text/plain", "cache-control": `public, max-age=${this.ttlSeconds}, immutable` },
    })).catch((error) => console.warn(`reference cache: size record of ${sha256} failed: ${error}`));
    const waitUntil = scope.waitUntil ?? this.options.waitUntil;
    if (waitUntil) {
      waitUntil(put);
      return Promise.resolve();
    }
    return put;
  }

  /**
   * Drops every cached block (and the size record) of a reference. For when an object rebuilt from it failed
   * its SHA-256 check: a block refilled from a reference.bin that was replaced behind the proxy's back carries
   * a valid hash of the wrong bytes, so the per-block check alone cannot catch it.
   */
  async evictReference(ref: ReferenceId): Promise<void> {
    if (!isSha256(ref.sha256)) return;
    this.sizes.delete(ref.sha256);
    const blocks = Math.ceil(ref.size / this.blockSize);
    const keys = [this.sizeKey(ref.sha256), ...Array.from({ length: blocks }, (_, i) => this.blockKey(ref, i))];
    const deleted = await Promise.all(keys.map((key) => this.cache.delete(key)));
    this.stats.evictions += deleted.filter(Boolean).length;
  }

  /**
   * The facts of the inflated form of the reference.bin with this SHA-256 (its size, SHA-256 and header), when
   * this isolate or the cache has them; null otherwise, or when the entry does not check out (never trusted then).
   */
  async inflatedForm(referenceSha256: string, version: number): Promise<FormFacts | null> {
    if (!isSha256(referenceSha256) || !Number.isSafeInteger(version)) return null;
    const known = this.forms.get(`${referenceSha256}/${version}`);
    if (known) return known;
    const key = this.formKey(referenceSha256, version);
    const cached = await this.cache.match(key);
    if (!cached) return null;
    const header = new Uint8Array(await cached.arrayBuffer());
    const size = Number(cached.headers.get(FORM_SIZE_HEADER));
    const sha256 = cached.headers.get(FORM_SHA_HEADER) ?? "";
    const intact = cached.headers.get(HASH_HEADER) === await sha256Hex(header) && cached.headers.get(FORM_OF_HEADER) === referenceSha256;
    if (!intact || !isSha256(sha256) || !Number.isSafeInteger(size) || size < header.byteLength) {
      this.stats.evictions++;
      await this.cache.delete(key);
      return null;
    }
    const facts = { size, sha256, header };
    this.noteForm(`${referenceSha256}/${version}`, facts);
    return facts;
  }

  /** Records the facts of a reference's inflated form in this isolate and in the cache. */
  async rememberInflatedForm(referenceSha256: string, version: number, facts: FormFacts, scope: FillScope = {}): Promise<void> {
    if (!isSha256(referenceSha256) || !Number.isSafeInteger(version) || !isSha256(facts.sha256) || facts.header.byteLength > MAX_FORM_HEADER) return;
    this.noteForm(`${referenceSha256}/${version}`, facts);
    const put = (async () => this.cache.put(this.formKey(referenceSha256, version), new Response(facts.header.slice(), {
      headers: {
        "content-type": "application/octet-stream",
        "cache-control": `public, max-age=${this.ttlSeconds}, immutable`,
        [HASH_HEADER]: await sha256Hex(facts.header),
        [FORM_OF_HEADER]: referenceSha256,
        [FORM_SIZE_HEADER]: String(facts.size),
        [FORM_SHA_HEADER]: facts.sha256,
      },
    })))().catch((error) => console.warn(`reference cache: inflated form record of ${referenceSha256} failed: ${error}`));
    const waitUntil = scope.waitUntil ?? this.options.waitUntil;
    if (waitUntil) waitUntil(put);
    else await put;
  }

  /** Per layout version of the form (containers.ts INFLATED_FORM_VERSION): each version has other bytes. */
  private formKey(referenceSha256: string, version: number): string {
    return `${this.keyOrigin}/ref/${referenceSha256}/inflated-form/v${version}`;
  }

  /** `id`: the reference.bin SHA-256 and the form's version. */
  private noteForm(id: string, facts: FormFacts): void {
    this.forgetForm(id);
    // Oldest first out (insertion order), until the new header fits the isolate's share.
    while (this.forms.size && this.formBytes + facts.header.byteLength > REMEMBERED_FORM_BYTES) this.forgetForm(this.forms.keys().next().value!);
    if (facts.header.byteLength > REMEMBERED_FORM_BYTES) return;
    this.forms.set(id, facts);
    this.formBytes += facts.header.byteLength;
  }

  private forgetForm(id: string): void {
    const known = this.forms.get(id);
    if (!known) return;
    this.forms.delete(id);
    this.formBytes -= known.header.byteLength;
  }

  private sizeKey(sha256: string): string {
    return `${this.keyOrigin}/ref/${sha256}/size`;
  }

  private noteSize(sha256: string, size: number): void {
    // Insertion order makes the Map a FIFO: the oldest entry goes first when it is full.
    if (this.sizes.size >= MAX_REMEMBERED_SIZES) this.sizes.delete(this.sizes.keys().next().value!);
    this.sizes.set(sha256, size);
  }

  private blockLength(ref: ReferenceId, index: number): number {
    return Math.max(0, Math.min(this.blockSize, ref.size - index * this.blockSize));
  }

  private async store(key: string, bytes: Uint8Array): Promise<void> {
    const headers = {
      "content-type": "application/octet-stream",
      "content-length": String(bytes.length),
      "cache-control": `public, max-age=${this.ttlSeconds}, immutable`,
      [HASH_HEADER]: await sha256Hex(bytes),
    };
    await this.cache.put(key, new Response(bytes, { headers }));
  }
}

function isSha256(value: string): boolean {
  return /^[0-9a-f]{64}$/.test(value);
}

/** A size record is "<sha256>:<size>"; anything else (or another reference's record) is rejected. */
function parseSizeRecord(text: string, sha256: string): number | null {
  const match = /^([0-9a-f]{64}):(\d{1,16})$/.exec(text);
  if (!match || match[1] !== sha256) return null;
  const size = Number(match[2]);
  return Number.isSafeInteger(size) ? size : null;
}

async function sha256Hex(bytes: Uint8Array): Promise<string> {
  return bytesToHex(await crypto.subtle.digest("SHA-256", bytes));
}
