// HTTP ⇄ engine translation shared by the object operations: stored headers, user metadata, storage type,
// conditional requests and byte ranges, all as S3 documents them.
import type { ObjectHttpHeaders, ObjectInfo, ResolvedRange, StorageType } from "../../engine/api";
import { S3Error } from "../../errors";

/** `x-amz-storage-type` values, as DeltaGlider's proxy names them. */
export const STORAGE_TYPE_HEADER = "x-amz-storage-type";
const STORAGE_TYPE_NAMES: Record<StorageType, string> = { reference: "Reference", delta: "Delta", passthrough: "Direct" };

export function storageTypeName(type: StorageType): string {
  return STORAGE_TYPE_NAMES[type];
}

/** S3's limit for user-defined metadata (names + values of x-amz-meta-*, in UTF-8 bytes). */
export const MAX_USER_METADATA_BYTES = 2048;
/** S3's limit for a key, in UTF-8 bytes. */
export const MAX_KEY_BYTES = 1024;

const encoder = new TextEncoder();

export function assertKeyLength(key: string): void {
  if (encoder.encode(key).byteLength > MAX_KEY_BYTES) {
    throw new S3Error("KeyTooLongError", "Your key is too long", { Size: String(encoder.encode(key).byteLength), MaxSizeAllowed: String(MAX_KEY_BYTES) });
  }
}

/** `x-amz-meta-*` request headers → metadata without the prefix (names lower-case, as S3 stores them). */
export function userMetadataFrom(headers: Headers): Record<string, string> {
  const metadata: Record<string, string> = {};
  let bytes = 0;
  for (const [name, value] of headers) {
    if (!name.startsWith("x-amz-meta-")) continue;
    const key = name.slice("x-amz-meta-".length);
    metadata[key] = value;
    bytes += encoder.encode(key).byteLength + encoder.encode(value).byteLength;
  }
  if (bytes > MAX_USER_METADATA_BYTES) {
    throw new S3Error("MetadataTooLarge", "Your metadata headers exceed the maximum allowed metadata size.", {
      Size: String(bytes), MaxSizeAllowed: String(MAX_USER_METADATA_BYTES),
    });
  }
  return metadata;
}

/** Content-* headers S3 keeps with an object. `aws-chunked` is transfer framing, never kept as an encoding. */
export function httpHeadersFrom(headers: Headers): ObjectHttpHeaders {
  const http: ObjectHttpHeaders = {};
  const contentType = headers.get("content-type");
  if (contentType) http.contentType = contentType;
  const encoding = headers.get("content-encoding")?.split(",").map((s) => s.trim()).filter((s) => s && s.toLowerCase() !== "aws-chunked").join(", ");
  if (encoding) http.contentEncoding = encoding;
  const disposition = headers.get("content-disposition");
  if (disposition) http.contentDisposition = disposition;
  const language = headers.get("content-language");
  if (language) http.contentLanguage = language;
  const cacheControl = headers.get("cache-control");
  if (cacheControl) http.cacheControl = cacheControl;
  const expires = headers.get("expires");
  if (expires) http.expires = expires;
  return http;
}

/** Response headers that describe an object (GET, HEAD). */
export function objectHeaders(info: ObjectInfo): Headers {
  const headers = new Headers();
  headers.set("etag", quoteEtag(info.etag));
  headers.set("last-modified", info.lastModified.toUTCString());
  headers.set("accept-ranges", "bytes");
  headers.set("content-type", info.http.contentType ?? "binary/octet-stream");
  if (info.http.contentEncoding) headers.set("content-encoding", info.http.contentEncoding);
  if (info.http.contentDisposition) headers.set("content-disposition", info.http.contentDisposition);
  if (info.http.contentLanguage) headers.set("content-language", info.http.contentLanguage);
  if (info.http.cacheControl) headers.set("cache-control", info.http.cacheControl);
  if (info.http.expires) headers.set("expires", info.http.expires);
  for (const [name, value] of Object.entries(info.userMetadata)) headers.set(`x-amz-meta-${name}`, value);
  headers.set(STORAGE_TYPE_HEADER, storageTypeName(info.storageType));
  return headers;
}

/** GET's `response-*` query overrides (S3 allows them to rewrite these six headers). */
const RESPONSE_OVERRIDES = [
  "content-type", "content-language", "expires", "cache-control", "content-disposition", "content-encoding",
] as const;

/** S3 lets only signed requests rewrite response headers: an anonymous GET with `response-*` is 400 InvalidRequest. */
export function assertOverridesAllowed(query: URLSearchParams, anonymous: boolean): void {
  if (anonymous && RESPONSE_OVERRIDES.some((name) => query.has(`response-${name}`))) {
    throw new S3Error("InvalidRequest", "Request specific response headers cannot be used for anonymous GET requests.");
  }
}

export function applyResponseOverrides(headers: Headers, query: URLSearchParams): void {
  for (const name of RESPONSE_OVERRIDES) {
    const value = query.get(`response-${name}`);
    if (value !== null) headers.set(name, value);
  }
}

