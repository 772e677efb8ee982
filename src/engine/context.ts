// What every engine operation needs: the backend, the resolved config and the codec.
import type { CodecOptions, SourceInfo, SourceReader } from "../codec/api";
import type { Coordinator } from "../coordination/api";
import type { Backend, StoredObject } from "../storage/backend";
import type { EngineConfig } from "./config";
import { sidecarKey } from "./deltaspace";
import { decodeSidecar, encodeSidecar, type DgRecord } from "./metadata";

/** The streaming codec as the engine uses it (bound to a compiled WASM module). */
export interface DeltaCodec {
  /** Delta of `target` against `source`, as a stream. */
  encode(source: SourceInfo, target: ReadableStream<Uint8Array>, options: CodecOptions): ReadableStream<Uint8Array>;
  /** The target rebuilt from `source` + `delta`, as a stream of chunks the consumer owns (never reused). */
  decode(source: SourceInfo, delta: ReadableStream<Uint8Array>, options: CodecOptions): ReadableStream<Uint8Array>;
  /**
   * True while a codec job holds the isolate's budget (a new job would queue behind it). Required: a delta GET
   * that would queue gives up the backend read it holds (src/engine/rebuild.ts storedDeltaBody).
   */
  busy(): boolean;
  /** True while another job waits for the isolate's budget (a stalled decode then gives the codec back). */
  contended(): boolean;
}

/** A cache of reference bytes keyed by the reference's SHA-256 (src/cache ReferenceBlockCache fits). */
export interface ReferenceCache {
  reader(ref: { sha256: string; size: number }, origin: SourceReader): SourceReader;
  /** The same reads, plus `readInto` straight into the codec's buffer (preferred when present: no extra copy). */
  source?(ref: { sha256: string; size: number }, origin: SourceReader, pattern?: { keptBlocks?: number }): Pick<SourceInfo, "read" | "readInto">;
  /**
   * The size of the reference with this SHA-256 if the cache knows it. Lets a delta GET decode from cached
   * blocks without reading the reference's metadata from the backend (its origin is then opened on a miss).
   */
  referenceSize?(sha256: string): Promise<number | null>;
  /** Remember a reference's size, learned from the backend, for referenceSize. */
  rememberReferenceSize?(sha256: string, size: number): Promise<void>;
  /** Forget everything cached for a reference (an object rebuilt from it failed its SHA-256 check). */
  evictReference?(ref: { sha256: string; size: number }): Promise<void>;
  /**
   * What is known of the inflated form of the reference.bin with this SHA-256 (compressed-aware deltas,
   * reference-form.ts), so a PUT need not inflate reference.bin twice to learn it. Content addressed: never stale.
   */
  inflatedForm?(referenceSha256: string, version: number): Promise<InflatedFormFacts | null>;
  rememberInflatedForm?(referenceSha256: string, version: number, facts: InflatedFormFacts): Promise<void>;
}

/** A reference's inflated form: its size, its SHA-256 and its header (the segment table it is laid out by). */
export interface InflatedFormFacts {
  size: number;
  sha256: string;
  header: Uint8Array;
}

/** Whole rebuilt delta objects kept at the edge, keyed by their SHA-256 and size (src/cache RebuiltObjectCache fits). */
export interface RebuiltCache {
  /** Whether an object of this identity is kept at all (e.g. small enough). */
  accepts(object: { sha256: string; size: number }): boolean;
  /** The cached bytes, or null. Unverified: the engine checks them against the object's SHA-256. */
  match(object: { sha256: string; size: number }): Promise<ReadableStream<Uint8Array> | null>;
  /** `stream` unchanged; what went through is stored once it ended normally (never after an error). */
  tap(object: { sha256: string; size: number }, stream: ReadableStream<Uint8Array>): ReadableStream<Uint8Array>;
  evict(object: { sha256: string; size: number }): Promise<void>;
}

export interface EngineOptions {
  /** Serve reference.bin range reads from an edge cache; misses read the backend (ETag-pinned). */
  referenceCache?: ReferenceCache;
  /** Keep whole rebuilt delta objects at the edge for hot downloads (off when absent). */
  rebuiltCache?: RebuiltCache;
  /**
   * How listings get object metadata. "all" (default; right for R2, where the list returns it for free):
   * list with includeMetadata. "deltas": list without it and HEAD only `.delta` entries (for backends where
   * metadata costs one HEAD per object, e.g. remote S3); plain objects then show their stored size, ETag
   * and Last-Modified (equal to the recorded ones except for multipart ETags and by milliseconds).
   */
  listMetadata?: "all" | "deltas";
  /**
   * Serializes this bucket's writes, deletes and reference collection across isolates (the Worker passes
   * its Durable Object). Default: an in-memory LocalCoordinator, which only covers this engine instance.
   */
  coordinator?: Coordinator;
}

export interface EngineContext {
  backend: Backend;
  config: EngineConfig;
  /** Absent: no delta work is possible (everything is stored passthrough; stored deltas cannot be read). */
  codec?: DeltaCodec;
  referenceCache?: ReferenceCache;
  rebuiltCache?: RebuiltCache;
  listMetadata: "all" | "deltas";
  coordinator: Coordinator;
}

/** DeltaGlider stores every object with this backend Content-Type; the client's type is in metadata. */
export const STORED_CONTENT_TYPE = "application/octet-stream";

/** Write `<stored key>.meta` (when sidecars are on); returns the bytes it occupies (0: none written). */
export async function writeSidecar(ctx: EngineContext, storedKey: string, record: DgRecord): Promise<number> {
  if (!ctx.config.sidecars) return 0;
  const json = encodeSidecar(record);
  const bytes = new TextEncoder().encode(json);
  await ctx.backend.put(sidecarKey(storedKey), bytes, bytes.byteLength, { contentType: "application/json" });
  return bytes.byteLength;
}

/** The record in `<stored key>.meta`, or null when there is none or it is unusable. */
export async function readSidecar(ctx: EngineContext, storedKey: string): Promise<DgRecord | null> {
  const object = await ctx.backend.get(sidecarKey(storedKey));
  if (!object) return null;
  if (object.size > 64 * 1024) {
    await object.body.cancel().catch(() => {});
    return null;
  }
  return decodeSidecar(await new Response(object.body).text());
}

/** Object metadata first (authoritative); the sidecar only when the metadata holds no DeltaGlider record. */
export async function recordOf(
  ctx: EngineContext,
  stored: StoredObject,
  decode: (meta: Record<string, string>) => DgRecord | null,
  trySidecar: boolean,
): Promise<DgRecord | null> {
  return decode(stored.metadata) ?? (trySidecar ? await readSidecar(ctx, stored.key) : null);
}
