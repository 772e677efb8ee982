// Configuration (parsed once, bad values name the variable), the health endpoint and the auth seam.
import { describe, expect, it } from "vitest";
import { env, exports } from "cloudflare:workers";
import { ConfigError, parseByteSize, parseConfig } from "../../src/config";
import { errorOf, s3, unsigned } from "./s3-support";

function errorFor(vars: Record<string, unknown>): string {
  try {
    parseConfig({ BUCKET: env.BUCKET, ...vars });
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  return "no error";
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
  ])("a bad value %o is an error naming %s", (vars, variable) => {
    expect(errorFor(vars)).toContain(`configuration variable ${variable}`);
  });

  it("sizes accept plain bytes and binary units", () => {
    expect(parseByteSize("104857600")).toBe(104857600);
    expect(parseByteSize("100MiB")).toBe(104857600);
    expect(parseByteSize("1 GB")).toBe(1024 ** 3);
  });
});

describe("operator endpoint", () => {
  it("/_/health answers ok with the configured buckets", async () => {
    const response = await exports.default.fetch("http://127.0.0.1:8787/_/health");
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ status: "ok", buckets: ["default"], region: "us-east-1" });
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
