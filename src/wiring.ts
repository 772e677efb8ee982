// Composition root: the one place that builds the Worker's parts from `env` — configuration (src/config.ts) →
// buckets → edge caches → the xdelta3 codec → one DeltaEngine per bucket — for the Worker entry (src/index.ts),
// the tests and the benches. Nothing else binds the codec to an engine, so every engine gets the same complete
// codec (with busy(), which the engine's delta GET relies on under contention: docs/ARCHITECTURE.md "Connections").
import { BucketRegistry, type BucketEntry } from "./buckets/registry";
import { RebuiltObjectCache, ReferenceBlockCache, type CacheConfig } from "./cache/index";
import { xdelta3Module } from "./codec/module";
import { configFrom, type Config } from "./config";
import type { EngineConfig } from "./engine/config";
import type { DeltaCodec, EngineOptions, RebuiltCache, ReferenceCache } from "./engine/context";
import { DeltaEngine } from "./engine/engine";
import { wasmCodec } from "./engine/wasm-codec";
import { s3Authorizer } from "./s3/auth/authorizer";
import type { S3Services } from "./s3/handler";
import type { Backend } from "./storage/backend";
import { DurableCoordinator, DurableScrubRuns, type BucketCoordinator } from "./bucket-coordinator";
import { MemoryScrubRuns, type ScrubRuns } from "./engine/scrub-run";
import type { Coordinator } from "./coordination/api";
import { LocalCoordinator } from "./coordination/local";
import { BackendKeyspace } from "./engine/keyspace";
import { isolateCodecBudget } from "./codec/index";
import type { MetricsBatch } from "./metrics/batch";
import type { MetricsAggregator } from "./metrics/aggregator";
import { IsolateMetrics, durableMetricsStore } from "./metrics/isolate";

/** The streaming xdelta3 codec bound to the Worker's compiled WASM module: encode, decode and busy(). */
export const workerCodec: DeltaCodec = wasmCodec(xdelta3Module);

/**
 * An engine over one bucket's backend with the Worker's codec. `codec: null` builds one without a codec
 * (everything passthrough; tests of non-delta behaviour), another DeltaCodec lets a test observe the real one.
 */
export function createEngine(
  backend: Backend,
  config: EngineConfig | Partial<EngineConfig> = {},
  options: EngineOptions = {},
  codec: DeltaCodec | null = workerCodec,
): DeltaEngine {
  return new DeltaEngine(backend, config, codec ?? undefined, options);
}

export interface WorkerServices extends S3Services {
  /** The isolate's reference block cache (Cache API), null when DG_CACHE_ENABLED=false. */
  referenceCache: ReferenceBlockCache | null;
  /** Whole rebuilt delta objects (Cache API), null when DG_CACHE_REBUILT_MAX_SIZE is 0 or the cache is off. */
  rebuiltCache: RebuiltObjectCache | null;
  /** Each bucket's coordinator across isolates (docs/ARCHITECTURE.md "Guarantees"). */
  coordinators: (bucket: BucketEntry) => Coordinator;
  /** This isolate's counts for `/_/metrics`, summed across isolates by the DG_METRICS Durable Object; null without it. */
  isolateMetrics: IsolateMetrics | null;
  /** Each bucket's last scrub report (kept by its coordinator, outside the bucket). */
  scrubRuns: (bucket: BucketEntry) => ScrubRuns;
}

const services = new WeakMap<object, WorkerServices>();

/**
 * Everything a request needs, built once per env object, i.e. once per isolate: no request pays for parsing
 * configuration. Throws the ConfigError of a bad variable.
 */
export function servicesFor(env: Record<string, unknown>): WorkerServices {
  let built = services.get(env);
  if (!built) {
    const config = configFrom(env);
    const { referenceCache, rebuiltCache } = edgeCaches(config.cache);
    const buckets = new BucketRegistry(config, env);
    const coordinators = coordinatorsFrom(env, buckets, config.stats.enabled);
    const isolateMetrics = metricsFrom(env, config);
    built = {
      config,
      referenceCache,
      rebuiltCache,
      coordinators,
      isolateMetrics,
      metrics: isolateMetrics?.forRequest(),
      scrubRuns: scrubRunsFrom(env),
      buckets,
      engineFor: enginesFor(config, referenceCache && scopedCache(referenceCache), rebuiltCache && scopedRebuilt(rebuiltCache), coordinators),
      authorize: s3Authorizer(config.auth),
    };
    services.set(env, built);
  }
  return built;
}

