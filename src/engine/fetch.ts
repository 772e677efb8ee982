// GET/HEAD path: resolve a user key to its stored variant, describe it as the client sees it, and read it:
// passthrough objects stream straight from the backend (ranged); deltas rebuild through the streaming codec
// against reference.bin (read by range), hashed on the way, and the stream errors instead of ending when
// the size or SHA-256 differs from the recorded original.
import type { ObjectInfo, OpenedObject, ResolvedRange } from "./api";
import { S3Error } from "../s3/errors";
import type { StoredObject } from "../storage/backend";
import { referenceSource } from "./body";
import { readSidecar, type EngineContext } from "./context";
import { deltaKey, parseKey, referenceKey, reservedReason } from "./deltaspace";
import { clientEtag, decodeMetadata, type DgRecord } from "./metadata";
import { lazyStream, verifyingSlice } from "./streams";

interface Resolved {
  stored: StoredObject;
  /** null: an object without DeltaGlider metadata, served as it is. */
  record: DgRecord | null;
  isDelta: boolean;
}

export async function openObject(ctx: EngineContext, key: string): Promise<OpenedObject | null> {
  if (!key || reservedReason(key)) return null;
  const resolved = await resolve(ctx, key);
  if (!resolved) return null;
  const info = describe(key, resolved);
  return {
    info,
    read: (range?: ResolvedRange) => (resolved.isDelta ? readDelta(ctx, key, resolved, info, range) : readPlain(ctx, resolved, range)),
  };
}

async function resolve(ctx: EngineContext, key: string): Promise<Resolved | null> {
  const [deltaObject, plainObject] = await Promise.all([ctx.backend.head(deltaKey(key)), ctx.backend.head(key)]);
  const plain = plainObject ? await plainVariant(ctx, plainObject) : null;
  // An unusable .delta is an error, unless the key's plain object is there to serve instead.
  const delta = deltaObject ? await deltaVariant(ctx, key, deltaObject).catch((error) => { if (plain) return null; throw error; }) : null;
  if (delta && plain) return createdAt(plain) > createdAt(delta) ? plain : delta; // mid-overwrite: newest wins
  return delta ?? plain;
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
  ctx: EngineContext, key: string, { stored, record }: Resolved, info: ObjectInfo, range?: ResolvedRange,
): Promise<ReadableStream<Uint8Array>> {
  if (!ctx.codec) throw new S3Error("InternalError", "Delta decoding is not available.");
  const refKey = referenceKey(parseKey(key).deltaspace);
  const reference = await ctx.backend.head(refKey);
  if (!reference) throw new S3Error("InternalError", `The reference for ${JSON.stringify(key)} is missing.`, { Key: key });
  const referenceSha = await checkReference(ctx, key, record!, reference);
  const delta = lazyStoredBody(ctx, stored, key);
  const source = referenceSource(ctx.backend, refKey, reference, referenceSha, ctx.referenceCache);
  const rebuilt = ctx.codec.decode(source, delta, { ...ctx.config.codec, maxOutputSize: info.size });
  const verified = rebuilt.pipeThrough(verifyingSlice({
    size: info.size,
    sha256: record!.sha256,
    range,
    onMismatch: (what) => new S3Error("InternalError", `Rebuilt object failed its ${what} check; no wrong bytes are served.`, { Key: key }),
  }));
  return primed(verified, key);
}

/** The delta's body, fetched when the decoder first pulls it, pinned to the ETag seen at open. */
function lazyStoredBody(ctx: EngineContext, stored: StoredObject, key: string): ReadableStream<Uint8Array> {
  return lazyStream(async () => {
    const object = await ctx.backend.get(stored.key);
    if (!object || object.etag !== stored.etag) {
      await object?.body.cancel().catch(() => {});
      throw new S3Error("InternalError", "The stored delta changed while it was being read; retry.", { Key: key });
    }
    return object.body;
  });
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
  let pending: Uint8Array | undefined = first.done ? undefined : first.value;
  let done = first.done;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (pending) {
        controller.enqueue(pending);
        pending = undefined;
        return;
      }
      if (done) return controller.close();
      const next = await reader.read();
      if (next.done) {
        done = true;
        controller.close();
      } else controller.enqueue(next.value);
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  }, { highWaterMark: 0 });
}

/**
 * The delta records the SHA-256 of the reference it was encoded against; the reference must still be that
 * one. Returns the reference's SHA-256 when known (the reference cache is keyed by it).
 */
async function checkReference(ctx: EngineContext, key: string, record: DgRecord, reference: StoredObject): Promise<string | undefined> {
  const refRecord = decodeMetadata(reference.metadata) ?? await readSidecar(ctx, reference.key);
  if (record.refSha256 && refRecord && refRecord.sha256 !== record.refSha256) {
    throw new S3Error("InternalError", `The reference of ${JSON.stringify(key)} is not the one its delta was made against.`, { Key: key });
  }
  // Nothing recorded on either side: the output hash check still guards the bytes.
  return refRecord?.sha256 ?? record.refSha256;
}
