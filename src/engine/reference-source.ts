// The reference a delta is rebuilt against, as a codec source: confirmed to be the reference the delta was
// made against (dg-ref-sha256), read from the reference block cache when warm and from reference.bin
// (pinned to its ETag) otherwise, with a way to drop its cached blocks when a rebuild from them fails.
// A compressed-aware delta's reference is reference.bin's inflated form instead (reference-form.ts).
import { S3Error } from "../errors";
import type { SourceInfo, SourceReader } from "../codec/api";
import type { StoredObject } from "../storage/backend";
import { backendSource, cachedSource, referenceSource } from "./body";
import { readSidecar, type EngineContext } from "./context";
import { parseKey, referenceKey } from "./deltaspace";
import { decodeMetadata, type DgRecord } from "./metadata";

/**
 * The codec source for the reference a delta was encoded against.
 *
 * Warm: the delta names its reference by content (dg-ref-sha256) and the reference cache knows that
 * reference's size, so blocks come from the cache and the backend is not touched. Only a block miss opens
 * the origin, which HEADs reference.bin once, checks it is still that content, and reads it pinned to its ETag.
 * Cold: the reference's metadata is read and checked first, and its size is remembered for the next GET.
 * Either way the rebuilt object's size and SHA-256 are verified before its last byte is served.
 */
export async function deltaReferenceSource(ctx: EngineContext, key: string, record: DgRecord): Promise<ReferenceUse> {
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
    return { source: cachedSource(cache, ref, read), evict: () => cache.evictReference?.(ref) ?? Promise.resolve(), warm: true };
  }
  const reference = await headReference(ctx, key, refKey);
  const sha = await checkReference(ctx, key, record, reference);
  if (sha) await cache?.rememberReferenceSize?.(sha, reference.size);
  const ref = sha ? { sha256: sha, size: reference.size } : undefined;
  return {
    source: referenceSource(ctx.backend, refKey, reference, sha, cache),
    evict: ref && cache?.evictReference ? () => cache.evictReference!(ref) : undefined,
    warm: false,
  };
}

export interface ReferenceUse {
  source: SourceInfo;
  /** Drops the reference's cached blocks (when the rebuilt object fails its check), if they came from a cache. */
  evict?: () => Promise<void>;
  /** The reference cache knew the reference (no backend read of its metadata); reported in the request log. */
  warm: boolean;
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
