// The Worker's configuration: every variable and secret of `env` parsed once (per isolate) into one typed Config.
// The buckets, region and host names are parsed here; each other section by a parser beside its layer, all
// called from parseConfig below: engine (DG_* engine vars, validated by src/engine/config.ts), cache
// (src/cache/config.ts), auth (src/s3/auth/config.ts), remote buckets (src/storage/s3-config.ts), the cron's
// multipart cleanup (src/multipart/cleanup.ts), the request log (src/s3/request-log.ts), operator access (src/admin/config.ts),
// the metrics' flush policy (src/metrics/config.ts) and the savings totals (src/coordination/savings.ts). A bad value anywhere is one error type, ConfigError (src/errors.ts),
// naming the variable. Every variable is documented in docs/CONFIGURATION.md.
import { parseAdminConfig, type AdminConfig } from "./admin/config";
import { parseStatsConfig, type StatsConfig } from "./coordination/savings";
import { isValidBucketName } from "./bucket-names";
import { parseCacheConfig, type CacheConfig, type CacheVars } from "./cache/config";
import { resolveEngineConfig, type EngineConfig } from "./engine/config";
import { ConfigError } from "./errors";
import { parseStaleUploadAge, STALE_DAYS_VARIABLE } from "./multipart/cleanup";
import { parseAuthConfig } from "./s3/auth/config";
import type { AuthConfig } from "./s3/auth/index";
import { parseMetricsConfig, type MetricsConfig } from "./metrics/config";
import { parseRequestLogConfig, type RequestLogConfig } from "./s3/request-log";
import { parseRemoteBackendConfig, type RemoteBackendConfig } from "./storage/s3-config";

export { ConfigError };

export interface ConfiguredBucket {
  /** The S3 bucket name clients use. */
  name: string;
  /** The R2 binding that holds it (1:1, no prefix inside: DeltaGlider's layout). */
  binding: string;
}

export interface RuntimeBucketsConfig {
  /** The R2 binding that holds buckets created by CreateBucket. */
  binding: string;
  /** Key prefix inside that binding under which runtime buckets live ("" when the binding is dedicated). */
  root: string;
}

export interface Config {
  buckets: ConfiguredBucket[];
  /** null: CreateBucket is refused (only configured buckets exist). */
  runtimeBuckets: RuntimeBucketsConfig | null;
  /** Region reported by GetBucketLocation / HeadBucket, and expected in signatures. */
  region: string;
  /** Host suffixes for virtual-hosted-style addressing (`<bucket>.<domain>`). */
  virtualHostDomains: string[];
  /** Delta engine settings (src/engine/config.ts), from the DG_* engine variables below. */
  engine: EngineConfig;
  /** Buckets served from a remote S3 server instead of R2 (S3_* vars, src/storage/s3-config.ts); they win over DG_BUCKETS. */
  remoteBuckets: RemoteBackendConfig;
  /** The edge cache (DG_CACHE_* vars, src/cache/config.ts). */
  cache: CacheConfig;
  /** Credentials, anonymous buckets, CORS (DG_CREDENTIALS, DG_DEV_CREDENTIALS, DG_ANONYMOUS_READ_BUCKETS, DG_CORS_*). */
  auth: AuthConfig;
  /** What the cron's maintenance removes (wrangler.toml [triggers]). */
  multipart: MultipartCleanupConfig;
  /** The per-request log line (DG_LOG_REQUESTS, src/s3/request-log.ts). */
  logs: RequestLogConfig;
  /** Operator endpoints under `/_/` (DG_ADMIN_TOKEN, src/admin/config.ts). */
  admin: AdminConfig;
  /** How often isolates send their counts to the metrics Durable Object (DG_METRICS_FLUSH_*, src/metrics/config.ts). */
  metrics: MetricsConfig;
  /** Savings totals kept by each bucket's coordinator (DG_STATS, src/coordination/savings.ts). */
  stats: StatsConfig;
}

export interface MultipartCleanupConfig {
  /** Open multipart uploads initiated longer ago than this are aborted (DG_MULTIPART_STALE_DAYS, default 7 days). */
  staleUploadAgeMs: number;
}

export const DEFAULTS = {
  DG_BUCKETS: "default=BUCKET",
  DG_RUNTIME_BUCKETS: "BUCKET:.dg/buckets/",
  DG_REGION: "us-east-1",
  DG_VIRTUAL_HOST_DOMAINS: "localhost",
} as const;

