// Worker entry: the services are built once per isolate from env by the composition root (src/wiring.ts); each
// request is handed on: `/_/…` to the operator endpoints (src/admin/router.ts), everything else to the S3 pipeline (src/s3/handler.ts).
import { ConfigError, type Config } from "./config";
import { S3Error } from "./errors";
import { handleS3 } from "./s3/handler";
import { addressOf } from "./s3/classify";
import { corsPreflight, withCors } from "./s3/auth/index";
import { errorResponse } from "./s3/xml";
import { cleanupAllBuckets } from "./multipart/scheduled";
import { createEngine, forRequest, servicesFor, type WorkerServices } from "./wiring";
import { BucketCoordinator } from "./bucket-coordinator";
import { MetricsAggregator } from "./metrics/aggregator";
import { handleAdmin } from "./admin/router";
import { adminOperationLabel } from "./admin/metrics";
import { methodLabel, recordHttp } from "./s3/request-metrics";
import { health } from "./admin/health";
import { continueBackgroundScrubs } from "./admin/scrub";

/** The every-minute cron (wrangler.toml [triggers]) only continues background scrubs; any other one also runs the maintenance. */
const SCRUB_CRON = "* * * * *";

/** The Durable Object classes behind bindings DG_COORDINATOR and DG_METRICS (wrangler.toml); workerd needs them exported here. */
export { BucketCoordinator, MetricsAggregator };

export interface Env {
  /** The R2 bucket behind S3 bucket `default` (and, by default, behind buckets made by CreateBucket). */
  BUCKET: R2Bucket;
  [variable: string]: unknown;
}

function isOperatorPath(url: URL, config: Config | undefined): boolean {
  if (!url.pathname.startsWith("/_/")) return false;
  // `bucket.domain/_/x` is an object key in a virtual-hosted bucket, not an operator endpoint.
  return !config || addressOf(url, { virtualHostDomains: config.virtualHostDomains }).bucket === "_";
}

function configErrorResponse(request: Request, error: ConfigError): Response {
  console.error(error.message);
  const s3Error = new S3Error("InternalError", `The proxy is misconfigured: ${error.message}`);
  return errorResponse(s3Error, new URL(request.url).pathname, crypto.randomUUID(), request.method);
}

/** A staged PUT body lives only as long as its PUT; a day-old one belongs to an isolate that died. */
const STAGING_STALE_MS = 24 * 3600 * 1000;

/** Staged objects older than a day in every bucket; one failing bucket does not stop the others. */
async function sweepAllStaging(built: WorkerServices, now: number): Promise<Record<string, number | string>> {
  const removed: Record<string, number | string> = {};
  for (const bucket of await built.buckets.list()) {
    try {
      removed[bucket.name] = await createEngine(bucket.backend, built.config.engine).sweepStaging(STAGING_STALE_MS, now);
    } catch (error) {
      console.error(`staging sweep of bucket ${bucket.name} failed:`, error);
      removed[bucket.name] = `failed: ${(error as Error).message}`;
    }
  }
  return removed;
}

/** An operator endpoint, counted in the request metrics under DeltaGlider's operation names (health, stats, metrics). */
async function operator(request: Request, url: URL, services: WorkerServices, env: Env, ctx?: ExecutionContext): Promise<Response> {
  const startedAt = Date.now();
  const response = await handleAdmin(request, services, env, ctx);
  const operation = adminOperationLabel(url.pathname);
  services.metrics?.record((batch) => recordHttp(batch, { method: methodLabel(request.method), operation, status: response.status, startedAt }));
  return response;
}

/** CORS preflights are answered before authentication (browsers send them unsigned). */
async function s3WithCors(request: Request, built: WorkerServices): Promise<Response> {
  try {
    const preflight = corsPreflight(request, built.config.auth);
    if (preflight) return preflight;
  } catch (error) {
    if (!(error instanceof S3Error)) throw error;
    return errorResponse(error, new URL(request.url).pathname, crypto.randomUUID(), request.method);
  }
  return handleS3(request, built);
}

export default {
  async fetch(request: Request, env: Env, ctx?: ExecutionContext): Promise<Response> {
    const url = new URL(request.url);
    let built: WorkerServices;
    try {
      built = servicesFor(env);
    } catch (error) {
      if (url.pathname === "/_/health") return health(env);
      if (error instanceof ConfigError) return configErrorResponse(request, error);
      throw error;
    }
    if (isOperatorPath(url, built.config)) return operator(request, url, forRequest(built, ctx), env, ctx);
    return withCors(await s3WithCors(request, forRequest(built, ctx)), request, built.config.auth);
  },

  /**
   * Cron triggers (wrangler.toml [triggers]): every minute, one page of each running background scrub
   * (src/admin/scrub.ts); hourly, removes stale multipart uploads (src/multipart/scheduled.ts) and staged PUT
   * bodies / spilled delta parts (`.dg/tmp/`) left by isolates that died mid-PUT.
   */
  async scheduled(controller: ScheduledController, env: Env): Promise<void> {
    const built = servicesFor(env);
    const scrubs = await continueBackgroundScrubs(built);
    if (Object.keys(scrubs).length) console.log("background scrub:", JSON.stringify(scrubs));
    if (controller.cron === SCRUB_CRON) return;
    const reports = await cleanupAllBuckets(built.buckets, built.config.multipart.staleUploadAgeMs);
    console.log("multipart cleanup:", JSON.stringify(reports));
    console.log("staging sweep:", JSON.stringify(await sweepAllStaging(built, controller.scheduledTime)));
  },
} satisfies ExportedHandler<Env>;
