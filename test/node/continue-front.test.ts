// scripts/continue-front.mjs (npm start's front) against a plain Node upstream standing in for wrangler dev:
// 100 Continue comes from the front, the request reaches the upstream unchanged (Host included) and streamed, a
// connection whose request body was not all read is closed rather than reused, and a GET or HEAD that wrangler
// dev's proxy parked (until its next request, see ParkedRequestNudger) is answered all the same.
import { createServer, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
// @ts-expect-error: a plain .mjs script without type declarations
import { NUDGE_INTERVAL_MS, startContinueFront } from "../../scripts/continue-front.mjs";

let upstream: Server;
let front: Server;
let frontPort: number;
const seen: { method: string; headers: IncomingHttpHeaders; url: string; firstChunkAt?: number }[] = [];
/** Requests the stand-in holds as wrangler dev's proxy parks them: sent on only when its next request arrives. */
const parked: Array<() => void> = [];
/** While set, the stand-in answers no /_/health (a Worker that answers nothing); `unanswered` ends them later. */
let healthHangs = false;
const unanswered: Array<() => void> = [];

beforeAll(async () => {
  upstream = createServer((request, response) => {
    const record: (typeof seen)[number] = { method: request.method!, headers: request.headers, url: request.url! };
    seen.push(record);
    for (const release of parked.splice(0)) release();
    if (request.url!.startsWith("/parked")) {
      parked.push(() => response.writeHead(200, { "x-parked": "released" }).end());
      return;
    }
    if (request.url === NUDGE_PATH && healthHangs) {
      unanswered.push(() => response.writeHead(200).end());
      return;
    }
    const slowMs = /^\/slow\?ms=(\d+)$/.exec(request.url!)?.[1];
    if (slowMs) {
      setTimeout(() => response.writeHead(200).end(), Number(slowMs));
      return;
    }
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

/** A request through the front that fails after `timeoutMs` without an answer (instead of hanging the test). */
function answerWithin(method: string, path: string, timeoutMs: number): Promise<IncomingMessage> {
  const request = httpRequest({ host: "127.0.0.1", port: frontPort, method, path, agent: false });
  const answered = responseOf(request);
  request.end();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      request.destroy();
      reject(new Error(`${method} ${path}: no answer through the front within ${timeoutMs} ms`));
    }, timeoutMs);
  });
  return Promise.race([answered, late]).finally(() => clearTimeout(timer));
}

const nudges = () => seen.filter((request) => request.method === "GET" && request.url === NUDGE_PATH).length;
const NUDGE_PATH = "/_/health";

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

  it("gets a parked GET and HEAD answered: while they wait, it sends the proxy GET /_/health every second", async () => {
    seen.length = 0;
    const started = Date.now();
    const [head, get] = await Promise.all([
      answerWithin("HEAD", "/parked/after-upload.zip", 3 * NUDGE_INTERVAL_MS),
      answerWithin("GET", "/parked/other.zip", 3 * NUDGE_INTERVAL_MS),
    ]);
    expect([head.statusCode, head.headers["x-parked"]]).toEqual([200, "released"]);
    expect([get.statusCode, get.headers["x-parked"]]).toEqual([200, "released"]);
    expect(Date.now() - started).toBeLessThan(2.5 * NUDGE_INTERVAL_MS);
    expect(nudges()).toBeGreaterThanOrEqual(1);
  });

  it("sends no nudge while no GET or HEAD waits", async () => {
    await answerWithin("GET", "/quick", 3 * NUDGE_INTERVAL_MS);
    const request = put("/default/slow-put.bin", { "content-length": "5" });
    const done = responseOf(request);
    request.write("he");
    seen.length = 0;
    await new Promise((resolve) => setTimeout(resolve, 2.5 * NUDGE_INTERVAL_MS)); // a PUT still uploading
    request.end("llo");
    expect((await done).statusCode).toBe(200);
    expect(nudges()).toBe(0);
  });

  it("keeps at most two nudges unanswered when the Worker answers none", async () => {
    healthHangs = true;
    seen.length = 0;
    try {
      const slow = await answerWithin("GET", `/slow?ms=${4.5 * NUDGE_INTERVAL_MS}`, 8 * NUDGE_INTERVAL_MS);
      expect(slow.statusCode).toBe(200);
      expect(nudges()).toBe(2); // four ticks passed
    } finally {
      healthHangs = false;
      for (const answer of unanswered.splice(0)) answer();
    }
  });
});
