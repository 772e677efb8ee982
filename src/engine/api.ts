// The engine's contract with the S3 protocol layer. The engine never sees HTTP: it takes keys, streams and
// typed options and returns typed results; it throws S3Error values (src/errors.ts) for S3-visible failures.
// One Engine instance serves one S3 bucket (one Backend); the protocol layer maps bucket names to engines.

/** How an object is stored. Header `x-amz-storage-type` shows Reference | Delta | Direct (seed names). */
export type StorageType = "reference" | "delta" | "passthrough";

export type ChecksumAlgorithm = "crc32" | "crc32c" | "crc64nvme" | "sha1" | "sha256";

/** HTTP headers that S3 keeps with an object and returns on GET/HEAD. */
export interface ObjectHttpHeaders {
  contentType?: string;
  contentEncoding?: string;
  contentDisposition?: string;
  contentLanguage?: string;
  cacheControl?: string;
  expires?: string;
}

/** What a client sees of an object (original size/ETag, never the stored variant's). */
export interface ObjectInfo {
  /** The user's key. */
  key: string;
  /** Original (logical) size in bytes. */
  size: number;
  /** Unquoted ETag: MD5 hex of the original bytes, or "<hex>-<parts>" for multipart uploads. */
  etag: string;
  lastModified: Date;
  http: ObjectHttpHeaders;
  /** Client metadata (`x-amz-meta-<k>`), keys without the prefix. */
  userMetadata: Record<string, string>;
  storageType: StorageType;
  /** Bytes the stored variant occupies in the backend (delta size for deltas). */
  storedSize: number;
  /** Flexible checksums of the original bytes, base64 as S3 returns them. */
  checksums: Partial<Record<ChecksumAlgorithm, string>>;
  /** SHA-256 hex of the original bytes, when known. */
  sha256?: string;
  /** Byte size of each part, in part order, for an object completed from a multipart upload (when recorded). */
  partSizes?: number[];
}

/** An inclusive byte range [start, end] already validated against the object size. */
export interface ResolvedRange {
  start: number;
  end: number;
}

export interface OpenedObject {
  info: ObjectInfo;
  /**
   * The original bytes (or the range of them). For a delta this rebuilds through the streaming codec and
   * verifies SHA-256; a mismatch errors the stream before it completes, so wrong bytes are never delivered whole.
   */
  read(range?: ResolvedRange): Promise<ReadableStream<Uint8Array>>;
  /**
   * Releases what `open({ forRead: true })` holds for `read()` (a delta's open body) when `read()` will not be
   * called (HEAD, 304/412, a range error). A no-op after `read()` and for objects opened without `forRead`.
   */
  discard(): Promise<void>;
}

/**
 * What one engine call did that the request's log line reports (src/s3/request-log.ts). The caller passes an
 * empty object as `observe`; the engine fills in what it learns. Facts only, never keys, bytes or metadata.
 */
export interface EngineObservations {
  /** Milliseconds of the delta encode pass of a PUT that tried a delta (kept or not; reference reads included). */
  codecMs?: number;
  /**
   * Where a delta read's bytes come from: "rebuilt" = the rebuilt-object cache (no decode), "reference" = a
   * decode whose reference was known to the reference block cache (its blocks come from the edge; a block
   * miss still reads the backend), "miss" = a decode that read the reference's metadata from the backend.
   */
  cache?: "rebuilt" | "reference" | "miss";
  /**
   * Called when a delta read's decode has ended (its last byte decoded and verified), with its milliseconds from
   * the read's start. A callback, not a field: the answer's headers (and its log line) went out long before.
   */
  decoded?: (ms: number) => void;
}

export interface OpenOptions {
  /**
   * The caller means to read the bytes (a GET): a delta's body is fetched together with its metadata (one
   * GET of the `.delta`), so the rebuild needs no second read of it. The caller must then call `read()` or
   * `discard()`. Without it, `open` reads metadata only (HEADs) and `read()` fetches the delta when it starts.
   */
  forRead?: boolean;
  /** Filled in by `read()` (the cache a delta was served from). */
  observe?: EngineObservations;
}

