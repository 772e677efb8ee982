// Configuration (parsed once, bad values name the variable), the health endpoint and the auth seam.
import { describe, expect, it } from "vitest";
import { env, exports } from "cloudflare:workers";
import { ConfigError, parseByteSize, parseConfig } from "../../src/config";
import { errorOf, s3, unsigned } from "./s3-support";

function errorFor(vars: Record<string, unknown>): ConfigError | null {
  try {
    parseConfig({ BUCKET: env.BUCKET, ...vars });
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  return null;
}

describe("configuration", () => {
  it("defaults: bucket default on BUCKET, runtime buckets under .dg/buckets/, us-east-1", () => {
    const config = parseConfig({ BUCKET: env.BUCKET });
    expect(config.buckets).toEqual([{ name: "default", binding: "BUCKET" }]);
    expect(config.runtimeBuckets).toEqual({ binding: "BUCKET", root: ".dg/buckets/" });
    expect(config.region).toBe("us-east-1");
    expect(config.engine.maxDeltaRatio).toBe(0.75);
  });

  it("maps several buckets onto bindings and reads engine variables", () => {
    const config = parseConfig({
      BUCKET: env.BUCKET, OTHER: env.BUCKET, DG_BUCKETS: "default=BUCKET, releases=OTHER", DG_RUNTIME_BUCKETS: "off",
      DG_MAX_DELTA_RATIO: "0.25", DG_DELTA_EXTENSIONS: "zip,.TAR", DG_MAX_DELTA_OBJECT_SIZE: "200MiB", DG_SIDECARS: "false",
    });
    expect(config.engine.compressedDeltas).toBe(true);
    const strict = parseConfig({ BUCKET: env.BUCKET, DG_COMPRESSED_DELTAS: "off" }).engine;
    expect(strict.compressedDeltas).toBe(false);
    expect(strict.deltaExtensions).not.toContain("tgz");
    const compressed = parseConfig({ BUCKET: env.BUCKET, DG_COMPRESSED_DELTAS: "true" }).engine;
    expect(compressed.compressedDeltas).toBe(true);
    expect(compressed.deltaExtensions).toContain("tgz");
    expect(config.buckets.map((b) => b.name)).toEqual(["default", "releases"]);
    expect(config.runtimeBuckets).toBeNull();
    expect(config.engine).toMatchObject({ maxDeltaRatio: 0.25, deltaExtensions: ["zip", "tar"], maxDeltaObjectSize: 200 * 1024 * 1024, sidecars: false });
  });

  it.each([
    [{ DG_BUCKETS: "default" }, "DG_BUCKETS"],
    [{ DG_BUCKETS: "default=NOPE" }, "DG_BUCKETS"],
    [{ DG_BUCKETS: "Bad_Name=BUCKET" }, "DG_BUCKETS"],
    [{ DG_RUNTIME_BUCKETS: "BUCKET:" }, "DG_RUNTIME_BUCKETS"],
    [{ DG_RUNTIME_BUCKETS: "BUCKET:noslash" }, "DG_RUNTIME_BUCKETS"],
    [{ DG_REGION: "US East" }, "DG_REGION"],
    [{ DG_MAX_DELTA_RATIO: "2" }, "DG_MAX_DELTA_RATIO"],
    [{ DG_MAX_DELTA_RATIO: "half" }, "DG_MAX_DELTA_RATIO"],
    [{ DG_MAX_DELTA_OBJECT_SIZE: "lots" }, "DG_MAX_DELTA_OBJECT_SIZE"],
    [{ DG_SIDECARS: "maybe" }, "DG_SIDECARS"],
    [{ DG_COMPRESSED_DELTAS: "sometimes" }, "DG_COMPRESSED_DELTAS"],
    [{ DG_CACHE_BLOCK_SIZE: "lots" }, "DG_CACHE_BLOCK_SIZE"],
    [{ DG_CREDENTIALS: "[{" }, "DG_CREDENTIALS"],
    [{ DG_CORS_MAX_AGE: "soon" }, "DG_CORS_MAX_AGE"],
    [{ S3_BUCKET: "artifacts" }, "S3_BUCKET"],
    [{ S3_ENDPOINT: "http://127.0.0.1:8000", S3_BUCKET: "artifacts", S3_ACCESS_KEY_ID: "AK" }, "S3_SECRET_ACCESS_KEY"],
    [{ DG_MULTIPART_STALE_DAYS: "a week" }, "DG_MULTIPART_STALE_DAYS"],
    [{ DG_MULTIPART_STALE_DAYS: "0" }, "DG_MULTIPART_STALE_DAYS"],
  ])("a bad value %o is one ConfigError naming %s", (vars, variable) => {
    const error = errorFor(vars);
    expect(error?.variable).toBe(variable);
    expect(error?.message).toMatch(new RegExp(`^configuration variable ${variable.replace(/[[\].*]/g, "\\$&")}: `));
  });

  it("every section is parsed in the one pass: engine, cache, auth, remote buckets, the cron's multipart cleanup", () => {
    const config = parseConfig({
      BUCKET: env.BUCKET, DG_CACHE_BLOCK_SIZE: "8M", DG_DEV_CREDENTIALS: "true", DG_MULTIPART_STALE_DAYS: "0.5",
      S3_ENDPOINT: "http://127.0.0.1:8000", S3_BUCKET: "artifacts", S3_ACCESS_KEY_ID: "AK", S3_SECRET_ACCESS_KEY: "SK",
    });
    expect(config.cache.blockSize).toBe(8 * 1024 * 1024);
    expect(config.auth.keys.map((k) => k.accessKeyId)).toEqual(["deltaglider"]);
    expect(config.remoteBuckets.default).toMatchObject({ bucket: "artifacts" });
    expect(config.multipart.staleUploadAgeMs).toBe(12 * 3600 * 1000);
    expect(parseConfig({ BUCKET: env.BUCKET }).multipart.staleUploadAgeMs).toBe(7 * 24 * 3600 * 1000);
  });

  it("a bad cron setting is refused at start, on the first request, not when the cron fires", async () => {
    const { default: worker } = await import("../../src/index");
    const response = await worker.fetch(new Request("http://127.0.0.1:8787/default/any.txt"),
      { ...(env as object), DG_MULTIPART_STALE_DAYS: "soon" } as never);
    expect(response.status).toBe(500);
    expect((await errorOf(response)).Message).toContain("configuration variable DG_MULTIPART_STALE_DAYS");
  });

  it("sizes accept plain bytes and binary units", () => {
    expect(parseByteSize("104857600")).toBe(104857600);
    expect(parseByteSize("100MiB")).toBe(104857600);
    expect(parseByteSize("1 GB")).toBe(1024 ** 3);
  });
});

describe("operator endpoint", () => {
  it("/_/health answers ok and its version to anyone, naming no bucket", async () => {
    const response = await exports.default.fetch("http://127.0.0.1:8787/_/health");
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: "ok", version: expect.any(String) });
  });

  it("/_/health of a misconfigured Worker says error without echoing the configuration", async () => {
    const { default: worker } = await import("../../src/index");
    const response = await worker.fetch(new Request("http://127.0.0.1:8787/_/health"),
      { ...(env as object), DG_BUCKETS: "secret-bucket=NOPE" } as never);
    expect(response.status).toBe(500);
    const body = await response.text();
    expect(JSON.parse(body)).toEqual({ status: "error", version: expect.any(String) });
    expect(body).not.toContain("secret-bucket");
  });
});

