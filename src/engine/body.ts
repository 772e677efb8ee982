// An upload body made re-readable with its hashes known, so the store path can write metadata up front
// (R2 wants length and metadata at put time) and read the bytes more than once (encode, then copy).
//
// Small bodies (≤ bodyBufferLimit) are held in memory, if the isolate's buffered-body budget has room for their
// declared length. Larger ones, and small ones that do not fit the budget, are streamed once into a hidden
// staging object under `.dg/tmp/`, hashed on the way (SHA-256 + MD5 via crypto.DigestStream), and then re-read
// from there by range or as a stream. The staged copy is deleted when the PUT finishes (dispose).
import type { SourceInfo, SourceReader } from "../codec/api";
import type { ReferenceCache } from "./context";
import type { ReReadableBody } from "./api";
import type { Backend } from "../storage/backend";
import { S3Error } from "../errors";
import { STAGING_PREFIX } from "./deltaspace";
import { StreamHasher, asBytes, digestsOf, hashingTap, lazyStream, readExactly, streamOf } from "./streams";

/**
 * Bytes all in-memory upload bodies of one isolate may hold together. A memory body allocates its declared
 * length before its first byte arrives, so without a cap a few idle uploads plus one codec job (64 MiB) would
 * exceed the isolate's 128 MB and kill every request in it. Over the budget a body is staged instead: never
 * refused, only one more write and read. 32 MiB = four 8 MiB bodies; with the codec budget (64 MiB) it leaves
 * ~32 MB for the JS heap and the per-request stream buffers. docs/ARCHITECTURE.md "Per-isolate limits".
 */
export const ISOLATE_BODY_BUDGET = 32 * 1024 * 1024;

/** Admission control for buffered bytes: reserve before allocating, release when done; never waits. */
export class BufferBudget {
  private used = 0;

  constructor(readonly totalBytes: number) {}

  /** A release function when `bytes` fit now, else null (the caller takes the path that needs no memory). */
  tryReserve(bytes: number): (() => void) | null {
    if (this.used + bytes > this.totalBytes) return null;
    this.used += bytes;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.used -= bytes;
    };
  }

  /** Bytes currently reserved. */
  get reservedBytes(): number {
    return this.used;
  }
}

/** The budget every in-memory upload body of this isolate reserves its declared length from. */
export const isolateBodyBudget = new BufferBudget(ISOLATE_BODY_BUDGET);

export interface BodySource {
  readonly size: number;
  readonly sha256: string;
  readonly md5: string;
  /** Whether the bytes live in isolate memory (else in a staged object). */
  readonly inMemory: boolean;
  /** A fresh stream of the whole body. */
  stream(): Promise<ReadableStream<Uint8Array>>;
  /** The bytes as a codec source (read by range). */
  asSource(): SourceInfo;
  /** Remove the staged copy, if any. Safe to call twice. */
  dispose(): Promise<void>;
}

export async function acceptBody(
  backend: Backend,
  body: ReadableStream<Uint8Array> | Uint8Array,
  size: number,
  bufferLimit: number,
  source?: ReReadableBody,
): Promise<BodySource> {
  if (body instanceof Uint8Array) {
    // Already in memory (the caller allocated it): nothing more to reserve.
    const bytes = await readExactly(body, size);
    return new MemoryBody(bytes, await digestsOf(bytes));
  }
  const release = size <= bufferLimit ? isolateBodyBudget.tryReserve(size) : null;
  if (!release && source) {
    await body.cancel().catch(() => {});
    return hashReReadable(source, size);
  }
  if (!release) return stageBody(backend, body, size);
  try {
    const bytes = await readExactly(body, size);
    return new MemoryBody(bytes, await digestsOf(bytes), release);
  } catch (error) {
    release();
    throw error;
  }
}

class MemoryBody implements BodySource {
  readonly inMemory = true;
  readonly size: number;
  readonly sha256: string;
  readonly md5: string;

  constructor(private readonly bytes: Uint8Array, digests: { sha256: string; md5: string }, private readonly release = () => {}) {
    this.size = bytes.byteLength;
    this.sha256 = digests.sha256;
    this.md5 = digests.md5;
  }

  async stream(): Promise<ReadableStream<Uint8Array>> {
    return streamOf(this.bytes);
  }

  asSource(): SourceInfo {
    const bytes = this.bytes;
    return { size: bytes.byteLength, read: async (offset, length) => bytes.subarray(offset, offset + length) };
  }

  /** Gives the bytes' share of the isolate budget back (streams handed out before keep their own reference). */
  async dispose(): Promise<void> {
    this.release();
  }
}

