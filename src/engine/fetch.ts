// GET/HEAD path: resolve a user key to its stored variant, describe it as the client sees it, and read it:
// passthrough objects stream straight from the backend (ranged); deltas rebuild through the streaming codec
// against reference.bin (read by range), hashed on the way, and the stream errors instead of ending when
// the size or SHA-256 differs from the recorded original.
import type { ObjectInfo, OpenedObject, OpenOptions, ResolvedRange } from "./api";
import { S3Error } from "../errors";
import type { StoredObject } from "../storage/backend";
import type { SourceInfo, SourceReader } from "../codec/api";
import { backendSource, cachedSource, referenceSource } from "./body";
import { readSidecar, type EngineContext } from "./context";
import { deltaKey, parseKey, referenceKey, reservedReason } from "./deltaspace";
import { clientEtag, decodeMetadata, type DgRecord } from "./metadata";
import { isCodecError } from "../codec/errors";
import { largeChunks, lazyStream, verifyingSlice } from "./streams";

interface Resolved {
  stored: StoredObject;
  /** null: an object without DeltaGlider metadata, served as it is. */
  record: DgRecord | null;
  isDelta: boolean;
  /** A delta's body, fetched together with its metadata when opened for reading; the first read takes it. */
  body?: HeldBody;
}

export async function openObject(ctx: EngineContext, key: string, options: OpenOptions = {}): Promise<OpenedObject | null> {
  if (!key || reservedReason(key)) return null;
  const resolved = await resolve(ctx, key, options.forRead ?? false);
  if (!resolved) return null;
  const info = describe(key, resolved);
  return {
    info,
    read: (range?: ResolvedRange) => (resolved.isDelta ? readDelta(ctx, key, resolved, info, range) : readPlain(ctx, resolved, range)),
    discard: async () => resolved.body?.discard(),
  };
}

/**
 * The key's newest usable variant. Two backend reads: the `.delta` (a GET when the caller will read it, so its
 * body comes with its metadata; else a HEAD) and a HEAD of the plain key, in parallel.
 */
async function resolve(ctx: EngineContext, key: string, forRead: boolean): Promise<Resolved | null> {
  const [deltaRead, plainRead] = await Promise.allSettled([storedDelta(ctx, deltaKey(key), forRead), ctx.backend.head(key)]);
  const body = deltaRead.status === "fulfilled" ? deltaRead.value?.body : undefined;
  try {
    if (deltaRead.status === "rejected") throw deltaRead.reason;
    if (plainRead.status === "rejected") throw plainRead.reason;
    const plain = plainRead.value ? await plainVariant(ctx, plainRead.value) : null;
    // An unusable .delta is an error, unless the key's plain object is there to serve instead.
    const stored = deltaRead.value?.stored;
    const delta = stored
      ? await deltaVariant(ctx, key, stored).catch((error) => { if (plain) return null; throw error; })
      : null;
    // Mid-overwrite: the newest variant wins.
    const winner = delta && plain ? (createdAt(plain) > createdAt(delta) ? plain : delta) : delta ?? plain;
    if (!delta || winner !== delta || !body) {
      await body?.discard();
      return winner;
    }
    return { ...delta, body };
  } catch (error) {
    await body?.discard();
    throw error;
  }
}

function createdAt(variant: Resolved): number {
  return (variant.record?.createdAt ?? variant.stored.lastModified).getTime();
}

/** A `.delta` must carry a usable delta record (metadata or sidecar); anything else is an error, never raw bytes. */
async function deltaVariant(ctx: EngineContext, key: string, stored: StoredObject): Promise<Resolved> {
  let record = decodeMetadata(stored.metadata);
  if (!record) {
    const sidecar = await readSidecar(ctx, stored.key);
    if (sidecar && (!sidecar.deltaSize || sidecar.deltaSize === stored.size)) record = sidecar;
  }
  if (!record || record.kind !== "delta" || record.size === undefined) {
    throw new S3Error("InternalError", `The stored delta of ${JSON.stringify(key)} has no usable DeltaGlider metadata.`, { Key: key });
  }
  return { stored, record, isDelta: true };
}