/** The S3-front variables this module reads (strings as wrangler passes `[vars]`). */
export type ConfigVars = Partial<Record<keyof typeof DEFAULTS, unknown>> & Record<string, unknown>;

const parsed = new WeakMap<object, Config>();

/** Parse once per env object (one per isolate), so a request never re-parses configuration. */
export function configFrom(env: ConfigVars): Config {
  let config = parsed.get(env);
  if (!config) {
    config = parseConfig(env);
    parsed.set(env, config);
  }
  return config;
}

export function parseConfig(env: ConfigVars): Config {
  const buckets = parseBuckets(env);
  const runtimeBuckets = parseRuntimeBuckets(env);
  if (runtimeBuckets && runtimeBuckets.root === "" && buckets.some((b) => b.binding === runtimeBuckets.binding)) {
    throw new ConfigError("DG_RUNTIME_BUCKETS", `binding "${runtimeBuckets.binding}" also holds a configured bucket, so runtime buckets need a key prefix (e.g. ${runtimeBuckets.binding}:.dg/buckets/)`);
  }
  const region = parseRegion(env);
  return {
    buckets,
    runtimeBuckets,
    region,
    virtualHostDomains: parseDomains(env),
    engine: parseEngine(env),
    remoteBuckets: parseRemoteBackendConfig(env),
    cache: parseCacheConfig(env as CacheVars),
    auth: parseAuthConfig(env, region),
    multipart: { staleUploadAgeMs: parseStaleUploadAge(env[STALE_DAYS_VARIABLE]) },
    logs: parseRequestLogConfig(env),
    admin: parseAdminConfig(env),
    metrics: parseMetricsConfig(env),
    stats: parseStatsConfig(env),
  };
}

function stringVar(env: ConfigVars, name: keyof typeof DEFAULTS): string {
  const value = env[name];
  if (value === undefined || value === null || value === "") return DEFAULTS[name];
  if (typeof value !== "string") throw new ConfigError(name, `must be a string, got ${typeof value}`);
  return value.trim();
}

function requireR2Binding(env: ConfigVars, variable: string, binding: string): void {
  const candidate = env[binding] as { head?: unknown; put?: unknown; list?: unknown } | undefined;
  if (!candidate || typeof candidate.head !== "function" || typeof candidate.list !== "function") {
    throw new ConfigError(variable, `names R2 binding "${binding}", but the Worker has no such R2 binding (add [[r2_buckets]] binding = "${binding}" to wrangler.toml)`);
  }
}

function parseBuckets(env: ConfigVars): ConfiguredBucket[] {
  const text = stringVar(env, "DG_BUCKETS");
  const buckets: ConfiguredBucket[] = [];
  for (const entry of text.split(",").map((s) => s.trim()).filter(Boolean)) {
    const match = /^([^=\s]+)\s*=\s*([A-Za-z_][A-Za-z0-9_]*)$/.exec(entry);
    if (!match) throw new ConfigError("DG_BUCKETS", `entry "${entry}" is not of the form <bucket-name>=<R2 binding>`);
    const [, name, binding] = match;
    if (!isValidBucketName(name)) throw new ConfigError("DG_BUCKETS", `"${name}" is not a valid S3 bucket name`);
    if (buckets.some((b) => b.name === name)) throw new ConfigError("DG_BUCKETS", `bucket "${name}" is listed twice`);
    if (buckets.some((b) => b.binding === binding)) {
      throw new ConfigError("DG_BUCKETS", `binding "${binding}" is mapped to two buckets; each bucket needs its own R2 binding`);
    }
    requireR2Binding(env, "DG_BUCKETS", binding);
    buckets.push({ name, binding });
  }
  if (buckets.length === 0) throw new ConfigError("DG_BUCKETS", "must name at least one bucket");
  return buckets;
}

function parseRuntimeBuckets(env: ConfigVars): RuntimeBucketsConfig | null {
  const text = stringVar(env, "DG_RUNTIME_BUCKETS");
  if (text.toLowerCase() === "off") return null;
  const match = /^([A-Za-z_][A-Za-z0-9_]*)(?::(.*))?$/.exec(text);
  if (!match) throw new ConfigError("DG_RUNTIME_BUCKETS", `"${text}" is not "off" or <R2 binding>[:<key prefix>]`);
  const [, binding, root = ""] = match;
  if (root !== "" && !root.endsWith("/")) throw new ConfigError("DG_RUNTIME_BUCKETS", `the key prefix "${root}" must end with "/"`);
  if (root.startsWith("/")) throw new ConfigError("DG_RUNTIME_BUCKETS", `the key prefix "${root}" must not start with "/"`);
  requireR2Binding(env, "DG_RUNTIME_BUCKETS", binding);
  return { binding, root };
}