export function quoteEtag(etag: string): string {
  return `"${etag}"`;
}

function unquote(etag: string): string {
  const trimmed = etag.trim().replace(/^W\//, "");
  return trimmed.startsWith('"') && trimmed.endsWith('"') ? trimmed.slice(1, -1) : trimmed;
}

/** Does an If-Match / If-None-Match list (`*`, or comma-separated quoted ETags) match this ETag? */
export function etagListMatches(list: string, etag: string): boolean {
  return list.split(",").some((candidate) => candidate.trim() === "*" || unquote(candidate) === etag);
}

/** HTTP dates compare at one-second resolution (Last-Modified carries no milliseconds). */
function seconds(date: Date): number {
  return Math.floor(date.getTime() / 1000);
}

function parseHttpDate(value: string | null): Date | undefined {
  if (value === null) return undefined;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

export interface ConditionHeaders {
  ifMatch: string | null;
  ifNoneMatch: string | null;
  ifModifiedSince: string | null;
  ifUnmodifiedSince: string | null;
}

export function conditionsFrom(headers: Headers, prefix = ""): ConditionHeaders {
  return {
    ifMatch: headers.get(`${prefix}if-match`),
    ifNoneMatch: headers.get(`${prefix}if-none-match`),
    ifModifiedSince: headers.get(`${prefix}if-modified-since`),
    ifUnmodifiedSince: headers.get(`${prefix}if-unmodified-since`),
  };
}

/**
 * S3's (RFC 7232's) order: If-Match, else If-Unmodified-Since → 412; If-None-Match, else If-Modified-Since → 304
 * (for GET/HEAD; `notModified` says which failure code a "not modified" outcome has — CopyObject uses 412).
 */
export function evaluateConditions(
  conditions: ConditionHeaders,
  info: Pick<ObjectInfo, "etag" | "lastModified">,
  notModified: "NotModified" | "PreconditionFailed" = "NotModified",
): void {
  const lastModified = seconds(info.lastModified);
  if (conditions.ifMatch !== null) {
    if (!etagListMatches(conditions.ifMatch, info.etag)) throw preconditionFailed("If-Match");
  } else {
    const since = parseHttpDate(conditions.ifUnmodifiedSince);
    if (since && lastModified > seconds(since)) throw preconditionFailed("If-Unmodified-Since");
  }
  if (conditions.ifNoneMatch !== null) {
    if (etagListMatches(conditions.ifNoneMatch, info.etag)) throw notModifiedError(notModified, "If-None-Match");
  } else {
    const since = parseHttpDate(conditions.ifModifiedSince);
    if (since && lastModified <= seconds(since)) throw notModifiedError(notModified, "If-Modified-Since");
  }
}

/**
 * If-None-Match / If-Match on a write (PutObject, CopyObject's destination, CompleteMultipartUpload) as the
 * engine's `PutInput.precondition`: the engine calls it with the key's current object while it holds the key
 * alone, so the answer still holds when the write lands. undefined when the request has neither header.
 */
export function writePrecondition(headers: Headers, key: string): ((current: ObjectInfo | null) => void) | undefined {
  const ifMatch = headers.get("if-match");
  const ifNoneMatch = headers.get("if-none-match");
  if (ifMatch === null && ifNoneMatch === null) return undefined;
  return (current) => {
    if (!current) {
      if (ifMatch !== null) throw new S3Error("NoSuchKey", "The specified key does not exist.", { Key: key });
      return;
    }
    evaluateConditions({ ifMatch, ifNoneMatch, ifModifiedSince: null, ifUnmodifiedSince: null }, current, "PreconditionFailed");
  };
}

function preconditionFailed(condition: string): S3Error {
  return new S3Error("PreconditionFailed", "At least one of the pre-conditions you specified did not hold", { Condition: condition });
}

function notModifiedError(code: "NotModified" | "PreconditionFailed", condition: string): S3Error {
  return code === "NotModified" ? new S3Error("NotModified", "Not Modified") : preconditionFailed(condition);
}

/**
 * Parse a Range header against the object size. Returns undefined for "whole object" (no header, a syntax
 * S3 ignores, or several ranges); throws InvalidRange (416) when it cannot be satisfied.
 */
export function resolveRange(header: string | null, size: number): ResolvedRange | undefined {
  if (header === null) return undefined;
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match || (match[1] === "" && match[2] === "")) return undefined;
  const [, first, last] = match;
  let start: number;
  let end: number;
  if (first === "") {
    const suffix = Number(last);
    if (suffix === 0 || size === 0) throw invalidRange(size);
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(first);
    end = last === "" ? size - 1 : Math.min(Number(last), size - 1);
    if (last !== "" && Number(last) < start) return undefined;
    if (start >= size) throw invalidRange(size);
  }
  return { start, end };
}

function invalidRange(size: number): S3Error {
  return new S3Error("InvalidRange", "The requested range is not satisfiable", { ActualObjectSize: String(size) });
}
