// GET /_/metrics: the Prometheus text exposition (format 0.0.4) of every isolate's counts. This isolate's waiting
// counts are sent first, in the same Durable Object call that reads the sums back, so a scrape always includes
// the requests this isolate answered before it (docs/ARCHITECTURE.md "Metrics"). Gauges are added at the scrape.
import type { Config } from "../config";
import type { Totals } from "../metrics/aggregator";
import { CONTENT_TYPE, renderExposition, type PointSample } from "../metrics/exposition";
import { VERSION } from "./health";
import { AdminError, type AdminRequest } from "./router";
import { savingsGauges } from "./stats";

/**
 * Point-in-time gauges computed at each scrape. The seam for the running storage totals (objects, logical and
 * stored bytes of GET /_/stats `totals`): a source returns samples of the POINT_IN_TIME families of
 * src/metrics/catalog.ts (`deltaglider_objects`, `deltaglider_logical_bytes`, `deltaglider_stored_bytes`).
 */
export type GaugeSource = (admin: AdminRequest) => Promise<PointSample[]>;

export const GAUGE_SOURCES: GaugeSource[] = [savingsGauges];

export async function metricsEndpoint(admin: AdminRequest): Promise<Response> {
  const metrics = admin.services.isolateMetrics;
  if (!metrics) {
    throw new AdminError(503, "MetricsUnavailable",
      "Metrics need the DG_METRICS Durable Object binding (wrangler.toml [[durable_objects.bindings]] MetricsAggregator).");
  }
  let totals: Totals;
  try {
    totals = await metrics.totals();
  } catch (error) {
    console.error("metrics: the aggregating Durable Object did not answer:", error);
    throw new AdminError(503, "MetricsUnavailable", "The metrics Durable Object did not answer; try again.");
  }
  const points = [...fixedGauges(admin.services.config, totals)];
  for (const source of GAUGE_SOURCES) points.push(...await source(admin));
  return new Response(renderExposition(totals.samples, points), {
    headers: { "content-type": CONTENT_TYPE, "cache-control": "no-store" },
  });
}

function fixedGauges(config: Config, totals: Totals): PointSample[] {
  return [
    { name: "deltaglider_build_info", labels: { version: VERSION, backend_type: backendType(config) }, value: 1 },
    { name: "deltaglider_metrics_aggregated_since_seconds", labels: {}, value: Math.floor(totals.since / 1000) },
  ];
}

/** Where buckets live: r2, s3 (remote S3 servers only) or r2+s3. */
function backendType(config: Config): string {
  const onS3 = Object.keys(config.remoteBuckets).length > 0;
  const onR2 = config.runtimeBuckets !== null || config.buckets.some((bucket) => !Object.hasOwn(config.remoteBuckets, bucket.name));
  return onS3 && onR2 ? "r2+s3" : onS3 ? "s3" : "r2";
}

/** DeltaGlider's `operation` label for its own endpoints (health, stats, metrics); our other pages are "admin". */
export function adminOperationLabel(pathname: string): string {
  if (pathname === "/_/health") return "health";
  if (pathname === "/_/stats") return "stats";
  if (pathname === "/_/metrics") return "metrics";
  return "admin";
}
