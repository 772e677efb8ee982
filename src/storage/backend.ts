// The one small interface every storage backend implements (R2 binding, remote S3 via aws4fetch).
// The engine only ever talks to this; it never sees R2 or HTTP types. Bodies are web streams.

/** What a backend knows about one stored object, without its body. */
export interface StoredObject {
  key: string;
  size: number;
  /** The backend's ETag, unquoted (an MD5 hex for single PUTs; "<hex>-<n>" for backend multipart). */
  etag: string;
  lastModified: Date;
  /** User metadata without the `x-amz-meta-` prefix, keys lower-case (R2 customMetadata). */
  metadata: Record<string, string>;
  /** The backend's Content-Type, if any. DeltaGlider keeps the client's type in metadata `content-type`. */
  contentType?: string;
}

export interface StoredObjectBody extends StoredObject {
  body: ReadableStream<Uint8Array>;
  /** The byte range actually returned, when a range was asked for. */
  range?: { offset: number; length: number };
}

/** A byte range as S3/R2 accept it: from offset (optionally of a length), or the last `suffix` bytes. */
export type ByteRange = { offset: number; length?: number } | { suffix: number };

export interface PutOptions {
  metadata?: Record<string, string>;
  contentType?: string;
  /** Create only if the key does not exist yet (R2 `etagDoesNotMatch: "*"`, S3 `If-None-Match: *`). */
  onlyIfAbsent?: boolean;
  /** Replace only if the current ETag (unquoted) is this one. */
  onlyIfEtag?: string;
}

export interface ListOptions {
  prefix?: string;
  delimiter?: string;
  /** Start strictly after this key (S3 start-after / marker). */
  startAfter?: string;
  /** Opaque continuation cursor from a previous ListPage. */
  cursor?: string;
  /** At most this many entries (objects + prefixes); backends may return fewer. 1..1000 */
  limit?: number;
  /** Whether `metadata` must be filled in for listed objects (costs more on some backends). */
  includeMetadata?: boolean;
}

export interface ListPage {
  objects: StoredObject[];
  commonPrefixes: string[];
  truncated: boolean;
  cursor?: string;
}

export interface MultipartPart {
  partNumber: number;
  etag: string;
}

/** A backend-native multipart upload, used internally to write objects too large for one PUT. */
export interface BackendMultipart {
  readonly key: string;
  readonly uploadId: string;
  uploadPart(partNumber: number, body: ReadableStream<Uint8Array> | Uint8Array, length: number): Promise<MultipartPart>;
  complete(parts: MultipartPart[]): Promise<StoredObject>;
  abort(): Promise<void>;
}

export interface Backend {
  /** A short name for logs and stats ("r2:BUCKET", "s3:http://host/bucket"). */
  readonly name: string;
  head(key: string): Promise<StoredObject | null>;
  get(key: string, range?: ByteRange): Promise<StoredObjectBody | null>;
  /**
   * Store a body of a known length. Returns null when a condition (onlyIfAbsent / onlyIfEtag) failed and
   * nothing was written.
   */
  put(
    key: string,
    body: ReadableStream<Uint8Array> | Uint8Array | string,
    length: number,
    options?: PutOptions,
  ): Promise<StoredObject | null>;
  /** Delete keys (missing keys are not an error). At most 1000 per call. */
  delete(keys: string[]): Promise<void>;
  list(options: ListOptions): Promise<ListPage>;
  createMultipart(key: string, options?: PutOptions): Promise<BackendMultipart>;
  resumeMultipart(key: string, uploadId: string): BackendMultipart;
}