/** The `.delta`'s metadata (HEAD), or, for a reader, its metadata and open body (one unranged GET); null if absent. */
async function storedDelta(ctx: EngineContext, storedKey: string, withBody: boolean): Promise<{ stored: StoredObject; body?: HeldBody } | null> {
  if (!withBody) {
    const stored = await ctx.backend.head(storedKey);
    return stored && { stored };
  }
  const object = await ctx.backend.get(storedKey);
  if (!object) return null;
  const { body, range: _range, ...stored } = object;
  return { stored, body: new HeldBody(body) };
}

/**
 * A stream opened ahead of its use, taken at most once. Whoever does not take it must discard it, so the
 * backend read does not stay open (open reads count against the request's connection limit).
 */
class HeldBody {
  constructor(private stream: ReadableStream<Uint8Array> | undefined) {}

  take(): ReadableStream<Uint8Array> | undefined {
    const stream = this.stream;
    this.stream = undefined;
    return stream;
  }

  async discard(): Promise<void> {
    await this.take()?.cancel().catch(() => {});
  }
}

/** A plain object: managed passthrough, or unmanaged (no dg-* metadata) served as it is. */
async function plainVariant(ctx: EngineContext, stored: StoredObject): Promise<Resolved> {
  let record = decodeMetadata(stored.metadata);
  if (!record && ctx.config.sidecars) record = await readSidecar(ctx, stored.key);
  // A record that does not describe these bytes (stale sidecar, foreign layout) is not trusted.
  if (record && record.size !== undefined && record.size !== 0 && record.size !== stored.size) record = null;
  if (record) record = { ...record, kind: "passthrough" };
  return { stored, record, isDelta: false };
}

function describe(key: string, { stored, record, isDelta }: Resolved): ObjectInfo {
  if (!record) {
    return {
      key,
      size: stored.size,
      etag: stored.etag,
      lastModified: stored.lastModified,
      http: stored.contentType ? { contentType: stored.contentType } : {},
      userMetadata: { ...stored.metadata },
      storageType: "passthrough",
      storedSize: stored.size,
      checksums: {},
    };
  }
  return {
    key,
    size: isDelta ? record.size! : stored.size,
    etag: clientEtag(record, isDelta ? undefined : stored.etag),
    lastModified: record.createdAt ?? stored.lastModified,
    http: { ...record.http },
    userMetadata: { ...record.userMetadata },
    storageType: isDelta ? "delta" : "passthrough",
    storedSize: stored.size,
    checksums: { ...record.checksums },
    sha256: record.sha256,
  };
}

async function readPlain(ctx: EngineContext, { stored }: Resolved, range?: ResolvedRange): Promise<ReadableStream<Uint8Array>> {
  const object = await ctx.backend.get(stored.key, range ? { offset: range.start, length: range.end - range.start + 1 } : undefined);
  if (!object) throw new S3Error("NoSuchKey", "The specified key does not exist.", { Key: stored.key });
  if (object.etag !== stored.etag) {
    await object.body.cancel().catch(() => {});
    throw new S3Error("InternalError", "The object changed while it was being read; retry.", { Key: stored.key });
  }
  return object.body;
}

