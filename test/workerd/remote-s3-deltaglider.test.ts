// The Worker in front of an existing DeltaGlider bucket on a remote S3 server (radosgw): objects that the
// Rust proxy and the Python CLI wrote (xdelta3 CLI deltas with LZMA secondary compression, their dg-*
// metadata) read back byte-exact through the Worker, and what the Worker writes there is laid out and tagged
// the DeltaGlider way. Also: a mixed setup, one bucket on R2 and one on remote S3, keeps them apart.
// (That the xdelta3 CLI decodes the Worker's deltas straight from the backend is checked in Node:
// test/e2e/remote-s3-npm-start.test.ts.)
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import worker from "../../src/index";
import manifestJson from "../fixtures/deltaglider/manifest.json";
import { createRemoteBucket, raw, remoteS3, remoteS3SkipReason, target } from "./helpers/remote-s3";
import { DEV_CLIENT, ORIGIN } from "./s3-support";

const manifest = manifestJson as {
  originals: Record<string, { base64: string; sha256: string }>;
  deltaspaces: Record<string, Record<string, { base64: string; metadata: Record<string, string> }>>;
};
const decode = (b64: string) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));

async function hex(algorithm: string, data: ArrayBuffer | Uint8Array): Promise<string> {
  return [...new Uint8Array(await crypto.subtle.digest(algorithm, data))].map((b) => b.toString(16).padStart(2, "0")).join("");
}