/** The services as one request sees them: engines whose cache fills outlive the response via ctx.waitUntil. */
export function forRequest(built: WorkerServices, ctx: ExecutionContext | undefined): WorkerServices {
  if (!ctx) return built;
  const waitUntil = (promise: Promise<unknown>) => ctx.waitUntil(promise);
  const metrics = built.isolateMetrics?.forRequest(waitUntil);
  if (!built.referenceCache) return { ...built, metrics };
  const rebuilt = built.rebuiltCache && scopedRebuilt(built.rebuiltCache, waitUntil);
  return { ...built, metrics, engineFor: enginesFor(built.config, scopedCache(built.referenceCache, waitUntil), rebuilt, built.coordinators) };
}

/**
 * The isolate's metrics, sent to the one MetricsAggregator Durable Object (binding DG_METRICS). Without the
 * binding nothing is counted: counts of one isolate alone would mislead (docs/ARCHITECTURE.md "Metrics").
 */
function metricsFrom(env: Record<string, unknown>, config: Config): IsolateMetrics | null {
  const namespace = env.DG_METRICS as DurableObjectNamespace<MetricsAggregator> | undefined;
  if (!namespace) return null;
  return new IsolateMetrics(durableMetricsStore(namespace), config.metrics, collectCodecCounts);
}

/** The codec budget is the isolate's (module-wide): its counts go to whichever batch takes them first. */
function collectCodecCounts(batch: MetricsBatch): void {
  const counts = isolateCodecBudget.takeCounts();
  batch.count("codecJobs", {}, counts.jobs);
  batch.count("codecQueued", {}, counts.queued);
  batch.count("codecWait", {}, counts.waitedMs / 1000);
}

/**
 * Each bucket's engine coordinates its writes through that bucket's Durable Object (binding DG_COORDINATOR).
 * Without the binding (a configuration that dropped it) only the requests of one isolate are coordinated, in memory.
 */
function coordinatorsFrom(env: Record<string, unknown>, registry: BucketRegistry, stats: boolean): (bucket: BucketEntry) => Coordinator {
  const namespace = env.DG_COORDINATOR as DurableObjectNamespace<BucketCoordinator> | undefined;
  if (namespace) return (bucket) => DurableCoordinator.of(namespace, bucket.name);
  // One in-memory coordinator per bucket for the isolate's life, so all of its requests share the locks.
  const local = new Map<string, Coordinator>();
  return (bucket) => {
    let coordinator = local.get(bucket.name);
    if (!coordinator) {
      coordinator = new LocalCoordinator(new BackendKeyspace(bucket.backend), registry.lifecycleOf(bucket), undefined, stats);
      local.set(bucket.name, coordinator);
    }
    return coordinator;
  };
}

/** Scrub reports live with each bucket's Durable Object; without the binding, in the isolate. */
function scrubRunsFrom(env: Record<string, unknown>): (bucket: BucketEntry) => ScrubRuns {
  const namespace = env.DG_COORDINATOR as DurableObjectNamespace<BucketCoordinator> | undefined;
  if (namespace) return (bucket) => new DurableScrubRuns(namespace, bucket.name);
  const local = new Map<string, ScrubRuns>();
  return (bucket) => {
    let runs = local.get(bucket.name);
    if (!runs) local.set(bucket.name, (runs = new MemoryScrubRuns()));
    return runs;
  };
}

function edgeCaches(cache: CacheConfig): { referenceCache: ReferenceBlockCache | null; rebuiltCache: RebuiltObjectCache | null } {
  if (!cache.enabled) return { referenceCache: null, rebuiltCache: null };
  return {
    referenceCache: new ReferenceBlockCache({ blockSize: cache.blockSize, ttlSeconds: cache.ttlSeconds }),
    rebuiltCache: cache.rebuiltMaxSize > 0
      ? new RebuiltObjectCache({ maxObjectSize: cache.rebuiltMaxSize, ttlSeconds: cache.ttlSeconds })
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
    inflatedForm: (referenceSha256, version) => cache.inflatedForm(referenceSha256, version),
    rememberInflatedForm: (referenceSha256, version, facts) => cache.rememberInflatedForm(referenceSha256, version, facts, { waitUntil }),
  };
}

/**
 * Engines for one scope (a request, or the isolate when there is no request context). Every engine shares
 * the isolate's reference cache; buckets on a remote S3 server list without per-object metadata HEADs.
 */
function enginesFor(config: Config, referenceCache: ReferenceCache | null, rebuiltCache: RebuiltCache | null,
  coordinators: (bucket: BucketEntry) => Coordinator): (bucket: BucketEntry) => DeltaEngine {
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
  return bucket.origin === "configured" && Object.hasOwn(config.remoteBuckets, bucket.name);
}
