// The request log: one JSON line per S3 request (`console.log`, read with `wrangler tail --format json`), built
// by the handler once the response is ready. The line is made only of the fields below, each from a typed
// value — the operation, bucket and key of the classified S3Op, the status and S3 error code, byte counts and
// what the engine observed — never from request headers, the query string or metadata, so an Authorization
// header, a presigned URL's X-Amz-Signature/X-Amz-Credential, a secret or a metadata value cannot reach it.
import type { EngineObservations, PassthroughReason, StorageType } from "../engine/api";
import { ConfigError } from "../errors";
import type { S3Op } from "./classify";
import { storageTypeName } from "./ops/headers";

export const LOG_REQUESTS_VARIABLE = "DG_LOG_REQUESTS";

export interface RequestLogConfig {
  /** Write one line per S3 request (DG_LOG_REQUESTS, default true). */
  requests: boolean;
}

export function parseRequestLogConfig(env: Record<string, unknown>): RequestLogConfig {
  const raw = env[LOG_REQUESTS_VARIABLE];
  if (raw === undefined || raw === null || raw === "") return { requests: true };
  const value = String(raw).trim().toLowerCase();
  if (value === "true") return { requests: true };
  if (value === "false") return { requests: false };
  throw new ConfigError(LOG_REQUESTS_VARIABLE, `must be true or false, got ${JSON.stringify(String(raw))}`);
}

/**
 * What a request learned about the object it wrote or read: the operation module notes the stored variant
 * (from the PutResult or ObjectInfo it gets), the engine fills in its observations as it runs.
 */
export interface RequestFacts extends EngineObservations {
  storageType?: StorageType;
  /** The object's original size in bytes. */
  size?: number;
  /** Bytes its stored variant occupies (the delta's size for a delta). */
  storedBytes?: number;
  /** Why a write was stored as-is (from its PutResult; the metrics count it). */
  passthroughReason?: PassthroughReason;
}

export function noteObject(facts: RequestFacts,
  object: { storageType: StorageType; size: number; storedSize: number; passthroughReason?: PassthroughReason }): void {
  facts.storageType = object.storageType;
  facts.size = object.size;
  facts.storedBytes = object.storedSize;
  if (object.passthroughReason) facts.passthroughReason = object.passthroughReason;
}

/** One log line. Absent fields were not known (or do not apply) for this request. */
export interface RequestLogRecord {
  requestId: string;
  /** The S3 operation (S3Op kind); absent when the request could not be classified. */
  op?: string;
  bucket?: string;
  key?: string;
  status: number;
  /** The S3 error code of a failed request. */
  code?: string;
  /** Reference | Delta | Direct, as the `x-amz-storage-type` header names them. */
  storageType?: string;
  /** Request body bytes read and verified (a failed request's count is not known). */
  bytesIn?: number;
  /** Response body bytes, from its Content-Length (0 for HEAD and bodiless answers). */
  bytesOut?: number;
  storedBytes?: number;
  /** storedBytes / original size. */
  ratio?: number;
  codecMs?: number;
  cache?: EngineObservations["cache"];
  /** Milliseconds from the request's arrival to its response (a streamed body goes on after that). */
  ms: number;
}

export interface AnsweredRequest {
  requestId: string;
  method: string;
  op: S3Op | undefined;
  response: Response;
  /** The S3 error code, when the request failed. */
  code?: string;
  /** The verified body's length, when the operation ran to its answer. */
  bytesIn?: number;
  facts: RequestFacts;
  startedAt: number;
}

export function requestLogRecord(answered: AnsweredRequest): RequestLogRecord {
  const { op, response, facts } = answered;
  const address = op && "bucket" in op ? op : undefined;
  return {
    requestId: answered.requestId,
    op: op?.kind,
    bucket: address?.bucket,
    key: address && "key" in address ? address.key : undefined,
    status: response.status,
    code: answered.code,
    storageType: facts.storageType && storageTypeName(facts.storageType),
    bytesIn: answered.bytesIn,
    bytesOut: bytesOut(answered.method, response),
    storedBytes: facts.storedBytes,
    ratio: facts.storedBytes !== undefined && facts.size ? round(facts.storedBytes / facts.size, 4) : undefined,
    codecMs: facts.codecMs,
    cache: facts.cache,
    ms: Date.now() - answered.startedAt,
  };
}

/** Writes the line (JSON.stringify leaves absent fields out). */
export function logRequest(record: RequestLogRecord): void {
  console.log(JSON.stringify(record));
}

/** Response body bytes from its Content-Length (0 for HEAD and bodiless answers; undefined when not known). */
export function bytesOut(method: string, response: Response): number | undefined {
  if (method === "HEAD" || response.body === null) return 0;
  const length = response.headers.get("content-length");
  return length !== null && /^\d+$/.test(length) ? Number(length) : undefined;
}

function round(value: number, digits: number): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}
