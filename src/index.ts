// Worker entry: build configuration, buckets and engines once per isolate from env, then hand each request on:
// `/_/…` to the operator endpoints, everything else to the S3 pipeline (src/s3/handler.ts).
import { ConfigError, configFrom, type Config } from "./config";
import { BucketRegistry, type BucketEntry } from "./buckets/registry";
import type { ObjectEngine } from "./engine/api";
import { S3Error } from "./s3/errors";
import { handleS3, type S3Services } from "./s3/handler";
import { addressOf } from "./s3/classify";
import { corsPreflight, parseAuthConfig, withCors, type AuthConfig } from "./s3/auth/index";
import { s3Authorizer } from "./s3/auth/authorizer";
import { errorResponse } from "./s3/xml";
import type { EngineConfig } from "./engine/config";
import type { DeltaCodec } from "./engine/context";
import { DeltaEngine } from "./engine/engine";
import { decode, encode } from "./codec/index";
import { xdelta3Module } from "./codec/module";
import type { Backend } from "./storage/backend";
import { cleanupAllBuckets } from "./multipart/scheduled";

/** The streaming xdelta3 codec bound to the Worker's compiled WASM module. */
const codec: DeltaCodec = {
  encode: (source, target, options) => encode(xdelta3Module, source, target, options),
  decode: (source, delta, options) => decode(xdelta3Module, source, delta, options),
};

function createEngine(backend: Backend, config: EngineConfig): ObjectEngine {
  return new DeltaEngine(backend, config, codec);
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
}

const services = new WeakMap<object, WorkerServices>();

/** Parsed once per env object, i.e. once per isolate: no request pays for configuration parsing. */
function servicesFor(env: Env): WorkerServices {
  let built = services.get(env);
  if (!built) {
    const config = configFrom(env);
    const auth = authConfigFrom(env);
    built = {
      config,
      auth,
      buckets: new BucketRegistry(config, env),
      engineFor: engineCache(config),
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


/** One engine per configured bucket, kept for the isolate's life; runtime buckets get one per request. */
function engineCache(config: Config): (bucket: BucketEntry) => ObjectEngine {
  const engines = new Map<string, ObjectEngine>();
  return (bucket) => {
    if (bucket.origin !== "configured") return createEngine(bucket.backend, config.engine);
    let engine = engines.get(bucket.name);
    if (!engine) {
      engine = createEngine(bucket.backend, config.engine);
      engines.set(bucket.name, engine);
    }
    return engine;
  };
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
      buckets: config.buckets.map((b) => b.name),
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
  async fetch(request: Request, env: Env): Promise<Response> {
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
    return withCors(await s3WithCors(request, built), request, built.auth);
  },

  /** Cron trigger (wrangler.toml [triggers]): removes stale multipart uploads (src/multipart/scheduled.ts). */
  async scheduled(_controller: ScheduledController, env: Env): Promise<void> {
    const reports = await cleanupAllBuckets(servicesFor(env).buckets, env);
    console.log("multipart cleanup:", JSON.stringify(reports));
  },
} satisfies ExportedHandler<Env>;
