// What one S3 request adds to the metrics (src/metrics/), from the facts the request log already gathers: the
// classified S3Op, status, S3 error code, body sizes, the engine's observations (encode time, which cache a delta
// read came from) and what the op noted of the write's PutResult (delta decision and why). Nothing is measured
// twice: the handler builds one AnsweredRequest for the log line and this. Two facts arrive after the answer — a
// delta read's decode ends when its body does, and a multipart completion stores its object behind S3's
// keep-alive — so they are recorded on their own (`recordDecode`, `recordWrite`).
import type { PutResult } from "../engine/api";
import type { Labels, MetricsBatch } from "../metrics/batch";
import type { RequestMetrics } from "../metrics/isolate";
import type { S3Op } from "./classify";
import { bytesOut, type AnsweredRequest } from "./request-log";

const KNOWN_METHODS = new Set(["GET", "HEAD", "PUT", "POST", "DELETE", "OPTIONS"]);

/** The method as a label: one of the methods S3 uses, else OTHER (a client cannot mint label values). */
export function methodLabel(method: string): string {
  const upper = method.toUpperCase();
  return KNOWN_METHODS.has(upper) ? upper : "OTHER";
}

/**
 * DeltaGlider's `operation` label: method + whether the request names a bucket and a key (its proxy derives it
 * from the path's segments, so e.g. ListParts counts as get_object, CompleteMultipartUpload as post_object).
 * We take bucket and key from the classified S3Op, so virtual-hosted-style requests count the same as path-style.
 */
export function operationLabel(method: string, op: S3Op | undefined): string {
  if (!op) return "unknown";
  const level = "key" in op && op.key !== undefined ? "object" : "bucket" in op && op.bucket !== undefined ? "bucket" : "root";
  const verb = methodLabel(method);
  if (level === "root") return verb === "GET" ? "list_buckets" : verb === "HEAD" ? "head_root" : "unknown";
  if (level === "bucket") {
    const names: Record<string, string> = { GET: "list_objects", PUT: "create_bucket", DELETE: "delete_bucket", HEAD: "head_bucket", POST: "post_bucket" };
    return names[verb] ?? "unknown";
  }
  const names: Record<string, string> = { GET: "get_object", PUT: "put_object", DELETE: "delete_object", HEAD: "head_object", POST: "post_object" };
  return names[verb] ?? "unknown";
}

/** Request counts, duration, body sizes, error code, encode time and cache use of one answered S3 request. */
export function recordS3Request(metrics: RequestMetrics, answered: AnsweredRequest): void {
  const method = methodLabel(answered.method);
  const operation = operationLabel(answered.method, answered.op);
  const { facts } = answered;
  metrics.record((batch) => {
    recordHttp(batch, { method, operation, status: answered.response.status, startedAt: answered.startedAt });
    if (answered.bytesIn !== undefined) batch.observe("requestSize", { method }, answered.bytesIn);
    const out = bytesOut(answered.method, answered.response);
    if (out !== undefined) batch.observe("responseSize", { method }, out);
    if (answered.code) batch.count("s3Errors", { code: answered.code });
    if (facts.codecMs !== undefined) batch.observe("encodeDuration", {}, facts.codecMs / 1000);
    if (facts.cache) {
      batch.count(facts.cache === "miss" ? "cacheMisses" : "cacheHits");
      batch.count("deltaReads", { source: facts.cache });
    }
    const op = answered.op?.kind;
    if ((op === "PutObject" || op === "CopyObject") && answered.response.status === 200 && facts.storageType) {
      countDecision(batch, {
        storageType: facts.storageType, size: facts.size ?? 0, storedSize: facts.storedBytes ?? 0, passthroughReason: facts.passthroughReason,
      });
    }
  });
}

/** The counts every HTTP request adds (S3 and operator endpoints alike). */
export function recordHttp(batch: MetricsBatch, request: { method: string; operation: string; status: number; startedAt: number }): void {
  const labels: Labels = { method: request.method, operation: request.operation };
  batch.count("httpRequests", { ...labels, status: String(request.status) });
  batch.observe("httpDuration", labels, (Date.now() - request.startedAt) / 1000);
}

/** A multipart completion's storage decision, from the engine's PutResult (known only after the answer began). */
export function recordWrite(metrics: RequestMetrics | undefined, result: PutResult): void {
  metrics?.record((batch) => countDecision(batch, result));
}

type Decision = Pick<PutResult, "storageType" | "size" | "storedSize" | "passthroughReason">;

function countDecision(batch: MetricsBatch, result: Decision): void {
  batch.count("decisions", { decision: result.storageType });
  if (result.storageType === "passthrough") batch.count("passthroughReasons", { reason: result.passthroughReason ?? "unknown" });
  if (result.storageType !== "delta" || result.size === 0) return;
  batch.count("bytesSaved", {}, Math.max(0, result.size - result.storedSize));
  batch.observe("compressionRatio", {}, result.storedSize / result.size);
}

/** A delta read's decode, once it has ended. */
export function recordDecode(metrics: RequestMetrics | undefined, ms: number): void {
  metrics?.record((batch) => batch.observe("decodeDuration", {}, ms / 1000));
}
