// Worker entry: build configuration, buckets and engines once per isolate from env, then hand each request on:
// `/_/…` to the operator endpoints, everything else to the S3 pipeline (src/s3/handler.ts).
import { ConfigError, configFrom, type Config } from "./config";
import { BucketRegistry, type BucketEntry } from "./buckets/registry";
import type { ObjectEngine } from "./engine/api";
import { S3Error } from "./errors";
import { handleS3, type S3Services } from "./s3/handler";
import { addressOf } from "./s3/classify";
import { corsPreflight, parseAuthConfig, withCors, type AuthConfig } from "./s3/auth/index";
import { s3Authorizer } from "./s3/auth/authorizer";
import { errorResponse } from "./s3/xml";
import type { EngineConfig } from "./engine/config";
import type { DeltaCodec, EngineOptions, RebuiltCache, ReferenceCache } from "./engine/context";
import { DeltaEngine } from "./engine/engine";
import { RebuiltObjectCache, ReferenceBlockCache, parseCacheConfig } from "./cache/index";
import { decode, encode } from "./codec/index";
import { xdelta3Module } from "./codec/module";
import type { Backend } from "./storage/backend";
import { cleanupAllBuckets } from "./multipart/scheduled";
import type { Coordinator } from "./coordination/api";
import { BucketCoordinator, DurableCoordinator } from "./bucket-coordinator";
import { LocalCoordinator } from "./coordination/local";
import { BackendKeyspace } from "./engine/keyspace";

// ---- Coordination across isolates (docs/ARCHITECTURE.md "Guarantees"): one Durable Object per bucket. ----
/** The Durable Object class behind binding DG_COORDINATOR (wrangler.toml); workerd needs it exported here. */
export { BucketCoordinator };

/**
 * Each bucket's engine coordinates through that bucket's Durable Object. Without the binding (a configuration
 * that dropped it) only requests of one engine instance are coordinated, in memory.
 */
function coordinatorsFrom(env: Env, registry: BucketRegistry): (bucket: BucketEntry) => Coordinator {
  const namespace = env.DG_COORDINATOR as DurableObjectNamespace<BucketCoordinator> | undefined;
  return (bucket) => namespace
    ? DurableCoordinator.of(namespace, bucket.name)
    : new LocalCoordinator(new BackendKeyspace(bucket.backend), registry.lifecycleOf(bucket));
}
// ---- end coordination ----

/** The streaming xdelta3 codec bound to the Worker's compiled WASM module. */
const codec: DeltaCodec = {
  encode: (source, target, options) => encode(xdelta3Module, source, target, options),
  decode: (source, delta, options) => decode(xdelta3Module, source, delta, options),
};

function createEngine(backend: Backend, config: EngineConfig, options: EngineOptions = {}): DeltaEngine {
  return new DeltaEngine(backend, config, codec, options);
}

export interface Env {
  /** The R2 bucket behind S3 bucket `default` (and, by default, behind buckets made by CreateBucket). */
  BUCKET: R2Bucket;
  [variable: string]: unknown;
}

// Not exported: workerd treats every named export of the main module as an entrypoint, and refuses a string.
const VERSION = "0.1.0";

interface WorkerServices extends S3Services {
  auth: AuthConfig;
  /** The isolate's reference block cache (Cache API), null when DG_CACHE_ENABLED=false. */
  referenceCache: ReferenceBlockCache | null;
  /** Whole rebuilt delta objects (Cache API), null when DG_CACHE_REBUILT_MAX_SIZE is 0 or the cache is off. */
  rebuiltCache: RebuiltObjectCache | null;
  coordinators: (bucket: BucketEntry) => Coordinator;
}

const services = new WeakMap<object, WorkerServices>();

/** Parsed once per env object, i.e. once per isolate: no request pays for configuration parsing. */
function servicesFor(env: Env): WorkerServices {
  let built = services.get(env);
  if (!built) {
    const config = configFrom(env);
    const auth = authConfigFrom(env);
    const { referenceCache, rebuiltCache } = edgeCachesFrom(env);
    const buckets = new BucketRegistry(config, env);
    const coordinators = coordinatorsFrom(env, buckets);
    built = {
      config,
      auth,
      referenceCache,
      rebuiltCache,
      coordinators,
      buckets,
      engineFor: enginesFor(config, referenceCache && scopedCache(referenceCache), rebuiltCache && scopedRebuilt(rebuiltCache), coordinators),
      authorize: s3Authorizer(auth),
    };
    services.set(env, built);
  }
  return built;
}

function authConfigFrom(env: Env): AuthConfig {
  try {
    return parseAuthConfig(env);
  } catch (error) {
    // The auth layer's messages start with the variable's name and never contain a secret.
    const message = (error as Error).message;
    throw new ConfigError(/^(DG_[A-Z_]+)/.exec(message)?.[1] ?? "DG_CREDENTIALS", message);
  }
}

function edgeCachesFrom(env: Env): { referenceCache: ReferenceBlockCache | null; rebuiltCache: RebuiltObjectCache | null } {
  let cacheConfig;
  try {
    cacheConfig = parseCacheConfig(env as Record<string, string | undefined>);
  } catch (error) {
    const message = (error as Error).message;
    throw new ConfigError(/^(DG_[A-Z_]+)/.exec(message)?.[1] ?? "DG_CACHE", message);
  }
  if (!cacheConfig.enabled) return { referenceCache: null, rebuiltCache: null };
  return {
    referenceCache: new ReferenceBlockCache({ blockSize: cacheConfig.blockSize, ttlSeconds: cacheConfig.ttlSeconds }),
    rebuiltCache: cacheConfig.rebuiltMaxSize > 0
      ? new RebuiltObjectCache({ maxObjectSize: cacheConfig.rebuiltMaxSize, ttlSeconds: cacheConfig.ttlSeconds })
      : null,
  };
}

