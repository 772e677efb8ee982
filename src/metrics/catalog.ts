// Every metric `/_/metrics` can show: name, type, help text, label names and histogram buckets. Where DeltaGlider's
// own proxy has the metric, the name, labels and buckets are its (facts from its metrics reference), so dashboards
// and alerts written for it work unchanged; the others are ours and say so in their help text. A metric not in
// this table cannot be recorded (the accumulator refuses it), so the exposition always knows a sample's family.

export type MetricType = "counter" | "histogram" | "gauge";

export interface MetricFamily {
  name: string;
  type: MetricType;
  help: string;
  /** Label names, in the order they are rendered. Every value of every label is bounded (see CONFIGURATION.md). */
  labels: readonly string[];
  /** Histogram upper bounds, ascending (the +Inf bucket is implicit). */
  buckets?: readonly number[];
}

/** Prometheus client libraries' default buckets (DeltaGlider's request-duration histogram uses them). */
const DEFAULT_DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** DeltaGlider's body-size buckets: 1 KiB × 10^n, n = 0..5. */
const BODY_SIZE_BUCKETS = [1024, 10240, 102400, 1048576, 10485760, 104857600];
/** DeltaGlider's codec-duration buckets (seconds). */
const CODEC_DURATION_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/** DeltaGlider's compression-ratio buckets (delta size / original size). */
const RATIO_BUCKETS = [0.01, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1];

function family(name: string, type: MetricType, help: string, labels: readonly string[] = [], buckets?: readonly number[]): MetricFamily {
  return { name, type, help, labels, buckets };
}

/** Summed across isolates by the aggregating Durable Object (src/metrics/aggregator.ts). */
export const AGGREGATED = {
  httpRequests: family("deltaglider_http_requests_total", "counter",
    "Total HTTP requests by method, status, and operation", ["method", "status", "operation"]),
  httpDuration: family("deltaglider_http_request_duration_seconds", "histogram",
    "HTTP request duration in seconds (until the response headers; a streamed body goes on after that)",
    ["method", "operation"], DEFAULT_DURATION_BUCKETS),
  requestSize: family("deltaglider_http_request_size_bytes", "histogram",
    "HTTP request body size in bytes (the verified, decoded body)", ["method"], BODY_SIZE_BUCKETS),
  responseSize: family("deltaglider_http_response_size_bytes", "histogram",
    "HTTP response body size in bytes (its Content-Length)", ["method"], BODY_SIZE_BUCKETS),
  s3Errors: family("deltaglider_s3_errors_total", "counter",
    "S3 error answers by S3 error code (ours, not DeltaGlider's)", ["code"]),
  compressionRatio: family("deltaglider_delta_compression_ratio", "histogram",
    "Delta compression ratio distribution (delta size / original size of writes stored as delta)", [], RATIO_BUCKETS),
  bytesSaved: family("deltaglider_delta_bytes_saved_total", "counter",
    "Total bytes saved by delta compression (original size - delta size, per write stored as delta)"),
  encodeDuration: family("deltaglider_delta_encode_duration_seconds", "histogram",
    "Delta encode duration in seconds (a write's encode pass, including its reference reads)", [], CODEC_DURATION_BUCKETS),
  decodeDuration: family("deltaglider_delta_decode_duration_seconds", "histogram",
    "Delta decode duration in seconds (a read's decode, from its start to its last byte)", [], CODEC_DURATION_BUCKETS),
  decisions: family("deltaglider_delta_decisions_total", "counter",
    "Delta storage decisions by type", ["decision"]),
  passthroughReasons: family("deltaglider_delta_passthrough_reasons_total", "counter",
    "Why writes were stored as-is (passthrough), by reason (ours, not DeltaGlider's)", ["reason"]),
  cacheHits: family("deltaglider_cache_hits_total", "counter",
    "Total reference cache hits (delta reads served from the rebuilt-object or reference block cache)"),
  cacheMisses: family("deltaglider_cache_misses_total", "counter",
    "Total reference cache misses (delta reads that read the reference's metadata from storage)"),
  deltaReads: family("deltaglider_delta_reads_total", "counter",
    "Delta reads by where their bytes came from: rebuilt (cached whole object), reference (cached reference), miss (ours)",
    ["source"]),
  codecJobs: family("deltaglider_codec_jobs_total", "counter",
    "Codec jobs (encodes and decodes) started (ours)"),
  codecQueued: family("deltaglider_codec_queued_jobs_total", "counter",
    "Codec jobs that had to wait for their isolate's codec budget (ours)"),
  codecWait: family("deltaglider_codec_queue_wait_seconds_total", "counter",
    "Seconds codec jobs waited for their isolate's codec budget (ours)"),
  flushes: family("deltaglider_metrics_flushes_total", "counter",
    "Batches of counts isolates sent to the aggregating Durable Object (ours: the cost of these metrics)"),
} as const satisfies Record<string, MetricFamily>;

export type AggregatedName = keyof typeof AGGREGATED;

/** Rendered fresh at each scrape, never summed (a value that is true now, not a count). */
export const POINT_IN_TIME = {
  buildInfo: family("deltaglider_build_info", "gauge", "Build information (always 1)", ["version", "backend_type"]),
  aggregatedSince: family("deltaglider_metrics_aggregated_since_seconds", "gauge",
    "Unix time the aggregated counts started from (the aggregating Durable Object's first batch; ours)"),
  objects: family("deltaglider_objects", "gauge", "Objects stored, all buckets (from the running totals; ours)"),
  logicalBytes: family("deltaglider_logical_bytes", "gauge", "Bytes clients stored (original sizes), all buckets (ours)"),
  storedBytes: family("deltaglider_stored_bytes", "gauge", "Bytes occupied in storage, references included, all buckets (ours)"),
} as const satisfies Record<string, MetricFamily>;

export type PointInTimeName = keyof typeof POINT_IN_TIME;

const BY_NAME = new Map<string, MetricFamily>(
  [...Object.values(AGGREGATED), ...Object.values(POINT_IN_TIME)].map((f) => [f.name, f]),
);

/** The family with this metric name, or undefined (e.g. a name a newer version stored and this one dropped). */
export function familyNamed(name: string): MetricFamily | undefined {
  return BY_NAME.get(name);
}

/** Families in the order the exposition lists them. */
export const ALL_FAMILIES: readonly MetricFamily[] = [...Object.values(AGGREGATED), ...Object.values(POINT_IN_TIME)];
