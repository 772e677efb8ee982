// The authentication seam the S3 protocol layer calls between classifying a request and running the operation.
// Everything a request must prove (who signed it, that it may touch this bucket, that its body is the body that
// was signed and checksummed) is decided here; the protocol layer only sees a VerifiedRequest or an S3Error.
import type { ChecksumAlgorithm } from "../../engine/api";
import type { S3Error } from "../../errors";

export type Access = "read-write" | "read-only";

/** One access key from DG_CREDENTIALS (or the local dev key). */
export interface AccessKey {
  accessKeyId: string;
  secretAccessKey: string;
  access: Access;
  /** Bucket names this key may use; "*" means all. */
  buckets: string[];
  /** May use the operator endpoints under `/_/` (stats, metrics, scrub, re-baseline): `"admin": true`. */
  admin: boolean;
}

export interface CorsConfig {
  /** Allowed origins ("https://app.example.com"); "*" allows any. Empty: no CORS headers at all. */
  origins: string[];
  /** Seconds a browser may cache a preflight answer. */
  maxAgeSeconds: number;
}

export interface AuthConfig {
  keys: AccessKey[];
  /** Buckets anyone may read (GET/HEAD/list) without signing. */
  anonymousReadBuckets: string[];
  /** Regions accepted in the credential scope; the first is the one named in errors. */
  regions: string[];
  cors: CorsConfig;
  /** True when no key is configured at all: every request is refused (fail closed). */
  failClosed: boolean;
}

export type Principal = { accessKeyId: string } | { anonymous: true };

export interface RequestAccess {
  /** The bucket the operation touches; undefined for ListBuckets. */
  bucket?: string;
  /** True for anything that changes state (PUT, POST, DELETE). */
  write: boolean;
  /** The clock to check skew and expiry against (tests). */
  now?: Date;
}

export interface VerifiedRequest {
  principal: Principal;
  /**
   * The decoded payload: aws-chunked framing stripped, verified as it streams. If anything is wrong (payload
   * hash, chunk or trailer signature, Content-MD5, flexible checksum, length) the stream errors with an S3Error
   * BEFORE its last bytes are delivered, so a storage write of this stream fails and stores nothing.
   * null when the request has no body.
   */
  body: ReadableStream<Uint8Array> | null;
  /** Decoded body length: x-amz-decoded-content-length for aws-chunked, else Content-Length; null if unknown. */
  bodyLength: number | null;
  /**
   * Flexible checksums the client sent (base64, as S3 shows them), verified by the body stream. Values sent as
   * headers are here at once; a value sent in an aws-chunked trailer is added when the body has been read to
   * its end (before the stream closes).
   */
  checksums: Partial<Record<ChecksumAlgorithm, string>>;
  /** The algorithm announced by x-amz-trailer, whose value arrives at the end of the body. */
  trailerChecksum?: ChecksumAlgorithm;
  /** The S3Error the body stream failed with, if it did (storage layers may wrap stream errors in their own). */
  bodyError(): S3Error | undefined;
}

export { verifyRequest } from "./verify";
export { parseAuthConfig, mayAccess, DEV_KEY, NO_CREDENTIALS_MESSAGE } from "./config";
export { corsPreflight, withCors } from "./cors";
