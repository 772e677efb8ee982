// Scrub: prove, reading only, that the stored objects under a prefix rebuild to the SHA-256 they record.
// A `.delta` is decoded through the codec against its deltaspace's reference.bin and its output hashed (a
// compressed-aware delta against reference.bin's inflated form made on demand, its decoded inflated form
// recompressed by its recipes first: the same rebuild a GET does); a reference.bin, an inflated reference left by
// an earlier version and a direct (plain) object are hashed as stored; a delta whose reference is missing or is not
// the one it was made against is damaged too. Caches are bypassed (a verified edge copy would hide a damaged
// stored object), nothing is written (no cache fill, no spill), and a page stops at its limits, returning
// the last stored key it checked so the next page resumes right after it.
import { isCodecError } from "../codec/errors";
import { S3Error } from "../errors";
import type { StoredObject } from "../storage/backend";
import { readSidecar, type EngineContext } from "./context";
import {
  INTERNAL_PREFIX, REFERENCE_NAME, SIDECAR_SUFFIX, classifyStoredKey, inflatedReferenceOwner, isInternalPath, parseKey,
} from "./deltaspace";
import { decodeMetadata, type DgRecord } from "./metadata";
import { rebuiltFromInflatedForm } from "./recompressed";
import { inflatedReferenceSource } from "./reference-form";
import { deltaReferenceSource } from "./reference-source";
import { StreamHasher, asBytes } from "./streams";

/** What one scrub page may spend. A page always checks at least one object, so a run always progresses. */
export interface ScrubLimits {
  /** Stored objects checked per page. */
  maxObjects: number;
  /** Wall time per page; the object being checked when it runs out is finished first. */
  maxMs: number;
  /** Bytes read or rebuilt per page (same rule). */
  maxBytes: number;
}

export const DEFAULT_SCRUB_LIMITS: ScrubLimits = { maxObjects: 200, maxMs: 20_000, maxBytes: 1024 * 1024 * 1024 };

export type ScrubKind = "reference" | "delta" | "direct";

export interface ScrubFinding {
  /** The user key (for a reference: the deltaspace's reference.bin key). */
  key: string;
  /** The stored object that failed. */
  storedKey: string;
  kind: ScrubKind;
  reason: string;
}

export interface ScrubPage {
  /** Stored objects looked at (references, deltas, direct objects; sidecars and internal objects are skipped). */
  checked: number;
  /** Of those, proven to match their recorded SHA-256. */
  verified: number;
  /** Direct objects without a recorded SHA-256 (written by another tool): read, but nothing to compare with. */
  unverifiable: number;
  /** Bytes read (stored) and rebuilt (delta output). */
  bytes: number;
  damaged: ScrubFinding[];
  /** The last stored key checked; null when the prefix is done. */
  next: string | null;
}

export interface ScrubRequest {
  prefix: string;
  /** Resume strictly after this stored key (a previous page's `next`). */
  after?: string;
  limits?: Partial<ScrubLimits>;
}

/** Past every key under `.dg/` (the Worker's internal objects are not user data). */
const AFTER_INTERNAL = INTERNAL_PREFIX + "\u{10FFFF}";

export async function scrubPage(engineCtx: EngineContext, request: ScrubRequest, now: () => number = Date.now): Promise<ScrubPage> {
  // No edge caches: a verified cached copy of a reference or a rebuilt object would hide damage in storage.
  const ctx: EngineContext = { ...engineCtx, referenceCache: undefined, rebuiltCache: undefined };
  const limits = { ...DEFAULT_SCRUB_LIMITS, ...request.limits };
  const started = now();
  const page: ScrubPage = { checked: 0, verified: 0, unverifiable: 0, bytes: 0, damaged: [], next: null };
  let startAfter = request.after;
  let cursor: string | undefined;
  for (;;) {
    const listing = await ctx.backend.list({ prefix: request.prefix, startAfter, cursor, limit: 1000, includeMetadata: true });
    let jumped = false;
    for (const stored of listing.objects) {
      if (stored.key.startsWith(INTERNAL_PREFIX) && !request.prefix.startsWith(INTERNAL_PREFIX)) {
        // The Worker's own objects (staging, multipart parts, runtime buckets) are jumped, not paged through.
        startAfter = AFTER_INTERNAL;
        cursor = undefined;
        jumped = true;
        break;
      }
      if (!isScrubbed(stored.key)) continue;
      await checkStored(ctx, stored, page);
      page.next = stored.key;
      if (page.checked >= limits.maxObjects || page.bytes >= limits.maxBytes || now() - started >= limits.maxMs) return page;
    }
    if (jumped) continue;
    if (!listing.truncated || !listing.cursor) break;
    cursor = listing.cursor;
  }
  page.next = null;
  return page;
}

/** Sidecars are read with their objects; of a deltaspace's `.dg/` folder only the inflated reference is user-derived data. */
function isScrubbed(storedKey: string): boolean {
  if (inflatedReferenceOwner(storedKey) !== null) return true;
  return !parseKey(storedKey).name.endsWith(SIDECAR_SUFFIX) && !(isInternalPath(storedKey) && !storedKey.startsWith(INTERNAL_PREFIX));
}

