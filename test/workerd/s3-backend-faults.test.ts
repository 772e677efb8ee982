// The remote S3 backend against a misbehaving server: a fault proxy in front of radosgw answers 500/503,
// hangs, loses answers, or resets connections in the middle of a body (test/setup/fault-proxy.ts).
// What a user relies on: retried calls succeed, persistent failures become a clear S3 error (503 SlowDown or
// 500 InternalError, never the backend's own text), and nothing partial is ever readable.
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { S3Error } from "../../src/errors";
import type { S3Backend } from "../../src/storage/s3";
import { armFault, backendFor, clearFaults, createRemoteBucket, faultLog, remoteS3, remoteS3SkipReason } from "./helpers/remote-s3";

const KiB = 1024;

function bytes(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = (i * 31 + seed * 7 + (i >> 8)) & 0xff;
  return out;
}

function stream(data: Uint8Array, chunk = 16 * KiB): ReadableStream<Uint8Array> {
  let offset = 0;
  return new ReadableStream({
    pull(controller) {
      if (offset >= data.length) return controller.close();
      controller.enqueue(data.slice(offset, offset + chunk));
      offset += chunk;
    },
  });
}

async function hex(data: Uint8Array | ArrayBuffer): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", data);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

async function expectS3Error(promise: Promise<unknown>, code: string, status: number): Promise<S3Error> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(S3Error);
  const s3 = error as S3Error;
  expect({ code: s3.code, status: s3.status }).toEqual({ code, status });
  // The backend's own error text (here "injected fault") and addresses never reach the client.
  expect(s3.message).not.toMatch(/injected|127\.0\.0\.1|<Error>/);
  return s3;
}

