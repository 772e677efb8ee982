// scripts/continue-front.mjs (npm start's front) against a plain Node upstream standing in for wrangler dev:
// 100 Continue comes from the front, the request reaches the upstream unchanged (Host included) and streamed, and
// a connection whose request body was not all read is closed rather than reused.
import { createServer, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
// @ts-expect-error: a plain .mjs script without type declarations
import { startContinueFront } from "../../scripts/continue-front.mjs";

let upstream: Server;
let front: Server;
let frontPort: number;
const seen: { headers: IncomingHttpHeaders; url: string; firstChunkAt?: number }[] = [];

beforeAll(async () => {
  upstream = createServer((request, response) => {
    const record: (typeof seen)[number] = { headers: request.headers, url: request.url! };
    seen.push(record);
    if (request.url!.startsWith("/early")) {
      response.writeHead(403).end("refused"); // without reading the body, as a server may
      return;
    }
    let received = 0;
    request.on("data", (chunk: Buffer) => {
      record.firstChunkAt ??= Date.now();
      received += chunk.length;
    });
    request.on("end", () => response.writeHead(200, { "x-received": String(received) }).end());
  });
  await new Promise<void>((resolve) => upstream.listen(0, "127.0.0.1", resolve));
  front = await startContinueFront({ host: "127.0.0.1", port: 0, targetPort: (upstream.address() as AddressInfo).port });
  frontPort = (front.address() as AddressInfo).port;
});

afterAll(async () => {
  front.closeAllConnections();
  upstream.closeAllConnections();
  await new Promise((resolve) => front.close(resolve));
  await new Promise((resolve) => upstream.close(resolve));
});

function put(path: string, headers: Record<string, string>) {
  return httpRequest({ host: "127.0.0.1", port: frontPort, method: "PUT", path, headers, agent: false });
}

function responseOf(request: ReturnType<typeof put>): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    request.on("response", (response) => {
      response.resume();
      response.on("end", () => resolve(response));
    });
    request.on("error", reject);
  });
}

describe("npm start's front", () => {
  it("answers 100 Continue itself and forwards method, path, Host and Expect unchanged", async () => {
    seen.length = 0;
    const request = put("/default/a%20b.bin?x=1", { host: "default.localhost:9999", "content-length": "5", expect: "100-continue", "x-amz-date": "d" });
    let continued = false;
    request.on("continue", () => {
      continued = true;
      request.end("hello");
    });
    request.flushHeaders();
    const response = await responseOf(request);
    expect(continued).toBe(true);
    expect([response.statusCode, response.headers["x-received"]]).toEqual([200, "5"]);
    expect(seen[0].url).toBe("/default/a%20b.bin?x=1");
    expect(seen[0].headers).toMatchObject({ host: "default.localhost:9999", expect: "100-continue", "x-amz-date": "d", "content-length": "5" });
  });

  it("streams the body: the upstream has the first chunk before the client sent the last", async () => {
    seen.length = 0;
    const request = put("/default/stream.bin", { "transfer-encoding": "chunked" });
    const done = responseOf(request);
    request.write(Buffer.alloc(64 * 1024));
    await new Promise((resolve) => setTimeout(resolve, 300));
    const lastSentAt = Date.now();
    request.end(Buffer.alloc(64 * 1024));
    const response = await done;
    expect(response.headers["x-received"]).toBe(String(128 * 1024));
    expect(seen[0].firstChunkAt).toBeLessThan(lastSentAt);
  });

  it("closes the client's connection when the answer comes before the body was read", async () => {
    const request = put("/early", { "content-length": String(1024 * 1024), expect: "100-continue" });
    request.on("continue", () => request.write(Buffer.alloc(1000))); // and never the rest
    request.flushHeaders();
    const response = await new Promise<IncomingMessage>((resolve) => request.on("response", resolve));
    expect(response.statusCode).toBe(403);
    expect(response.headers.connection).toBe("close");
    request.destroy();
  });
});