async function stageBody(backend: Backend, body: ReadableStream<Uint8Array>, size: number): Promise<BodySource> {
  const key = `${STAGING_PREFIX}${crypto.randomUUID()}`;
  const tap = hashingTap();
  try {
    const written = await backend.put(key, body.pipeThrough(tap.transform), size);
    if (!written) throw new S3Error("InternalError", "Staging the upload failed.");
    const digests = await tap.result;
    if (digests.bytes !== size) throw new S3Error("IncompleteBody", `The request body was ${digests.bytes} bytes, not the ${size} declared.`);
    return new StagedBody(backend, key, written.etag, size, digests);
  } catch (error) {
    await backend.delete([key]).catch(() => {});
    throw asBodyError(error, size);
  }
}

/** A FixedLengthStream length mismatch surfaces as a TypeError; clients need IncompleteBody. */
function asBodyError(error: unknown, size: number): unknown {
  if (error instanceof S3Error) return error;
  const message = error instanceof Error ? error.message : String(error);
  if (/length|bytes/i.test(message)) return new S3Error("IncompleteBody", `The request body did not match its declared length ${size}: ${message}`);
  return error;
}

/** Bytes the caller already stored re-readably (a completed multipart upload): one hashing pass, no staging. */
async function hashReReadable(source: ReReadableBody, size: number): Promise<BodySource> {
  if (source.size !== size) throw new S3Error("InternalError", `The re-readable body is ${source.size} bytes, not ${size}.`);
  const hasher = new StreamHasher();
  const reader = source.stream().getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    await hasher.update(asBytes(value));
  }
  if (hasher.bytes !== size) throw new S3Error("IncompleteBody", `The re-readable body yielded ${hasher.bytes} bytes, not ${size}.`);
  const digests = await hasher.finish();
  return {
    inMemory: false,
    size,
    sha256: digests.sha256,
    md5: digests.md5,
    stream: async () => source.stream(),
    asSource: () => ({ size, read: (offset, length) => source.read(offset, Math.min(length, size - offset)) }),
    dispose: async () => {},
  };
}

class StagedBody implements BodySource {
  readonly inMemory = false;
  readonly sha256: string;
  readonly md5: string;
  private disposed = false;

  constructor(
    private readonly backend: Backend,
    readonly key: string,
    private readonly etag: string,
    readonly size: number,
    digests: { sha256: string; md5: string },
  ) {
    this.sha256 = digests.sha256;
    this.md5 = digests.md5;
  }

  async stream(): Promise<ReadableStream<Uint8Array>> {
    // Opened on first pull: an encode waiting for the codec holds no backend read meanwhile.
    return lazyStream(async () => {
      const object = await this.backend.get(this.key);
      if (!object || object.etag !== this.etag) {
        await object?.body.cancel().catch(() => {});
        throw new S3Error("InternalError", "The staged upload vanished or changed.");
      }
      return object.body;
    });
  }

  asSource(): SourceInfo {
    return backendSource(this.backend, this.key, this.etag, this.size);
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await this.backend.delete([this.key]);
  }
}

/**
 * The codec source for a deltaspace's reference: backend range reads pinned to the ETag seen, through the
 * reference cache when there is one and the reference's SHA-256 is known.
 */
export function referenceSource(
  backend: Backend, key: string, stored: { etag: string; size: number }, sha256: string | undefined, cache?: ReferenceCache,
  pattern?: { keptBlocks?: number },
): SourceInfo {
  const origin = backendSource(backend, key, stored.etag, stored.size);
  if (!cache || !sha256 || !/^[0-9a-f]{64}$/.test(sha256)) return origin;
  return cachedSource(cache, { sha256, size: stored.size }, origin.read, pattern);
}

/** The reference through the cache as a codec source, with `readInto` when the cache offers it. */
export function cachedSource(
  cache: ReferenceCache, ref: { sha256: string; size: number }, origin: SourceReader, pattern?: { keptBlocks?: number },
): SourceInfo {
  if (!cache.source) return { size: ref.size, read: cache.reader(ref, origin) };
  const { read, readInto } = cache.source(ref, origin, pattern);
  return readInto ? { size: ref.size, read, readInto } : { size: ref.size, read };
}

/**
 * A codec source over a stored object read by range, pinned to the ETag seen when it was opened: if the
 * object is replaced mid-read the read fails instead of mixing two versions' bytes.
 */
export function backendSource(backend: Backend, key: string, etag: string, size: number): SourceInfo {
  return {
    size,
    read: async (offset, length) => {
      if (length <= 0 || offset >= size) return new Uint8Array(0);
      const object = await backend.get(key, { offset, length: Math.min(length, size - offset) });
      if (!object) throw new S3Error("InternalError", `${key} disappeared while being read.`);
      if (object.etag !== etag) {
        await object.body.cancel().catch(() => {});
        throw new S3Error("InternalError", `${key} changed while being read.`);
      }
      return new Uint8Array(await new Response(object.body).arrayBuffer());
    },
  };
}