describe.skipIf(!remoteS3)(`remote S3 backend under failures${remoteS3 ? "" : ` (${remoteS3SkipReason})`}`, () => {
  let bucket: string;
  let flaky: S3Backend;
  let direct: S3Backend;
  let n = 0;
  const key = (name: string) => `faults-${Date.now().toString(36)}-${n++}/${name}`;

  beforeAll(async () => {
    bucket = await createRemoteBucket("faults");
    flaky = backendFor(bucket, { viaFaultProxy: true, retry: { attempts: 4, baseDelayMs: 10, maxDelayMs: 50, stallTimeoutMs: 1_000 } });
    direct = backendFor(bucket);
  });

  afterEach(async () => {
    await clearFaults();
  });

  it("throttling (503 SlowDown) is retried with backoff and the read succeeds", async () => {
    const k = key("throttled.bin");
    await direct.put(k, bytes(1000, 1), 1000);
    await armFault({ match: { method: "GET", pathIncludes: k }, action: "status", status: 503, code: "SlowDown", times: 2 });
    const got = await flaky.get(k);
    expect(await hex(await new Response(got!.body).arrayBuffer())).toBe(await hex(bytes(1000, 1)));
    expect((await faultLog())[0].hits).toBe(2);
  });

  it("persistent throttling reaches the client as 503 SlowDown after the retries", async () => {
    const k = key("always-throttled.bin");
    await armFault({ match: { method: "HEAD", pathIncludes: k }, action: "status", status: 503, code: "SlowDown", times: 100 });
    await expectS3Error(flaky.head(k), "SlowDown", 503);
    expect((await faultLog())[0].hits).toBe(4);
  });

  it("HTTP 429 counts as throttling too", async () => {
    const k = key("429.bin");
    await armFault({ match: { method: "HEAD", pathIncludes: k }, action: "status", status: 429, code: "TooManyRequests", times: 100 });
    await expectS3Error(flaky.head(k), "SlowDown", 503);
  });

  it("a persistent 500 reaches the client as 500 InternalError, and a transient one is retried away", async () => {
    const k = key("five-hundred.bin");
    await armFault({ match: { method: "PUT", pathIncludes: k }, action: "status", status: 500, code: "InternalError", times: 100 });
    await expectS3Error(flaky.put(k, bytes(10, 2), 10), "InternalError", 500);
    expect(await direct.head(k)).toBeNull();
    await clearFaults();
    await armFault({ match: { method: "PUT", pathIncludes: k }, action: "status", status: 500, code: "InternalError", times: 2 });
    expect(await flaky.put(k, bytes(10, 2), 10)).not.toBeNull();
    expect((await direct.head(k))!.size).toBe(10);
  });

  it("a streamed upload is not replayed: a 503 fails the call at once and stores nothing", async () => {
    const k = key("stream-503.bin");
    await armFault({ match: { method: "PUT", pathIncludes: k }, action: "status", status: 503, code: "SlowDown", times: 1 });
    await expectS3Error(flaky.put(k, stream(bytes(100 * KiB, 3)), 100 * KiB), "SlowDown", 503);
    expect((await faultLog())[0].hits).toBe(1);
    expect(await direct.head(k)).toBeNull();
  });

  it("a server that never answers is cut off by the stall timeout and the call is retried", async () => {
    const k = key("hang-once.bin");
    await direct.put(k, "hello", 5);
    await armFault({ match: { method: "HEAD", pathIncludes: k }, action: "hang", times: 1 });
    const started = Date.now();
    expect((await flaky.head(k))!.size).toBe(5);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
  });

  it("a server that always hangs gives a clear InternalError within the retry budget", async () => {
    const k = key("hang-always.bin");
    const quick = backendFor(bucket, { viaFaultProxy: true, retry: { attempts: 2, baseDelayMs: 10, maxDelayMs: 20, stallTimeoutMs: 500 } });
    await armFault({ match: { method: "GET", pathIncludes: k }, action: "hang", times: 100 });
    const started = Date.now();
    const error = await expectS3Error(quick.get(k), "InternalError", 500);
    expect(error.message).toMatch(/in time/);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it("a download reset mid-stream resumes where it stopped and delivers the exact bytes", async () => {
    const k = key("reset-get.bin");
    const data = bytes(1024 * KiB, 4);
    await direct.put(k, data, data.length);
    await armFault({ match: { method: "GET", pathIncludes: k }, action: "reset-response", afterBytes: 300 * KiB, times: 2 });
    const got = await flaky.get(k);
    expect(await hex(await new Response(got!.body).arrayBuffer())).toBe(await hex(data));
    expect((await faultLog())[0].hits).toBe(2);
  });

  it("a ranged download that stalls midway resumes within its range", async () => {
    const k = key("stall-range.bin");
    const data = bytes(512 * KiB, 5);
    await direct.put(k, data, data.length);
    await armFault({ match: { method: "GET", pathIncludes: k }, action: "stall-response", afterBytes: 50 * KiB, times: 1 });
    const got = await flaky.get(k, { offset: 10_000, length: 200 * KiB });
    expect(got!.range).toEqual({ offset: 10_000, length: 200 * KiB });
    expect(await hex(await new Response(got!.body).arrayBuffer())).toBe(await hex(data.slice(10_000, 10_000 + 200 * KiB)));
  });

  it("a download that keeps failing errors the stream instead of ending it early", async () => {
    const k = key("reset-always.bin");
    await direct.put(k, bytes(256 * KiB, 6), 256 * KiB);
    await armFault({ match: { method: "GET", pathIncludes: k }, action: "reset-response", afterBytes: 64 * KiB, times: 100 });
    // Depending on when the reset lands, the GET itself or the body read fails; neither may look complete.
    const read = flaky.get(k).then((got) => new Response(got!.body).arrayBuffer());
    await expectS3Error(read, "InternalError", 500);
  });

  it("a download interrupted while the object is replaced errors rather than splicing two versions", async () => {
    const k = key("replaced.bin");
    await direct.put(k, bytes(512 * KiB, 7), 512 * KiB);
    // A stall (not a reset) keeps the first answer open, so the replacement surely lands before the resume.
    const patient = backendFor(bucket, { viaFaultProxy: true, retry: { attempts: 3, baseDelayMs: 10, maxDelayMs: 20, stallTimeoutMs: 2_000 } });
    await armFault({ match: { method: "GET", pathIncludes: k }, action: "stall-response", afterBytes: 64 * KiB, times: 1 });
    const got = await patient.get(k);
    await direct.put(k, bytes(512 * KiB, 8), 512 * KiB);
    await expectS3Error(new Response(got!.body).arrayBuffer(), "InternalError", 500);
  });

  it("an in-memory upload cut off midway is sent again and stored whole", async () => {
    const k = key("reset-put.bin");
    const data = bytes(256 * KiB, 9);
    await armFault({ match: { method: "PUT", pathIncludes: k }, action: "reset-request", afterBytes: 100 * KiB, times: 1 });
    const put = await flaky.put(k, data, data.length);
    expect(put!.size).toBe(data.length);
    const got = await direct.get(k);
    expect(await hex(await new Response(got!.body).arrayBuffer())).toBe(await hex(data));
  });

  it("a streamed upload cut off midway fails, and neither a partial object nor a change to the old one is visible", async () => {
    const k = key("reset-stream.bin");
    const before = bytes(10 * KiB, 10);
    await direct.put(k, before, before.length);
    await armFault({ match: { method: "PUT", pathIncludes: k }, action: "reset-request", afterBytes: 100 * KiB, times: 1 });
    await expect(flaky.put(k, stream(bytes(512 * KiB, 11)), 512 * KiB)).rejects.toBeInstanceOf(S3Error);
    const got = await direct.get(k);
    expect(got!.size).toBe(before.length);
    expect(await hex(await new Response(got!.body).arrayBuffer())).toBe(await hex(before));
  });

  it("a create-if-absent whose answer was lost is recognised as our own write on the retry", async () => {
    const k = key("lost-answer/reference.bin");
    await armFault({ match: { method: "PUT", pathIncludes: k }, action: "reset-response", afterBytes: 0, times: 1 });
    const put = await flaky.put(k, bytes(1000, 12), 1000, { onlyIfAbsent: true });
    expect(put).not.toBeNull();
    expect((await faultLog())[0].hits).toBe(1);
    expect(await flaky.put(k, bytes(1000, 13), 1000, { onlyIfAbsent: true })).toBeNull();
  });

  it("a multipart completion whose answer was lost still completes exactly once", async () => {
    const k = key("lost-complete.bin");
    const upload = await flaky.createMultipart(k);
    const part = await upload.uploadPart(1, bytes(1000, 14), 1000);
    await armFault({ match: { method: "POST", pathIncludes: k, queryIncludes: "uploadId" }, action: "reset-response", afterBytes: 0, times: 1 });
    const done = await upload.complete([part]);
    expect(done.size).toBe(1000);
    expect(done.etag).toMatch(/-1$/);
  });

  it("batch delete survives a transient 500 and removes every key", async () => {
    const prefix = key("batch/");
    for (const name of ["a", "b", "c"]) await direct.put(prefix + name, name, 1);
    await armFault({ match: { method: "POST", queryIncludes: "delete" }, action: "status", status: 500, code: "InternalError", times: 1 });
    await flaky.delete(["a", "b", "c"].map((name) => prefix + name));
    expect((await direct.list({ prefix })).objects).toEqual([]);
  });

  it("backend credentials that are refused become InternalError, without the backend's message", async () => {
    const wrong = backendFor(bucket, { secretAccessKey: "not-the-secret" });
    const error = await expectS3Error(wrong.head("anything"), "InternalError", 500);
    expect(error.message).toMatch(/credentials/);
  });
});