async function readDelta(
  ctx: EngineContext, key: string, resolved: Resolved, info: ObjectInfo, range?: ResolvedRange,
): Promise<ReadableStream<Uint8Array>> {
  const { record } = resolved;
  const kept = await keptRebuild(ctx, key, record!, info, range);
  if (kept) {
    await resolved.body?.discard();
    return kept;
  }
  let reference: ReferenceUse;
  try {
    if (!ctx.codec) throw new S3Error("InternalError", "Delta decoding is not available.");
    reference = await deltaReferenceSource(ctx, key, record!);
  } catch (error) {
    await resolved.body?.discard();
    throw error;
  }
  if (range && (range.start > 0 || range.end < info.size - 1)) {
    const ranged = await readDeltaRange(ctx, key, resolved, info, range, reference);
    if (ranged) return ranged;
  }
  const { source, evict } = reference;
  const delta = storedDeltaBody(ctx, resolved, key);
  const rebuilt = ctx.codec!.decode(source, delta, { ...ctx.config.codec, maxOutputSize: info.size });
  const verified = rebuilt.pipeThrough(verifyingSlice({
    size: info.size,
    sha256: record!.sha256,
    range,
    onMismatch: (what) => new S3Error("InternalError", `Rebuilt object failed its ${what} check; no wrong bytes are served.`, { Key: key }),
  }));
  const checked = evict ? onFailure(verified, evict) : verified;
  // A whole, verified rebuild may be kept for the next GET (what is kept is only stored once the SHA-256 matched).
  const object = { sha256: record!.sha256, size: info.size };
  const whole = !range || (range.start === 0 && range.end === info.size - 1);
  return primed(whole && ctx.rebuiltCache?.accepts(object) ? ctx.rebuiltCache.tap(object, checked) : checked, key);
}

/**
 * The object from the rebuilt-object cache, if kept there: checked against its size and SHA-256 like a rebuild
 * (a range still hashes the whole object), and evicted when it fails, so a damaged entry never serves wrong bytes.
 */
async function keptRebuild(ctx: EngineContext, key: string, record: DgRecord, info: ObjectInfo,
  range?: ResolvedRange): Promise<ReadableStream<Uint8Array> | null> {
  const cache = ctx.rebuiltCache;
  const object = { sha256: record.sha256, size: info.size };
  if (!cache?.accepts(object)) return null;
  const body = await cache.match(object).catch(() => null);
  if (!body) return null;
  // The cache hands its body out in 4 KiB pieces; hashing them one by one costs more than decoding.
  const verified = generatorStream(largeChunks(body)).pipeThrough(verifyingSlice({
    size: info.size,
    sha256: record.sha256,
    range,
    onMismatch: (what) => new S3Error("InternalError", `A cached rebuild failed its ${what} check; no wrong bytes are served.`, { Key: key }),
  }));
  return primed(onFailure(verified, () => cache.evict(object)), key);
}

/**
 * A range of a delta object decodes only the VCDIFF windows that hold it (codec `targetRange`: earlier
 * windows are parsed without reading the reference, decoding stops after the range). The whole object's
 * SHA-256 cannot be checked without rebuilding it all, so each decoded window is checked against the Adler-32
 * xdelta3 stores with it, and the answer against the range's length. A delta without window checksums
 * (xdelta3 -n) gives null before any byte: the caller rebuilds the whole object and checks its SHA-256.
 */
async function readDeltaRange(ctx: EngineContext, key: string, resolved: Resolved, info: ObjectInfo,
  range: ResolvedRange, { source, evict }: ReferenceUse): Promise<ReadableStream<Uint8Array> | null> {
  const delta = storedDeltaBody(ctx, resolved, key);
  const rebuilt = ctx.codec!.decode(source, delta, { ...ctx.config.codec, maxOutputSize: info.size, targetRange: range });
  const reader = rebuilt.getReader();
  const first = await reader.read().then((result) => ({ result }), (error: unknown) => ({ error }));
  if ("error" in first && isCodecError(first.error) && first.error.kind === "unverifiable") return null;
  const resumed = new ReadableStream<Uint8Array>({
    start(controller) {
      if ("error" in first) controller.error(first.error);
      else if (first.result.done) controller.close();
      else controller.enqueue(first.result.value);
    },
    async pull(controller) {
      const next = await reader.read();
      if (next.done) controller.close();
      else controller.enqueue(next.value);
    },
    cancel: (reason) => reader.cancel(reason),
  }, { highWaterMark: 0 });
  const checked = resumed.pipeThrough(exactLength(range.end - range.start + 1,
    () => new S3Error("InternalError", "A ranged rebuild returned the wrong number of bytes; no wrong bytes are served.", { Key: key })));
  return primed(evict ? onFailure(checked, evict) : checked, key);
}

