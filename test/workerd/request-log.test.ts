// The request log operators read with `wrangler tail`: every S3 request through the Worker's fetch writes one
// JSON line (console.log) naming its operation, object, status, storage type, byte counts, stored size and
// ratio, codec time and request id — and never a signature, credential, query string or metadata value.
// DG_LOG_REQUESTS=false turns it off.
import { env } from "cloudflare:workers";
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { afterEach, beforeEach, describe, expect, it, vi, type MockInstance } from "vitest";
import worker from "../../src/index";
import { ConfigError, parseConfig } from "../../src/config";
import { edited, pseudoRandom } from "./engine-helpers";
import { DEV_CLIENT, ORIGIN } from "./s3-support";

const KiB = 1024;
/** The Worker's env as deployed: vitest.config.ts turns the log off for the other suites. */
const logging = { ...(env as object), DG_LOG_REQUESTS: "true" };

let logSpy: MockInstance<typeof console.log>;
/** Execution contexts settled after each test, once its response bodies were read (a GET's cache write waits for that). */
const pending: ExecutionContext[] = [];
beforeEach(() => {
  logSpy = vi.spyOn(console, "log").mockImplementation(() => {}); // recorded, not printed
});
afterEach(async () => {
  logSpy.mockRestore();
  for (const ctx of pending.splice(0)) await waitOnExecutionContext(ctx);
});

/** The JSON request-log lines written so far (other console.log output is skipped). */
function requestLines(): Array<Record<string, unknown>> {
  return logSpy.mock.calls
    .filter((args) => args.length === 1 && typeof args[0] === "string" && args[0].startsWith("{"))
    .map((args) => JSON.parse(args[0] as string) as Record<string, unknown>)
    .filter((line) => "requestId" in line);
}

/** The one line logged for `response` (matched by its x-amz-request-id). */
function lineOf(response: Response): Record<string, unknown> {
  const id = response.headers.get("x-amz-request-id");
  const lines = requestLines().filter((line) => line.requestId === id);
  expect(lines).toHaveLength(1);
  return lines[0];
}

async function through(request: Request, workerEnv: object = logging): Promise<Response> {
  const ctx = createExecutionContext();
  pending.push(ctx);
  return worker.fetch(request, workerEnv as never, ctx);
}

function signed(method: string, path: string, body?: Uint8Array, headers: Record<string, string> = {}): Promise<Request> {
  // Called directly (not through the runtime's fetch), a request carries only the headers it was given.
  const length: Record<string, string> = body ? { "content-length": String(body.byteLength) } : {};
  return DEV_CLIENT.sign(`${ORIGIN}${path}`, { method, headers: { ...headers, ...length }, body: body ?? null });
}

/** Two versions of a .zip under a fresh prefix: the first seeds the reference, the second is stored as a delta. */
async function putTwoVersions(): Promise<{ prefix: string; v2: Uint8Array; second: Response }> {
  const prefix = `request-log-${crypto.randomUUID()}`;
  const v1 = pseudoRandom(256 * KiB, 11);
  const v2 = edited(v1, 12);
  const first = await through(await signed("PUT", `/default/${prefix}/v1.zip`, v1));
  expect(first.status).toBe(200);
  const second = await through(await signed("PUT", `/default/${prefix}/v2.zip`, v2));
  expect(second.status).toBe(200);
  return { prefix, v2, second };
}

describe("the request log", () => {
  it("a delta PUT logs PutObject, storage type Delta, stored bytes below the size, the ratio, codec ms and its request id", async () => {
    const { prefix, v2, second } = await putTwoVersions();
    expect(second.headers.get("x-amz-storage-type")).toBe("Delta");
    const line = lineOf(second);
    expect(line).toMatchObject({
      op: "PutObject", bucket: "default", key: `${prefix}/v2.zip`, status: 200, storageType: "Delta", bytesIn: v2.byteLength,
    });
    expect(line.requestId).toBe(second.headers.get("x-amz-request-id"));
    expect(line.storedBytes).toBeGreaterThan(0);
    expect(line.storedBytes).toBeLessThan(v2.byteLength);
    expect(line.ratio).toBeCloseTo((line.storedBytes as number) / v2.byteLength, 3);
    expect(line.codecMs).toBeGreaterThanOrEqual(0);
    expect(line.code).toBeUndefined();
  });

  it("a GET logs the bytes it answers with and how the object is stored", async () => {
    const { prefix, v2 } = await putTwoVersions();
    const response = await through(await signed("GET", `/default/${prefix}/v2.zip`));
    expect(response.status).toBe(200);
    expect((await response.arrayBuffer()).byteLength).toBe(v2.byteLength);
    expect(lineOf(response)).toMatchObject({
      op: "GetObject", key: `${prefix}/v2.zip`, status: 200, bytesOut: v2.byteLength, bytesIn: 0, storageType: "Delta",
    });
    expect(["rebuilt", "reference", "miss"]).toContain(lineOf(response).cache);
  });

  it("an error logs its status and S3 code", async () => {
    const response = await through(await signed("GET", `/default/request-log-missing-${crypto.randomUUID()}`));
    expect(response.status).toBe(404);
    await response.arrayBuffer();
    expect(lineOf(response)).toMatchObject({ op: "GetObject", status: 404, code: "NoSuchKey" });
    expect(lineOf(response).bytesIn).toBeUndefined();
  });

  it("a presigned GET's line holds no signature, credential or query string, and metadata values are never logged", async () => {
    const { prefix } = await putTwoVersions();
    const secretValue = `meta-${crypto.randomUUID()}`;
    const put = await through(await signed("PUT", `/default/${prefix}/meta.txt`, new Uint8Array([1, 2, 3]), { "x-amz-meta-note": secretValue }));
    expect(put.status).toBe(200);
    const presigned = await DEV_CLIENT.sign(`${ORIGIN}/default/${prefix}/meta.txt?response-cache-control=no-store`, { method: "GET", aws: { signQuery: true } });
    const query = new URL(presigned.url).searchParams;
    const response = await through(presigned);
    expect(response.status).toBe(200);
    await response.arrayBuffer();

    const text = JSON.stringify(lineOf(response));
    expect(lineOf(response)).toMatchObject({ op: "GetObject", key: `${prefix}/meta.txt`, status: 200 });
    for (const forbidden of [query.get("X-Amz-Signature")!, query.get("X-Amz-Credential")!, "X-Amz-", "no-store", "?", DEV_CLIENT.secretAccessKey]) {
      expect(text).not.toContain(forbidden);
    }
    for (const line of requestLines()) expect(JSON.stringify(line)).not.toContain(secretValue);
  });

  it("DG_LOG_REQUESTS=false logs nothing", async () => {
    const quiet = { ...logging, DG_LOG_REQUESTS: "false" };
    const response = await through(await signed("PUT", `/default/request-log-quiet-${crypto.randomUUID()}.txt`, new Uint8Array([7])), quiet);
    expect(response.status).toBe(200);
    expect(requestLines()).toEqual([]);
  });

  it("a DG_LOG_REQUESTS other than true or false is a ConfigError naming it", () => {
    expect(() => parseConfig({ BUCKET: env.BUCKET, DG_LOG_REQUESTS: "sometimes" })).toThrow(ConfigError);
    expect(() => parseConfig({ BUCKET: env.BUCKET, DG_LOG_REQUESTS: "sometimes" })).toThrow(/DG_LOG_REQUESTS/);
    expect(parseConfig({ BUCKET: env.BUCKET }).logs.requests).toBe(true);
  });
});
