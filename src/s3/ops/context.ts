// What every S3 operation module gets: the request, its verified body, the bucket registry and engines.
import type { Config } from "../../config";
import type { BucketEntry, BucketRegistry } from "../../buckets/registry";
import type { ChecksumAlgorithm, ObjectEngine } from "../../engine/api";
import type { S3Error } from "../../errors";
import type { RequestMetrics } from "../../metrics/isolate";
import type { RequestFacts } from "../request-log";

/** The body as the authentication step hands it on (aws-chunked decoded, checksums verified as it streams). */
export interface VerifiedBody {
  body: ReadableStream<Uint8Array> | null;
  /** Decoded length; null when the client sent none. */
  bodyLength: number | null;
  /** Flexible checksums the client sent (a trailer value appears once the body has been read). */
  checksums: Partial<Record<ChecksumAlgorithm, string>>;
  /** The S3Error the body stream failed with, if any (storage may wrap it into its own error). */
  bodyError(): S3Error | undefined;
}

export interface OpContext {
  request: Request;
  url: URL;
  verified: VerifiedBody;
  config: Config;
  buckets: BucketRegistry;
  engineFor(bucket: BucketEntry): ObjectEngine;
  requestId: string;
  /** Nobody signed the request: S3 refuses some request options (`response-*` overrides) to anonymous callers. */
  anonymous: boolean;
  /** What the request's log line reports of the object written or read (src/s3/request-log.ts): ops note the
   *  stored variant and pass it to the engine as `observe`. */
  facts: RequestFacts;
  /** The isolate's metrics as this request records into them (absent without the DG_METRICS binding). */
  metrics?: RequestMetrics;
}

/** Canonical owner shown in listings and ACLs (single-tenant proxy: one owner owns everything). */
export const OWNER = { ID: "deltaglider", DisplayName: "deltaglider" } as const;