/** The isolate's rebuilt-object cache as one request uses it: the cache write outlives the response via waitUntil. */
function scopedRebuilt(cache: RebuiltObjectCache, waitUntil?: (promise: Promise<unknown>) => void): RebuiltCache {
  return {
    accepts: (object) => cache.accepts(object),
    match: (object) => cache.match(object),
    tap: (object, stream) => cache.tap(object, stream, { waitUntil }),
    evict: (object) => cache.evict(object),
  };
}

/**
 * The isolate's block cache as one request uses it: misses are stored in the background through that
 * request's waitUntil (the response does not wait for the cache write), else awaited.
 */
function scopedCache(cache: ReferenceBlockCache, waitUntil?: (promise: Promise<unknown>) => void): ReferenceCache {
  return {
    reader: (ref, origin) => cache.reader(ref, origin, { waitUntil }),
    source: (ref, origin, pattern) => cache.source(ref, origin, { ...pattern, waitUntil }),
    referenceSize: (sha256) => cache.referenceSize(sha256),
    rememberReferenceSize: (sha256, size) => cache.rememberReferenceSize(sha256, size, { waitUntil }),
    evictReference: (ref) => cache.evictReference(ref),
  };
}

/**
 * Engines for one scope (a request, or the isolate when there is no request context). Every engine shares
 * the isolate's reference cache; buckets on a remote S3 server list without per-object metadata HEADs.
 */
function enginesFor(
  config: Config, referenceCache: ReferenceCache | null, rebuiltCache: RebuiltCache | null,
  coordinators: (bucket: BucketEntry) => Coordinator,
): (bucket: BucketEntry) => DeltaEngine {
  const engines = new Map<string, DeltaEngine>();
  const build = (bucket: BucketEntry) => createEngine(bucket.backend, config.engine, {
    referenceCache: referenceCache ?? undefined,
    rebuiltCache: rebuiltCache ?? undefined,
    listMetadata: isRemote(config, bucket) ? "deltas" : "all",
    coordinator: coordinators(bucket),
  });
  return (bucket) => {
    // Runtime buckets come and go: they get a fresh (cheap) engine instead of an entry kept for the scope's life.
    if (bucket.origin !== "configured") return build(bucket);
    let engine = engines.get(bucket.name);
    if (!engine) {
      engine = build(bucket);
      engines.set(bucket.name, engine);
    }
    return engine;
  };
}

/** Buckets on a remote S3 server (S3_ENDPOINT / S3_BACKENDS), where listed metadata costs one HEAD per object. */
function isRemote(config: Config, bucket: BucketEntry): boolean {
  return bucket.origin === "configured" && Object.hasOwn(config.remoteBuckets ?? {}, bucket.name);
}

/** The services as one request sees them: engines whose cache fills outlive the response via ctx.waitUntil. */
function forRequest(built: WorkerServices, ctx: ExecutionContext | undefined): WorkerServices {
  if (!ctx || !built.referenceCache) return built;
  const waitUntil = (promise: Promise<unknown>) => ctx.waitUntil(promise);
  const rebuilt = built.rebuiltCache && scopedRebuilt(built.rebuiltCache, waitUntil);
  return { ...built, engineFor: enginesFor(built.config, scopedCache(built.referenceCache, waitUntil), rebuilt, built.coordinators) };
}

function isOperatorPath(url: URL, config: Config | undefined): boolean {
  if (!url.pathname.startsWith("/_/")) return false;
  // `bucket.domain/_/x` is an object key in a virtual-hosted bucket, not an operator endpoint.
  return !config || addressOf(url, { virtualHostDomains: config.virtualHostDomains }).bucket === "_";
}

function health(env: Env): Response {
  try {
    const config = configFrom(env);
    return Response.json({
      status: "ok",
      version: VERSION,
      region: config.region,
      buckets: [...new Set([...config.buckets.map((b) => b.name), ...Object.keys(config.remoteBuckets ?? {})])].sort(),
      remoteBuckets: Object.keys(config.remoteBuckets ?? {}).sort(),
      runtimeBuckets: config.runtimeBuckets !== null,
    });
  } catch (error) {
    return Response.json({ status: "error", error: (error as Error).message }, { status: 500 });
  }
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

/** CORS preflights are answered before authentication (browsers send them unsigned). */
async function s3WithCors(request: Request, built: WorkerServices): Promise<Response> {
  try {
    const preflight = corsPreflight(request, built.auth);
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
    if (isOperatorPath(url, built.config)) {
      if (url.pathname === "/_/health") return health(env);
      return Response.json({ error: `no operator endpoint ${url.pathname}` }, { status: 404 });
    }
    return withCors(await s3WithCors(request, forRequest(built, ctx)), request, built.auth);
  },

  /**
   * Cron trigger (wrangler.toml [triggers]): removes stale multipart uploads (src/multipart/scheduled.ts) and
   * staged PUT bodies / spilled delta parts (`.dg/tmp/`) left by isolates that died mid-PUT.
   */
  async scheduled(controller: ScheduledController, env: Env): Promise<void> {
    const built = servicesFor(env);
    const reports = await cleanupAllBuckets(built.buckets, env);
    console.log("multipart cleanup:", JSON.stringify(reports));
    console.log("staging sweep:", JSON.stringify(await sweepAllStaging(built, controller.scheduledTime)));
  },
} satisfies ExportedHandler<Env>;
