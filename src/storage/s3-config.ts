// Which S3 buckets of this proxy live on a remote S3-compatible server instead of R2, parsed from Worker
// vars and secrets: the `remoteBuckets` section of the one Config (called from src/config.ts); mistakes are
// ConfigErrors naming the variable or setting. Documented in docs/CONFIGURATION.md ("Remote S3 backends").
//
// The one-line case (same names as wrangler vars/secrets when deployed):
//   S3_ENDPOINT=http://127.0.0.1:8000 S3_BUCKET=artifacts S3_ACCESS_KEY_ID=… S3_SECRET_ACCESS_KEY=… npm start
// serves proxy bucket `default` (S3_PROXY_BUCKET) from remote bucket `artifacts`.
//
// Several remote buckets, each with its own endpoint and credentials, come from S3_BACKENDS (a JSON object,
// or a TOML table in wrangler.toml [vars]):
//   S3_BACKENDS = { b = { endpoint = "https://s3.eu-central-1.amazonaws.com", bucket = "team-b-artifacts",
//                         region = "eu-central-1", credentials = "S3_B" } }
// reads secrets S3_B_ACCESS_KEY_ID / S3_B_SECRET_ACCESS_KEY (/ S3_B_SESSION_TOKEN). Buckets not named here
// stay on R2, so mixed setups need nothing else.
import { isValidBucketName } from "../bucket-names";
import { ConfigError } from "../errors";
import { DEFAULT_RETRY_POLICY } from "./retry";
import { createS3Backend, type ConditionalWrites, type S3BackendConfig } from "./s3";

export { createS3Backend };
export type { S3BackendConfig };

/** Proxy bucket name → how to reach its remote bucket. Empty when everything is on R2. */
export type RemoteBackendConfig = Record<string, S3BackendConfig>;

type Env = Record<string, unknown>;

/** Per-bucket settings as written in S3_BACKENDS. */
interface BucketEntry {
  endpoint?: unknown;
  bucket?: unknown;
  region?: unknown;
  pathStyle?: unknown;
  credentials?: unknown;
  conditionalWrites?: unknown;
  retryAttempts?: unknown;
  timeoutMs?: unknown;
}

const ENTRY_FIELDS = new Set(["endpoint", "bucket", "region", "pathStyle", "credentials", "conditionalWrites",
  "retryAttempts", "timeoutMs"]);

export function parseRemoteBackendConfig(env: Env): RemoteBackendConfig {
  const result: RemoteBackendConfig = {};
  const simple = simpleCase(env);
  if (simple) result[simple.proxyBucket] = parseEntry(env, "S3_*", simple.entry);
  for (const [proxyBucket, entry] of Object.entries(backendsVar(env))) {
    if (!isValidBucketName(proxyBucket)) throw new ConfigError("S3_BACKENDS", `"${proxyBucket}" is not a valid S3 bucket name`);
    if (result[proxyBucket]) {
      throw new ConfigError("S3_BACKENDS", `bucket "${proxyBucket}" is also configured by S3_ENDPOINT/S3_PROXY_BUCKET`);
    }
    result[proxyBucket] = parseEntry(env, `S3_BACKENDS.${proxyBucket}`, entry);
  }
  return result;
}

function simpleCase(env: Env): { proxyBucket: string; entry: BucketEntry } | undefined {
  const endpoint = optionalString(env, "S3_ENDPOINT");
  if (!endpoint) {
    for (const name of ["S3_BUCKET", "S3_PROXY_BUCKET", "S3_FORCE_PATH_STYLE"]) {
      if (optionalString(env, name)) throw new ConfigError(name, "is set but S3_ENDPOINT is not");
    }
    return undefined;
  }
  const proxyBucket = optionalString(env, "S3_PROXY_BUCKET") ?? "default";
  if (!isValidBucketName(proxyBucket)) throw new ConfigError("S3_PROXY_BUCKET", `"${proxyBucket}" is not a valid S3 bucket name`);
  return {
    proxyBucket,
    entry: {
      endpoint,
      bucket: optionalString(env, "S3_BUCKET") ?? requiredError("S3_BUCKET", "is required with S3_ENDPOINT"),
      region: optionalString(env, "S3_REGION"),
      pathStyle: optionalString(env, "S3_FORCE_PATH_STYLE"),
      credentials: "S3",
      conditionalWrites: optionalString(env, "S3_CONDITIONAL_WRITES"),
      retryAttempts: optionalString(env, "S3_RETRY_ATTEMPTS"),
      timeoutMs: optionalString(env, "S3_TIMEOUT_MS"),
    },
  };
}