export interface PutInput {
  body: ReadableStream<Uint8Array> | Uint8Array;
  /** Exact body length in bytes (already decoded from aws-chunked). */
  size: number;
  http?: ObjectHttpHeaders;
  userMetadata?: Record<string, string>;
  /** Checksums to store with the object (already verified by the protocol layer). */
  checksums?: Partial<Record<ChecksumAlgorithm, string>>;
  /** A multipart ETag ("<hex>-<n>") to keep instead of the MD5 of the body. */
  multipartEtag?: string;
  /** The sizes of the parts a multipart object was assembled from, in order (GET/HEAD `?partNumber=N`). */
  partSizes?: number[];
  /**
   * The same bytes as `body`, already stored and re-readable (a completed multipart upload's staged parts).
   * When given, the engine may read this (as often as it needs, or by range) instead of staging `body`
   * itself; `body` is then left unread, which costs nothing (it only opens parts when pulled).
   */
  source?: ReReadableBody;
  /**
   * A conditional write (If-None-Match / If-Match): called with the key's current object (null when absent)
   * while the engine holds the key alone; it throws (e.g. PreconditionFailed) to refuse the write. Nothing is
   * written before it passes, and no other write or delete of the key runs until this one is answered.
   */
  precondition?: (current: ObjectInfo | null) => void;
  /** Filled in as the PUT runs (the encode's duration). */
  observe?: EngineObservations;
}

/** Bytes that can be read again: whole as a fresh stream each time, or by range. */
export interface ReReadableBody {
  readonly size: number;
  stream(): ReadableStream<Uint8Array>;
  read(offset: number, length: number): Promise<Uint8Array>;
}

export interface PutResult {
  etag: string;
  storageType: StorageType;
  storedSize: number;
  size: number;
  /** Why a write was stored as-is (storageType "passthrough" only). */
  passthroughReason?: PassthroughReason;
}

/**
 * Why a write is stored as-is: `ineligible` (its name's extension is not a delta extension, or delta compression
 * is off), `empty`, `too-large` (over the delta size limit), `no-reference` (the deltaspace's reference has no
 * usable content hash, or another first upload's seeding did not finish in time), `ratio` (the delta would
 * not have been smaller than maxDeltaRatio × size; also gzip content no compressed-aware delta could be made of,
 * whose plain delta never pays), `codec-error` (the encoder failed; the bytes are stored exactly), `rewrite` (a re-baseline unpacking a
 * delta to its plain copy, src/engine/rebaseline.ts).
 */
export type PassthroughReason = "ineligible" | "empty" | "too-large" | "no-reference" | "ratio" | "codec-error" | "rewrite";

export interface ListInput {
  prefix?: string;
  delimiter?: string;
  startAfter?: string;
  /** Opaque token from a previous ListResult.nextCursor. */
  cursor?: string;
  /** 0..1000; objects and common prefixes count together, as in S3. */
  maxKeys: number;
}

export interface ListedObject {
  key: string;
  size: number;
  etag: string;
  lastModified: Date;
  storageType: StorageType;
}

export interface ListResult {
  objects: ListedObject[];
  commonPrefixes: string[];
  isTruncated: boolean;
  nextCursor?: string;
}

export interface DeleteOutcome {
  key: string;
  error?: { code: string; message: string };
}

export interface ObjectEngine {
  /** Resolve a user key to its stored variant. null when absent. */
  open(key: string, options?: OpenOptions): Promise<OpenedObject | null>;
  /**
   * Open `key` and hand it to `use` (which reads it, and must do so before sending anything); when the read
   * finds the object replaced or deleted since it was resolved (ObjectChangedError before its first byte, an
   * overwrite committed in between), open it again, so a reader gets the old or the new object, never an error
   * for a race. null when absent. The opened object is discarded after `use`.
   */
  withObject<T>(key: string, options: OpenOptions, use: (opened: OpenedObject) => Promise<T>): Promise<T | null>;
  put(key: string, input: PutInput): Promise<PutResult>;
  /** Delete a user key (absent is fine); removes the deltaspace's reference when nothing depends on it. */
  delete(key: string): Promise<void>;
  deleteMany(keys: string[]): Promise<DeleteOutcome[]>;
  list(input: ListInput): Promise<ListResult>;
  /** True when the bucket holds no user-visible object. */
  isEmpty(): Promise<boolean>;
  /**
   * DeleteBucket's check and sweep, serialized with every write of the bucket: BucketNotEmpty while an object
   * exists or a PUT is in progress; afterwards new PUTs get NoSuchBucket.
   */
  deleteBucket(): Promise<void>;
  /**
   * Hold a multipart upload (`name`: its state key) with the bucket's coordinator while a call that writes
   * under the bucket runs (src/coordination/api.ts hold()); resolves to the release. NoSuchBucket once the
   * bucket is deleted; `exclusive` (Complete) gets ConditionalRequestConflict while another call holds it.
   */
  holdUpload(name: string, exclusive?: boolean): Promise<() => Promise<void>>;
}