async function checkStored(ctx: EngineContext, stored: StoredObject, page: ScrubPage): Promise<void> {
  const name = parseKey(stored.key).name;
  const classified = classifyStoredKey(stored.key);
  const isReference = name === REFERENCE_NAME || inflatedReferenceOwner(stored.key) !== null;
  const kind: ScrubKind = isReference ? "reference" : classified.kind === "delta" ? "delta" : "direct";
  const key = classified.kind === "internal" ? stored.key : classified.userKey;
  page.checked++;
  let outcome: Outcome;
  try {
    outcome = kind === "delta" ? await checkDelta(ctx, key, stored) : await checkWhole(ctx, stored, kind);
  } catch (error) {
    outcome = { damage: describeFailure(error), bytes: 0 };
  }
  page.bytes += outcome.bytes;
  if (outcome.damage) page.damaged.push({ key, storedKey: stored.key, kind, reason: outcome.damage });
  else if (outcome.unverifiable) page.unverifiable++;
  else page.verified++;
}

interface Outcome {
  damage?: string;
  unverifiable?: boolean;
  bytes: number;
}

/** A reference.bin or a direct object: its bytes hashed against the size and SHA-256 it records. */
async function checkWhole(ctx: EngineContext, stored: StoredObject, kind: ScrubKind): Promise<Outcome> {
  const record = await recordOf(ctx, stored);
  const object = await ctx.backend.get(stored.key);
  if (!object) return { bytes: 0 }; // deleted since it was listed: nothing stored to be damaged
  if (object.etag !== stored.etag) {
    await object.body.cancel().catch(() => {});
    return { bytes: 0 }; // replaced since it was listed: the new one is another write's business
  }
  const { sha256, bytes } = await hashStream(object.body);
  if (!record?.sha256) {
    return kind === "reference" ? { damage: "reference records no SHA-256", bytes } : { unverifiable: true, bytes };
  }
  const size = kind === "reference" ? record.size ?? bytes : record.size;
  if (size !== undefined && size !== 0 && size !== bytes) return { damage: `size ${bytes}, recorded ${size}`, bytes };
  if (sha256 !== record.sha256) return { damage: `SHA-256 ${sha256} does not match the recorded ${record.sha256}`, bytes };
  return { bytes };
}

/**
 * A `.delta`: decoded against its reference (confirmed by dg-ref-sha256), output hashed against the record. A
 * compressed-aware one decodes its inflated form against the reference's inflated form (made on demand from
 * reference.bin, reference-form.ts), and is recompressed by its recipes before the hash.
 */
async function checkDelta(ctx: EngineContext, key: string, stored: StoredObject): Promise<Outcome> {
  let record = decodeMetadata(stored.metadata);
  if (!record) {
    const sidecar = await readSidecar(ctx, stored.key);
    if (sidecar && (!sidecar.deltaSize || sidecar.deltaSize === stored.size)) record = sidecar;
  }
  if (!record || record.kind !== "delta" || record.size === undefined) return { damage: "no usable DeltaGlider delta record (metadata or sidecar)", bytes: 0 };
  if (!ctx.codec) throw new S3Error("InternalError", "Delta decoding is not available.");
  const recompress = record.recompress;
  if (recompress && recompress.formSize < 0) return { damage: "a compressed-aware delta format this version cannot read", bytes: 0 };
  const reference = recompress ? await inflatedReferenceSource(ctx, key, record) : await deltaReferenceSource(ctx, key, record);
  const object = await ctx.backend.get(stored.key);
  if (!object) return { bytes: 0 };
  if (object.etag !== stored.etag) {
    await object.body.cancel().catch(() => {});
    return { bytes: 0 };
  }
  // The codec limiter queues this job behind others, as any delta GET's; its output is consumed at once.
  const decoded = ctx.codec.decode(reference.source, object.body, { ...ctx.config.codec, maxOutputSize: recompress ? recompress.formSize : record.size });
  const rebuilt = recompress ? rebuiltFromInflatedForm(decoded) : decoded;
  const { sha256, bytes } = await hashStream(rebuilt);
  const read = bytes + stored.size;
  if (bytes !== record.size) return { damage: `rebuilt ${bytes} bytes, recorded ${record.size}`, bytes: read };
  if (sha256 !== record.sha256) return { damage: `rebuilt SHA-256 ${sha256} does not match the recorded ${record.sha256}`, bytes: read };
  return { bytes: read };
}

async function recordOf(ctx: EngineContext, stored: StoredObject): Promise<DgRecord | null> {
  return decodeMetadata(stored.metadata) ?? (ctx.config.sidecars ? await readSidecar(ctx, stored.key) : null);
}

async function hashStream(stream: ReadableStream<Uint8Array>): Promise<{ sha256: string; bytes: number }> {
  const hasher = new StreamHasher(false);
  const reader = stream.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      await hasher.update(asBytes(value));
    }
  } catch (error) {
    await reader.cancel(error).catch(() => {});
    throw error;
  }
  const { sha256 } = await hasher.finish();
  return { sha256, bytes: hasher.bytes };
}

function describeFailure(error: unknown): string {
  if (isCodecError(error)) return `decode failed (${error.kind}): ${error.message}`;
  if (error instanceof S3Error) return error.message;
  return `check failed: ${(error as Error).message ?? String(error)}`;
}
