// The authentication seam the S3 protocol layer calls between classifying a request and running the operation.
// (Seam committed first with placeholder bodies; the real implementation follows in this folder.)
// Everything a request must prove (who signed it, that it may touch this bucket, that its body is the body that
// was signed and checksummed) is decided here; the protocol layer only sees a VerifiedRequest or an S3Error.
import type { ChecksumAlgorithm } from "../../engine/api";
import { S3Error } from "../errors";

export type Access = "read-write" | "read-only";

/** One access key from DG_CREDENTIALS (or the local dev key). */
export interface AccessKey {
  accessKeyId: string;
  secretAccessKey: string;
  access: Access;
  /** Bucket names this key may use; "*" means all. */
  buckets: string[];
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

/** Verify a request's signature, rights and payload. Throws S3Error for any refusal. */
export async function verifyRequest(request: Request, config: AuthConfig, access: RequestAccess): Promise<VerifiedRequest> {
  throw new S3Error("NotImplemented", "authentication is being built");
}

/** Parse DG_CREDENTIALS, DG_DEV_CREDENTIALS, DG_ANONYMOUS_READ_BUCKETS, DG_REGION, DG_CORS_ORIGINS. Throws Error naming the variable. */
export function parseAuthConfig(env: Record<string, unknown>): AuthConfig {
  return { keys: [], anonymousReadBuckets: [], regions: ["us-east-1"], cors: { origins: [], maxAgeSeconds: 3600 }, failClosed: true };
}

/** May this principal use this bucket this way? (e.g. to filter ListBuckets) */
export function mayAccess(config: AuthConfig, principal: Principal, bucket: string, write: boolean): boolean {
  return false;
}

/** Answer a CORS preflight (OPTIONS with Origin + Access-Control-Request-Method); null if this is not one. */
export function corsPreflight(request: Request, config: AuthConfig): Response | null {
  return null;
}

/** Add CORS headers to a response when the request's Origin is allowed. */
export function withCors(response: Response, request: Request, config: AuthConfig): Response {
  return response;
}