function parseRegion(env: ConfigVars): string {
  const region = stringVar(env, "DG_REGION");
  if (!/^[a-z0-9-]{2,32}$/.test(region)) throw new ConfigError("DG_REGION", `"${region}" is not a region name like us-east-1`);
  return region;
}

function parseDomains(env: ConfigVars): string[] {
  const text = stringVar(env, "DG_VIRTUAL_HOST_DOMAINS");
  if (text.toLowerCase() === "off") return [];
  const domains = text.split(",").map((s) => s.trim().toLowerCase()).filter(Boolean);
  for (const domain of domains) {
    if (!/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/.test(domain)) {
      throw new ConfigError("DG_VIRTUAL_HOST_DOMAINS", `"${domain}" is not a host name`);
    }
  }
  return domains;
}

/** Engine variables: name → (field, parser). Unset variables keep the engine's defaults. */
const ENGINE_VARS = {
  DG_COMPRESSION: ["compression", parseBoolean],
  DG_COMPRESSED_DELTAS: ["compressedDeltas", parseBoolean],
  DG_DELTA_EXTENSIONS: ["deltaExtensions", (text: string) => text.split(",").map((s) => s.trim()).filter(Boolean)],
  DG_MAX_DELTA_RATIO: ["maxDeltaRatio", parseNumber],
  DG_MAX_DELTA_OBJECT_SIZE: ["maxDeltaObjectSize", parseByteSize],
  DG_BODY_BUFFER_LIMIT: ["bodyBufferLimit", parseByteSize],
  DG_DELTA_BUFFER_LIMIT: ["deltaBufferLimit", parseByteSize],
  DG_SIDECARS: ["sidecars", parseBoolean],
} as const satisfies Record<string, readonly [keyof EngineConfig, (text: string) => unknown]>;

function parseEngine(env: ConfigVars): EngineConfig {
  const partial: Record<string, unknown> = {};
  for (const [variable, [field, parse]] of Object.entries(ENGINE_VARS)) {
    const raw = env[variable];
    if (raw === undefined || raw === null || raw === "") continue;
    const text = String(raw).trim();
    try {
      partial[field] = parse(text);
    } catch (error) {
      throw new ConfigError(variable, `${JSON.stringify(text)}: ${(error as Error).message}`);
    }
    // Validate one field at a time, so the error names the variable that set it.
    try {
      resolveEngineConfig({ [field]: partial[field] } as Partial<EngineConfig>);
    } catch (error) {
      throw new ConfigError(variable, `${JSON.stringify(text)} is invalid (${(error as Error).message})`);
    }
  }
  return resolveEngineConfig(partial as Partial<EngineConfig>);
}

function parseBoolean(text: string): boolean {
  const value = text.toLowerCase();
  if (["true", "1", "yes", "on"].includes(value)) return true;
  if (["false", "0", "no", "off"].includes(value)) return false;
  throw new Error("expected true or false");
}

function parseNumber(text: string): number {
  const value = Number(text);
  if (!Number.isFinite(value)) throw new Error("expected a number");
  return value;
}

const SIZE_UNITS: Record<string, number> = { "": 1, b: 1, k: 1024, kb: 1024, kib: 1024, m: 1024 ** 2, mb: 1024 ** 2, mib: 1024 ** 2, g: 1024 ** 3, gb: 1024 ** 3, gib: 1024 ** 3 };

/** Bytes, optionally with a binary unit: "104857600", "100MiB", "100 MB" (MB = MiB here, as the seed uses). */
export function parseByteSize(text: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*([a-zA-Z]*)$/.exec(text.trim());
  const unit = match ? SIZE_UNITS[match[2].toLowerCase()] : undefined;
  if (!match || unit === undefined) throw new Error("expected a size in bytes, e.g. 104857600 or 100MiB");
  const value = Math.round(Number(match[1]) * unit);
  if (!Number.isSafeInteger(value)) throw new Error("size too large");
  return value;
}