function backendsVar(env: Env): Record<string, BucketEntry> {
  let value = env.S3_BACKENDS;
  if (value === undefined || value === null || value === "") return {};
  if (typeof value === "string") {
    try {
      value = JSON.parse(value);
    } catch {
      throw new ConfigError("S3_BACKENDS", "is not valid JSON");
    }
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new ConfigError("S3_BACKENDS", 'must be an object: { "<proxy bucket>": { "endpoint": …, "bucket": … } }');
  }
  return value as Record<string, BucketEntry>;
}

function parseEntry(env: Env, where: string, entry: BucketEntry): S3BackendConfig {
  if (typeof entry !== "object" || entry === null) throw new ConfigError(where, "must be an object");
  for (const field of Object.keys(entry)) {
    if (!ENTRY_FIELDS.has(field)) throw new ConfigError(`${where}.${field}`, `unknown setting (known: ${[...ENTRY_FIELDS].join(", ")})`);
  }
  const endpoint = parseEndpoint(`${where}.endpoint`, entry.endpoint);
  const bucket = stringField(`${where}.bucket`, entry.bucket);
  if (!/^[a-z0-9][a-z0-9.\-_]{1,254}$/i.test(bucket)) throw new ConfigError(`${where}.bucket`, `"${bucket}" is not a bucket name`);
  const prefix = entry.credentials === undefined ? "S3" : stringField(`${where}.credentials`, entry.credentials);
  const pathStyle = parsePathStyle(`${where}.pathStyle`, entry.pathStyle, endpoint, bucket);
  return {
    endpoint: endpoint.toString().replace(/\/$/, ""),
    bucket,
    region: entry.region === undefined ? "us-east-1" : stringField(`${where}.region`, entry.region),
    pathStyle,
    accessKeyId: secret(env, `${prefix}_ACCESS_KEY_ID`),
    secretAccessKey: secret(env, `${prefix}_SECRET_ACCESS_KEY`),
    sessionToken: optionalString(env, `${prefix}_SESSION_TOKEN`),
    conditionalWrites: parseConditionalWrites(`${where}.conditionalWrites`, entry.conditionalWrites),
    retry: {
      ...DEFAULT_RETRY_POLICY,
      attempts: integerField(`${where}.retryAttempts`, entry.retryAttempts, DEFAULT_RETRY_POLICY.attempts, 1, 10),
      stallTimeoutMs: integerField(`${where}.timeoutMs`, entry.timeoutMs, DEFAULT_RETRY_POLICY.stallTimeoutMs, 100, 600_000),
    },
    listMetadataConcurrency: 5,
  };
}

function parseEndpoint(where: string, value: unknown): URL {
  const text = stringField(where, value);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ConfigError(where, `"${text}" is not a URL (e.g. https://s3.eu-central-1.amazonaws.com)`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new ConfigError(where, "must be http:// or https://");
  if (url.search || url.hash || url.username) throw new ConfigError(where, "must have no query, fragment or credentials");
  return url;
}

/**
 * Default: virtual-hosted style on AWS (path style is deprecated there), path style everywhere else — it is
 * what MinIO, Ceph and local servers answer without DNS set-up, and the only style for dotted bucket names
 * over HTTPS.
 */
function parsePathStyle(where: string, value: unknown, endpoint: URL, bucket: string): boolean {
  if (value === undefined || value === "") return !endpoint.hostname.endsWith(".amazonaws.com") || bucket.includes(".");
  if (value === true || value === "true" || value === "1") return true;
  if (value === false || value === "false" || value === "0") return false;
  throw new ConfigError(where, "must be true or false");
}

function parseConditionalWrites(where: string, value: unknown): ConditionalWrites {
  if (value === undefined || value === "") return "native";
  if (value === "native" || value === "emulated") return value;
  throw new ConfigError(where, 'must be "native" or "emulated"');
}

function integerField(where: string, value: unknown, fallback: number, min: number, max: number): number {
  if (value === undefined || value === "") return fallback;
  const number = Number(value);
  if (!Number.isInteger(number) || number < min || number > max) {
    throw new ConfigError(where, `must be an integer from ${min} to ${max}`);
  }
  return number;
}

function stringField(where: string, value: unknown): string {
  if (typeof value !== "string" || value === "") throw new ConfigError(where, "must be a non-empty string");
  return value;
}

function optionalString(env: Env, name: string): string | undefined {
  const value = env[name];
  if (value === undefined || value === null || value === "") return undefined;
  if (typeof value !== "string") throw new ConfigError(name, `must be a string, got ${typeof value}`);
  return value;
}

function secret(env: Env, name: string): string {
  return optionalString(env, name) ?? requiredError(name, "is required (set it with `wrangler secret put`, or in the environment for npm start)");
}

function requiredError(name: string, message: string): never {
  throw new ConfigError(name, message);
}