describe.skipIf(!remoteS3)(`existing DeltaGlider bucket on remote S3${remoteS3 ? "" : ` (${remoteS3SkipReason})`}`, () => {
  const proxyBucket = "dg-migrated";
  let remoteBucket: string;
  let workerEnv: Record<string, unknown>;

  /** A signed request through the Worker configured with the remote bucket. */
  async function s3(method: string, path: string, init: { headers?: Record<string, string>; body?: Uint8Array | string } = {}) {
    const headers = { ...init.headers };
    // Called directly (not through the runtime's HTTP layer), so the request states its length itself.
    if (init.body !== undefined) {
      headers["content-length"] = String(typeof init.body === "string" ? new TextEncoder().encode(init.body).length : init.body.length);
    }
    const request = await DEV_CLIENT.sign(`${ORIGIN}${path}`, { method, headers, body: init.body ?? null });
    return worker.fetch(request, workerEnv as never);
  }

  /** Writes a deltaspace into the remote bucket exactly as DeltaGlider left it (straight to S3, not via us). */
  async function installDeltaspace(prefix: string, deltaspace: string) {
    for (const [name, object] of Object.entries(manifest.deltaspaces[deltaspace])) {
      const headers: Record<string, string> = { "content-type": "application/octet-stream" };
      for (const [k, v] of Object.entries(object.metadata)) headers[`x-amz-meta-${k}`] = v;
      const response = await raw("PUT", `/${remoteBucket}/${prefix}/${name}`, { headers, body: decode(object.base64) });
      expect(response.status).toBe(200);
    }
  }

  beforeAll(async () => {
    remoteBucket = await createRemoteBucket("dg-existing");
    const { endpoint, region, accessKeyId, secretAccessKey } = target();
    workerEnv = {
      ...(env as unknown as Record<string, unknown>),
      S3_BACKENDS: { [proxyBucket]: { endpoint, bucket: remoteBucket, region, credentials: "DG_TEST_REMOTE" } },
      DG_TEST_REMOTE_ACCESS_KEY_ID: accessKeyId,
      DG_TEST_REMOTE_SECRET_ACCESS_KEY: secretAccessKey,
    };
    await installDeltaspace("releases", "proxy");
    await installDeltaspace("python-releases", "python");
  });

  it("objects the Rust proxy wrote (xdelta3 CLI deltas) read back byte-exact with their ETag, type and metadata", async () => {
    for (const name of ["v1.zip", "v2.zip"]) {
      const original = decode(manifest.originals[name].base64);
      const response = await s3("GET", `/${proxyBucket}/releases/${name}`);
      expect(response.status).toBe(200);
      const body = await response.arrayBuffer();
      expect(await hex("SHA-256", body)).toBe(manifest.originals[name].sha256);
      expect(response.headers.get("etag")).toBe(`"${await hex("MD5", original)}"`);
      expect(response.headers.get("content-length")).toBe(String(original.length));
      expect(response.headers.get("content-type")).toBe("application/zip");
      expect(response.headers.get("x-amz-meta-build")).toMatch(/^b\d$/);
    }
  });

  it("a Python-CLI deltaspace (dg-ref-key, no dg-md5) reads back byte-exact", async () => {
    expect(manifest.deltaspaces.python["v3.zip.delta"].metadata["dg-ref-key"]).toBeDefined();
    expect(manifest.deltaspaces.python["v3.zip.delta"].metadata["dg-md5"]).toBeUndefined();
    for (const name of ["v1.zip", "v3.zip"]) {
      const response = await s3("GET", `/${proxyBucket}/python-releases/${name}`);
      expect(response.status).toBe(200);
      expect(await hex("SHA-256", await response.arrayBuffer())).toBe(manifest.originals[name].sha256);
    }
  });

  it("ranged reads of a CLI-made delta return the right slice", async () => {
    const v2 = decode(manifest.originals["v2.zip"].base64);
    const response = await s3("GET", `/${proxyBucket}/releases/v2.zip`, { headers: { range: "bytes=20000-20999" } });
    expect(response.status).toBe(206);
    expect(new Uint8Array(await response.arrayBuffer())).toEqual(v2.slice(20000, 21000));
  });

  it("listing shows the user's names and hides reference.bin and the .delta suffix", async () => {
    const response = await s3("GET", `/${proxyBucket}?list-type=2&prefix=releases/`);
    const text = await response.text();
    expect(response.status).toBe(200);
    expect([...text.matchAll(/<Key>([^<]+)<\/Key>/g)].map((m) => m[1])).toEqual(["releases/v1.zip", "releases/v2.zip"]);
  });

  it("a new version written through the Worker is stored as a .delta against the existing reference, with the superset metadata", async () => {
    const v3 = decode(manifest.originals["v3.zip"].base64);
    const refBefore = await raw("HEAD", `/${remoteBucket}/releases/reference.bin`);
    const put = await s3("PUT", `/${proxyBucket}/releases/v3.zip`, { body: v3, headers: { "content-type": "application/zip" } });
    expect(put.status).toBe(200);
    const refAfter = await raw("HEAD", `/${remoteBucket}/releases/reference.bin`);
    expect(refAfter.headers.get("etag")).toBe(refBefore.headers.get("etag"));

    const stored = await raw("HEAD", `/${remoteBucket}/releases/v3.zip.delta`);
    expect(stored.status).toBe(200);
    expect(Number(stored.headers.get("content-length"))).toBeLessThan(v3.length / 4);
    const meta = (k: string) => stored.headers.get(`x-amz-meta-${k}`);
    expect(meta("dg-note")).toBe("delta");
    expect(meta("dg-original-name")).toBe("v3.zip");
    expect(meta("dg-ref-path")).toBe("reference.bin");
    expect(meta("dg-ref-key")).toBe("releases/reference.bin");
    expect(meta("dg-file-sha256")).toBe(manifest.originals["v3.zip"].sha256);
    expect(meta("dg-file-size")).toBe(String(v3.length));
    expect(meta("dg-md5")).toBe(await hex("MD5", v3));
    expect(meta("dg-ref-sha256")).toBe(manifest.deltaspaces.proxy["reference.bin"].metadata["dg-file-sha256"]);
    expect(meta("content-type")).toBe("application/zip");
    expect(meta("dg-tool")).toBeTruthy();
    expect(meta("dg-created-at")).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);

    const back = await s3("GET", `/${proxyBucket}/releases/v3.zip`);
    expect(await hex("SHA-256", await back.arrayBuffer())).toBe(manifest.originals["v3.zip"].sha256);
  });

  it("a mixed setup keeps buckets apart: `default` stays on R2 while this bucket lives on remote S3", async () => {
    const key = `mixed-${Date.now()}.txt`;
    expect((await s3("PUT", `/${proxyBucket}/${key}`, { body: "remote" })).status).toBe(200);
    expect((await s3("PUT", `/default/${key}`, { body: "local" })).status).toBe(200);
    expect((await raw("GET", `/${remoteBucket}/${key}`)).status).toBe(200);
    const r2 = (env as unknown as { BUCKET: R2Bucket }).BUCKET;
    expect(await (await r2.get(key))!.text()).toBe("local");
    expect(await (await s3("GET", `/${proxyBucket}/${key}`)).text()).toBe("remote");
  });
});
