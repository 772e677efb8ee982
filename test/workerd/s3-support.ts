// Helpers for the S3 integration tests: requests through the Worker's real fetch handler, XML parsing.
import { exports } from "cloudflare:workers";
import { XMLParser } from "fast-xml-parser";
import { AwsClient } from "aws4fetch";

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

export function bytes(size: number, seed = 1): Uint8Array {
  const out = new Uint8Array(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}
