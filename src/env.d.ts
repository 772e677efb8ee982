// Types of the Worker's bindings and main module for `cloudflare:workers` (`env`, `exports`) in code and tests.
// (`wrangler types` would generate the same; this file keeps typechecking working on a fresh clone.)
declare namespace Cloudflare {
  interface Env {
    /** R2 bucket behind S3 bucket `default` (wrangler.toml [[r2_buckets]] binding "BUCKET"). */
    BUCKET: R2Bucket;
    /** One BucketCoordinator Durable Object per S3 bucket (wrangler.toml [[durable_objects.bindings]]). */
    DG_COORDINATOR: DurableObjectNamespace<import("./bucket-coordinator").BucketCoordinator>;
    /** The one MetricsAggregator Durable Object that sums every isolate's counts (wrangler.toml). */
    DG_METRICS: DurableObjectNamespace<import("./metrics/aggregator").MetricsAggregator>;
  }
  interface GlobalProps {
    mainModule: typeof import("./index");
  }
}
