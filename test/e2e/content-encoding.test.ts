// End to end against `wrangler dev`: an object stored with `Content-Encoding: gzip` is served as the exact
// stored bytes. Workers compress a body to match its Content-Encoding header unless the Response says
// `encodeBody: "manual"`; an object GET must never encode the stored (already encoded) bytes a second time.
import { AwsClient } from "aws4fetch";
import { request as httpRequest } from "node:http";
import { gzipSync, gunzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEV_CREDENTIALS, REGION, startWranglerDev, type WranglerDev } from "./support/wrangler-dev";

let server: WranglerDev;
const client = new AwsClient({ ...DEV_CREDENTIALS, service: "s3", region: REGION });

beforeAll(async () => {
  server = await startWranglerDev({ port: 8845 });
}, 120_000);
afterAll(async () => server?.stop());

/** A GET through Node's http module, which (unlike fetch) hands back the body exactly as sent on the wire. */
async function rawGet(url: string, extraHeaders: Record<string, string>): Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }> {
  const signedRequest = await client.sign(url, { method: "GET" });
  const headers = { ...Object.fromEntries(signedRequest.headers), ...extraHeaders };
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: "GET", headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end();
  });
}

async function putGzipped(key: string, gzipped: Buffer, contentType: string): Promise<void> {
  const response = await client.fetch(`${server.endpoint}/default/${key}`, {
    method: "PUT",
    body: new Uint8Array(gzipped), // fetch takes no Buffer that may sit on a SharedArrayBuffer
    headers: { "content-encoding": "gzip", "content-type": contentType },
  });
  expect(response.status, await response.text()).toBe(200);
}

describe("objects stored with Content-Encoding: gzip", () => {
  const text = "console.log('hello');\n".repeat(2_000);
  const gzipped = gzipSync(Buffer.from(text));

  // Known gap, not covered here: a client that does not accept gzip (Accept-Encoding: identity, as Python's
  // http.client sends for aws-cli) gets the bytes decoded by the runtime, without Content-Encoding, even with
  // encodeBody "manual" — S3 would send the stored gzip bytes.
  for (const acceptEncoding of ["gzip, deflate, br", "gzip"]) {
    it(`a GET (Accept-Encoding: ${acceptEncoding}) returns exactly the stored gzip bytes, not gzipped again`, async () => {
      const key = `encoding/app-${acceptEncoding.length}.js`;
      await putGzipped(key, gzipped, "application/javascript");
      const got = await rawGet(`${server.endpoint}/default/${key}`, { "accept-encoding": acceptEncoding });
      expect(got.status).toBe(200);
      expect(got.headers["content-encoding"]).toBe("gzip");
      expect(got.body.length).toBe(gzipped.length);
      expect(got.body.equals(gzipped)).toBe(true);
      expect(gunzipSync(got.body).toString()).toBe(text);
    }, 60_000);
  }

  it("a ranged GET returns exactly the stored bytes of the range", async () => {
    const key = "encoding/ranged.js";
    await putGzipped(key, gzipped, "application/javascript");
    const got = await rawGet(`${server.endpoint}/default/${key}`, { "accept-encoding": "gzip", range: "bytes=10-99" });
    expect(got.status).toBe(206);
    expect(got.body.equals(gzipped.subarray(10, 100))).toBe(true);
  }, 60_000);
});