/** Passes exactly `length` bytes, holding the last piece back until the stream has ended at that length. */
function exactLength(length: number, mismatch: () => Error): TransformStream<Uint8Array, Uint8Array> {
  let seen = 0;
  let held: Uint8Array | undefined;
  return new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      seen += chunk.byteLength;
      if (seen > length) throw mismatch();
      if (held) controller.enqueue(held);
      held = chunk;
    },
    flush(controller) {
      if (seen !== length) throw mismatch();
      if (held) controller.enqueue(held);
    },
  });
}

/**
 * The delta's bytes for the decoder: the body fetched at open when there is one (no second read), else one GET
 * pinned to the ETag seen at open, made when the decoder first pulls. A body held while the codec is busy is
 * given up for the late GET: a request queued behind another codec job then holds no open backend read, which
 * could starve the job that is running (parallel ranged GETs of one rebuilt object, as `aws s3 cp` issues them).
 */
function storedDeltaBody(ctx: EngineContext, { stored, body }: Resolved, key: string): ReadableStream<Uint8Array> {
  const held = body?.take();
  if (held && !ctx.codec?.busy()) return held;
  held?.cancel().catch(() => {});
  return lazyStream(async () => {
    const object = await ctx.backend.get(stored.key);
    if (!object || object.etag !== stored.etag) {
      await object?.body.cancel().catch(() => {});
      throw new S3Error("InternalError", "The stored delta changed while it was being read; retry.", { Key: key });
    }
    return object.body;
  });
}

/** `head`, then everything `rest` yields (rest is not pulled before head has been taken). */
function prependBytes(head: Uint8Array, rest: ReadableStream<Uint8Array>): ReadableStream<Uint8Array> {
  let pending: Uint8Array | undefined = head;
  let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (pending) {
        controller.enqueue(pending);
        pending = undefined;
        return;
      }
      reader ??= rest.getReader();
      const next = await reader.read();
      if (next.done) controller.close();
      else controller.enqueue(next.value);
    },
    cancel(reason) {
      return reader ? reader.cancel(reason) : rest.cancel(reason);
    },
  }, { highWaterMark: 0 });
}

/**
 * Runs `cleanup` (awaited) before a stream's error reaches its reader. A rebuild that fails (codec error or
 * size/SHA-256 mismatch) drops the reference's cached blocks: one of them may be a valid-looking copy of the
 * wrong bytes; dropping good blocks only costs a refill.
 */
function onFailure(stream: ReadableStream<Uint8Array>, cleanup: () => Promise<void>): ReadableStream<Uint8Array> {
  const reader = stream.getReader();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      let next: ReadableStreamReadResult<Uint8Array>;
      try {
        next = await reader.read();
      } catch (error) {
        await cleanup().catch((e) => console.warn(`engine: could not evict cached reference blocks: ${e}`));
        throw error;
      }
      if (next.done) controller.close();
      else controller.enqueue(next.value);
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  }, { highWaterMark: 0 });
}

/**
 * Wait for the first verified chunk before handing the stream out, so a corrupt delta or reference is a
 * clean error before any response header (for objects up to one codec chunk: after full verification).
 */
async function primed(stream: ReadableStream<Uint8Array>, key: string): Promise<ReadableStream<Uint8Array>> {
  const reader = stream.getReader();
  let first: ReadableStreamReadResult<Uint8Array>;
  try {
    first = await reader.read();
  } catch (error) {
    if (error instanceof S3Error) throw error;
    throw new S3Error("InternalError", `The stored delta of ${JSON.stringify(key)} could not be rebuilt: ${error instanceof Error ? error.message : error}`, { Key: key });
  }
  // Hand the rest on from where this read stopped; the first chunk goes out first.
  reader.releaseLock();
  return first.done ? stream : prependBytes(first.value, stream);
}

