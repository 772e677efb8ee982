// Helpers for the S3 integration tests: requests through the Worker's real fetch handler, XML parsing.
import { env, exports } from "cloudflare:workers";
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import worker from "../../src/index";
import { XMLParser } from "fast-xml-parser";
import { AwsClient } from "aws4fetch";
import type { AccessKey } from "../../src/s3/auth";
import { chunkedBody, seedOf, signed } from "./helpers/auth";
import type { ChecksumAlgorithm } from "../../src/engine/api";

export const ORIGIN = "http://127.0.0.1:8787";

/** The documented local dev key (enabled for tests by DG_DEV_CREDENTIALS=true in vitest.config.ts). */
export const DEV_CLIENT = new AwsClient({
  accessKeyId: "deltaglider", secretAccessKey: "deltaglider-secret", service: "s3", region: "us-east-1",
});

/** A SigV4-signed request through the Worker's real fetch handler. */
export async function s3(method: string, path: string, init: { headers?: Record<string, string>; body?: BodyInit | null } = {}) {
  const signed = await DEV_CLIENT.sign(`${ORIGIN}${path}`, { method, headers: init.headers, body: init.body ?? null });
  return exports.default.fetch(signed);
}

/**
 * The Worker's env with compressed-aware deltas on (as by default) and off (the DeltaGlider-readable setting).
 * One object each for the whole test run: the isolate builds its services once per env object (src/wiring.ts).
 */
const COMPRESSED_ENV = { ...(env as object), DG_COMPRESSED_DELTAS: "true" };
const STRICT_ENV = { ...(env as object), DG_COMPRESSED_DELTAS: "false" };

type DirectInit = { headers?: Record<string, string>; body?: BodyInit | null };

/**
 * s3() through the Worker's fetch handler with compressed-aware deltas on. The answer is read whole before the
 * request's background work (ctx.waitUntil) is awaited, and handed back as a Response; a body that failed
 * mid-stream is handed back as a body that fails.
 */
export function s3Compressed(method: string, path: string, init: DirectInit = {}): Promise<Response> {
  return s3Direct(COMPRESSED_ENV, method, path, init);
}

/** s3Compressed with DG_COMPRESSED_DELTAS=false: a bucket kept strictly DeltaGlider-readable. */
export function s3DeltaGliderReadable(method: string, path: string, init: DirectInit = {}): Promise<Response> {
  return s3Direct(STRICT_ENV, method, path, init);
}

async function s3Direct(workerEnv: object, method: string, path: string, init: DirectInit): Promise<Response> {
  // Called directly (not through the runtime's HTTP layer), a request carries no Content-Length of its own.
  const length: Record<string, string> = init.body instanceof Uint8Array || init.body instanceof ArrayBuffer
    ? { "content-length": String(init.body.byteLength) } : {};
  const request = await DEV_CLIENT.sign(`${ORIGIN}${path}`, { method, headers: { ...length, ...init.headers }, body: init.body ?? null });
  const ctx = createExecutionContext();
  const response = await worker.fetch(request, workerEnv as never, ctx);
  let body: BodyInit | null = null;
  try {
    const whole = await response.arrayBuffer();
    if (whole.byteLength > 0) body = whole;
  } catch (error) {
    body = new ReadableStream({ start: (controller) => controller.error(error) });
  }
  await waitOnExecutionContext(ctx);
  return new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers });
}

const DEV_KEY: AccessKey = { accessKeyId: "deltaglider", secretAccessKey: "deltaglider-secret", access: "read-write", buckets: ["*"], admin: true };

export interface ChunkedPutOptions {
  /** Default `aws-chunked`; S3 clients may add a real encoding (`aws-chunked,gzip`). */
  contentEncoding?: string;
  /** A flexible checksum sent in the trailer (base64 value), as the AWS SDKs do by default. */
  trailer?: { algorithm: ChecksumAlgorithm; value: string };
  /** Sign every chunk (and the trailer) in a chain from the seed signature; default true. */
  signChunks?: boolean;
}

/**
 * A PUT through the Worker the way the AWS SDKs stream one: the headers are signed (the seed signature), the
 * body is aws-chunked in two chunks, signed chunk by chunk (STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]) or
 * unsigned with a checksum trailer (STREAMING-UNSIGNED-PAYLOAD-TRAILER, the SDKs' default).
 */
export async function chunkedPut(path: string, data: Uint8Array, options: ChunkedPutOptions = {}): Promise<Response> {
  const signChunks = options.signChunks ?? true;
  const mode = signChunks ? "STREAMING-AWS4-HMAC-SHA256-PAYLOAD" : "STREAMING-UNSIGNED-PAYLOAD";
  const amzDate = new Date().toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");
  const trailerName = options.trailer && `x-amz-checksum-${options.trailer.algorithm}`;
  const headerSigned = await signed(`${ORIGIN}${path}`, {
    method: "PUT", key: DEV_KEY, datetime: amzDate,
    headers: {
      "x-amz-content-sha256": trailerName ? `${mode}-TRAILER` : mode,
      "content-encoding": options.contentEncoding ?? "aws-chunked",
      "x-amz-decoded-content-length": String(data.length),
      ...(trailerName ? { "x-amz-trailer": trailerName, "x-amz-sdk-checksum-algorithm": options.trailer!.algorithm.toUpperCase() } : {}),
    },
  });
  const half = Math.floor(data.length / 2);
  const body = await chunkedBody({
    chunks: [data.subarray(0, half), data.subarray(half)],
    signing: signChunks ? { seed: seedOf(headerSigned), secret: DEV_KEY.secretAccessKey, amzDate } : undefined,
    trailer: trailerName ? { [trailerName]: options.trailer!.value } : undefined,
  });
  return exports.default.fetch(new Request(headerSigned.url, { method: "PUT", headers: headerSigned.headers, body }));
}

/** The same request without any signature. */
export function unsigned(method: string, path: string, init: { headers?: Record<string, string>; body?: BodyInit | null } = {}) {
  return exports.default.fetch(new Request(`${ORIGIN}${path}`, { method, headers: init.headers, body: init.body ?? null }));
}

const REPEATED = ["Contents", "CommonPrefixes", "Bucket", "Deleted", "Grant"];
const parser = new XMLParser({
  ignoreAttributes: false,
  parseTagValue: false,
  isArray: (name, jpath) => REPEATED.includes(name) || String(jpath) === "DeleteResult.Error",
});

export async function xmlOf(response: Response): Promise<any> {
  return parser.parse(await response.text());
}

/** The S3 error body, checked for the fields every error must carry. */
export async function errorOf(response: Response): Promise<{ Code: string; Message: string; Resource: string; RequestId: string; [k: string]: string }> {
  const body = await xmlOf(response);
  return body.Error;
}

export function uniqueBucket(label: string): string {
  return `s3t-${label}-${crypto.randomUUID().replaceAll("-", "").slice(0, 20)}`;
}

/** Deterministic pseudo-random object bodies. */
export { randomBytes as bytes } from "../fixtures/random";