describe("authentication seam", () => {
  it("an unsigned write is refused with AccessDenied and writes nothing", async () => {
    const response = await unsigned("PUT", "/default/auth/unsigned.txt", { body: "x" });
    expect(response.status).toBe(403);
    expect((await errorOf(response)).Code).toBe("AccessDenied");
    expect(await env.BUCKET.head("auth/unsigned.txt")).toBeNull();
  });

  it("an OPTIONS request without Origin answers 400 BadRequest as S3 does (no other OPTIONS operation exists)", async () => {
    const response = await unsigned("OPTIONS", "/default/auth/a.txt");
    expect(response.status).toBe(400);
    expect((await errorOf(response)).Code).toBe("BadRequest");
  });

  it("a signed request with the dev key succeeds", async () => {
    expect((await s3("PUT", "/default/auth/signed.txt", { body: "x" })).status).toBe(200);
  });
});

describe("virtual-hosted-style requests", () => {
  it("reach the bucket named in the host", async () => {
    const { DEV_CLIENT } = await import("./s3-support");
    const put = await DEV_CLIENT.sign("http://default.localhost:8787/vhost/file.txt", { method: "PUT", body: "vhost" });
    expect((await exports.default.fetch(put)).status).toBe(200);
    const get = await DEV_CLIENT.sign("http://default.localhost:8787/vhost/file.txt", { method: "GET" });
    expect(await (await exports.default.fetch(get)).text()).toBe("vhost");
    expect(await (await s3("GET", "/default/vhost/file.txt")).text()).toBe("vhost");
  });
});