/**
 * The codec source for the reference a delta was encoded against.
 *
 * Warm: the delta names its reference by content (dg-ref-sha256) and the reference cache knows that
 * reference's size, so blocks come from the cache and the backend is not touched. Only a block miss opens
 * the origin, which HEADs reference.bin once, checks it is still that content, and reads it pinned to its ETag.
 * Cold: the reference's metadata is read and checked first, and its size is remembered for the next GET.
 * Either way the rebuilt object's size and SHA-256 are verified before its last byte is served.
 */
async function deltaReferenceSource(ctx: EngineContext, key: string, record: DgRecord): Promise<ReferenceUse> {
  const refKey = referenceKey(parseKey(key).deltaspace);
  const cache = ctx.referenceCache;
  const named = record.refSha256;
  const cachedSize = named && cache?.referenceSize ? await cache.referenceSize(named) : null;
  if (cache && named && cachedSize !== null) {
    let origin: Promise<SourceInfo> | undefined;
    const openOrigin = async () => {
      const reference = await headReference(ctx, key, refKey);
      const sha = await checkReference(ctx, key, record, reference);
      if (sha !== named || reference.size !== cachedSize) {
        throw new S3Error("InternalError", `The reference of ${JSON.stringify(key)} could not be confirmed as the one its delta was made against.`, { Key: key });
      }
      return backendSource(ctx.backend, refKey, reference.etag, reference.size);
    };
    const read: SourceReader = async (offset, length) => (await (origin ??= openOrigin())).read(offset, length);
    const ref = { sha256: named, size: cachedSize };
    return { source: cachedSource(cache, ref, read), evict: () => cache.evictReference?.(ref) ?? Promise.resolve() };
  }
  const reference = await headReference(ctx, key, refKey);
  const sha = await checkReference(ctx, key, record, reference);
  if (sha) await cache?.rememberReferenceSize?.(sha, reference.size);
  const ref = sha ? { sha256: sha, size: reference.size } : undefined;
  return {
    source: referenceSource(ctx.backend, refKey, reference, sha, cache),
    evict: ref && cache?.evictReference ? () => cache.evictReference!(ref) : undefined,
  };
}

interface ReferenceUse {
  source: SourceInfo;
  /** Drops the reference's cached blocks (when the rebuilt object fails its check), if they came from a cache. */
  evict?: () => Promise<void>;
}

async function headReference(ctx: EngineContext, key: string, refKey: string): Promise<StoredObject> {
  const reference = await ctx.backend.head(refKey);
  if (!reference) throw new S3Error("InternalError", `The reference for ${JSON.stringify(key)} is missing.`, { Key: key });
  return reference;
}

/**
 * The delta records the SHA-256 of the reference it was encoded against; the reference must still be that
 * one. Returns the SHA-256 the reference itself records (the reference cache is keyed by it, so blocks are
 * only ever cached under the hash of the bytes they came from), or undefined when it records none.
 */
async function checkReference(ctx: EngineContext, key: string, record: DgRecord, reference: StoredObject): Promise<string | undefined> {
  const refRecord = decodeMetadata(reference.metadata) ?? await readSidecar(ctx, reference.key);
  if (record.refSha256 && refRecord?.sha256 && refRecord.sha256 !== record.refSha256) {
    throw new S3Error("InternalError", `The reference of ${JSON.stringify(key)} is not the one its delta was made against.`, { Key: key });
  }
  // Nothing recorded on the reference's side: it is read uncached and the output hash check guards the bytes.
  return refRecord?.sha256;
}

/** A pull-based stream over an async generator (cancelling it closes the generator). */
function generatorStream(chunks: AsyncGenerator<Uint8Array>): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const next = await chunks.next();
      if (next.done) controller.close();
      else controller.enqueue(next.value);
    },
    async cancel() {
      await chunks.return(undefined);
    },
  }, { highWaterMark: 0 });
}
