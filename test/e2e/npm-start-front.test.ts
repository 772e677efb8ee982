// `npm start` answers `Expect: 100-continue` at once (scripts/continue-front.mjs in front of wrangler dev, whose
// workerd listener never answers it), forwards the request unchanged (Host, so SigV4 and virtual-hosted
// addressing hold; the streamed body, byte-exact), and stops wrangler when it exits. How the front forwards
// (streaming, early answers) is tested against a plain Node upstream in test/node/continue-front.test.ts.
import { AwsClient } from "aws4fetch";
import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { request as httpRequest, type IncomingMessage } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startNpmStart, type NpmStart } from "./support/npm-start";
import { DEV_CREDENTIALS, REGION } from "./support/wrangler-dev";

const PORT = 8953;
const signer = new AwsClient({ ...DEV_CREDENTIALS, service: "s3", region: REGION });
let server: NpmStart;

interface Sent {
  response: IncomingMessage;
  body: Buffer;
  /** Milliseconds from sending the headers to "100 Continue" (undefined: never came). */
  continueAfter?: number;
}

/**
 * A signed PUT the way aws-cli and the SDKs send one: headers with `Expect: 100-continue`, and the body only after
 * the server's 100 Continue, or after `giveUpMs` as the clients do (boto3 1 s, the JS SDK 6 s).
 */
async function putExpectingContinue(url: string, data: Uint8Array, giveUpMs = 5_000, hostHeader?: string): Promise<Sent> {
  const signed = await signer.sign(url, { method: "PUT", body: data });
  const headers: Record<string, string> = Object.fromEntries(signed.headers);
  headers["content-length"] = String(data.byteLength);
  headers.expect = "100-continue";
  const target = new URL(server.endpoint);
  return new Promise((resolve, reject) => {
    const started = Date.now();
    let continueAfter: number | undefined;
    const request = httpRequest({
      host: target.hostname, port: target.port, method: "PUT", path: new URL(url).pathname,
      headers: { ...headers, host: hostHeader ?? new URL(url).host }, agent: false,
    });
    const timer = setTimeout(() => request.end(data), giveUpMs);
    request.on("continue", () => {
      continueAfter = Date.now() - started;
      clearTimeout(timer);
      request.end(data);
    });
    request.on("response", (response) => {
      clearTimeout(timer);
      const chunks: Buffer[] = [];
      response.on("data", (chunk) => chunks.push(chunk));
      response.on("end", () => resolve({ response, body: Buffer.concat(chunks), continueAfter }));
    });
    request.on("error", reject);
    request.flushHeaders();
  });
}

async function signedGet(url: string): Promise<Buffer> {
  const response = await fetch(await signer.sign(url, { method: "GET" }));
  expect(response.status).toBe(200);
  return Buffer.from(await response.arrayBuffer());
}

const md5 = (data: Uint8Array) => createHash("md5").update(data).digest("hex");

describe("npm start's front", () => {
  beforeAll(async () => {
    server = await startNpmStart({ port: PORT, inspectorPort: PORT + 1 });
  }, 120_000);

  afterAll(async () => {
    await server?.stop();
  });

  it("answers 100 Continue to a 2 MB PUT at once, so the client never waits out its timeout", async () => {
    const data = randomBytes(2 * 1024 * 1024);
    const started = Date.now();
    const sent = await putExpectingContinue(`${server.endpoint}/default/front/two.bin`, data);
    expect(sent.response.statusCode, sent.body.toString()).toBe(200);
    expect(sent.continueAfter).toBeDefined();
    expect(sent.continueAfter!).toBeLessThan(500);
    expect(Date.now() - started).toBeLessThan(4_000);
    expect(sent.response.headers.etag).toBe(`"${md5(data)}"`);
    expect(md5(await signedGet(`${server.endpoint}/default/front/two.bin`))).toBe(md5(data));
  });

  it("keeps the Host header: a virtual-hosted request (default.localhost) signed for that host succeeds", async () => {
    const data = randomBytes(100_000);
    const hostUrl = `http://default.localhost:${PORT}/front/virtual.bin`;
    const sent = await putExpectingContinue(hostUrl, data, 5_000, `default.localhost:${PORT}`);
    expect(sent.response.statusCode, sent.body.toString()).toBe(200);
    expect(md5(await signedGet(`${server.endpoint}/default/front/virtual.bin`))).toBe(md5(data));
  });

  it("stops wrangler dev when it exits", async () => {
    const wrangler = execFileSync("ps", ["-o", "pid=,args=", "--ppid", String(server.pid)], { encoding: "utf8" });
    const internalPort = /--port (\d+)/.exec(wrangler)?.[1];
    expect(internalPort, wrangler).toBeDefined();
    expect((await fetch(`http://127.0.0.1:${internalPort}/_/health`)).status).toBe(200);
    await server.stop();
    await expect(fetch(`http://127.0.0.1:${internalPort}/_/health`)).rejects.toThrow();
  });
});
