// Keys with `.`/`..` segments against `wrangler dev`, sent raw (node:http does not normalise paths; fetch would).
// What the Worker sees: workerd (and Cloudflare's edge) resolve dot segments in `request.url` before the Worker
// runs, even percent-encoded ones, so such a key cannot be addressed. A client signs the path it sends, so the
// resolved path fails the signature check: the request is refused and never runs against the resolved key (or,
// for `pub/uploads/../../<other bucket>/x`, against another bucket).
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { request } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { localWorkerClient } from "./support/sdk";
import { startWranglerDev, type WranglerDev } from "./support/wrangler-dev";

let server: WranglerDev;

beforeAll(async () => {
  server = await startWranglerDev({ port: 8981 });
}, 90_000);
afterAll(async () => server?.stop());

/** Send `path` byte for byte (no URL normalisation on the client side). */
function raw(method: string, path: string): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(server.endpoint);
  return new Promise((resolve, reject) => {
    const req = request({ host: hostname, port, method, path }, (res) => {
      let body = "";
      res.on("data", (chunk) => (body += chunk));
      res.on("end", () => resolve({ status: res.statusCode!, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

async function statusOf(promise: Promise<unknown>): Promise<{ status?: number; code?: string }> {
  const error = await promise.then(() => undefined, (e: { name?: string; $metadata?: { httpStatusCode?: number } }) => e);
  return { status: error?.$metadata?.httpStatusCode, code: error?.name };
}

describe("keys with dot segments are refused, never rewritten", () => {
  it("an SDK PUT of relcheck/a/../b/x.txt (signed as sent) is SignatureDoesNotMatch and stores nothing at relcheck/b/x.txt", async () => {
    const s3 = localWorkerClient(server.endpoint);
    const refused = await statusOf(s3.send(new PutObjectCommand({ Bucket: "default", Key: "relcheck/a/../b/x.txt", Body: "dots" })));
    expect(refused).toEqual({ status: 403, code: "SignatureDoesNotMatch" });
    const rewritten = await statusOf(s3.send(new HeadObjectCommand({ Bucket: "default", Key: "relcheck/b/x.txt" })));
    expect(rewritten.status).toBe(404);
  });

  it("a presigned URL for pub/uploads/../../default/secret.txt cannot read the other bucket's object, literal or %2e-encoded", async () => {
    const s3 = localWorkerClient(server.endpoint);
    await s3.send(new PutObjectCommand({ Bucket: "default", Key: "secret.txt", Body: "secret" }));
    const url = new URL(await getSignedUrl(s3, new GetObjectCommand({ Bucket: "pub", Key: "uploads/../../default/secret.txt" }), { expiresIn: 300 }));
    // getSignedUrl's URL object has resolved the dots already: rebuild the path as the signer signed it.
    const query = url.search;
    for (const path of ["/pub/uploads/../../default/secret.txt", "/pub/uploads/%2e%2e/%2E%2E/default/secret.txt"]) {
      const response = await raw("GET", `${path}${query}`);
      expect(response.status, path).toBe(403);
      expect(response.body).toContain("<Code>SignatureDoesNotMatch</Code>");
      expect(response.body).not.toBe("secret");
    }
    // The same presigning, for the object's real path, works: the refusal above is about the path.
    const direct = await getSignedUrl(s3, new GetObjectCommand({ Bucket: "default", Key: "secret.txt" }), { expiresIn: 300 });
    expect((await raw("GET", new URL(direct).pathname + new URL(direct).search)).body).toBe("secret");
  });
});
