// Helpers for the auth tests: sign requests with aws4fetch (an independent SigV4 implementation), build
// aws-chunked bodies, and push a verified body into the real local R2 binding the way the storage layer does.
import { AwsV4Signer } from "aws4fetch";
import type { AccessKey, AuthConfig } from "../../../src/s3/auth/index";
import { EMPTY_SHA256, hmacHex, sha256Hex, signingKey } from "../../../src/s3/auth/sigv4";
import { bytesToBase64 } from "../../../src/encoding";
import { checksumHasher } from "../../../src/s3/auth/checksums";
import type { ChecksumAlgorithm } from "../../../src/engine/api";

export const KEY: AccessKey = { accessKeyId: "AKIDTESTWRITER", secretAccessKey: "writer-secret-0123456789", access: "read-write", buckets: ["*"], admin: false };
export const READER: AccessKey = { accessKeyId: "AKIDTESTREADER", secretAccessKey: "reader-secret-0123456789", access: "read-only", buckets: ["docs"], admin: false };

export function testConfig(overrides: Partial<AuthConfig> = {}): AuthConfig {
  return {
    keys: [KEY, READER],
    anonymousReadBuckets: ["public"],
    regions: ["us-east-1", "auto"],
    cors: { origins: ["https://app.example.com"], maxAgeSeconds: 600 },
    failClosed: false,
    ...overrides,
  };
}

export const NOW = new Date("2026-11-27T12:00:00Z");
export const AMZ_NOW = "20261127T120000Z";

export interface SignOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Uint8Array;
  key?: AccessKey;
  datetime?: string;
  region?: string;
  presign?: boolean;
}

export async function signed(url: string, options: SignOptions = {}): Promise<Request> {
  const key = options.key ?? KEY;
  const signer = new AwsV4Signer({
    url,
    method: options.method ?? "GET",
    headers: options.headers,
    body: options.body as BodyInit | undefined,
    accessKeyId: key.accessKeyId,
    secretAccessKey: key.secretAccessKey,
    service: "s3",
    region: options.region ?? "us-east-1",
    datetime: options.datetime ?? AMZ_NOW,
    signQuery: options.presign,
  });
  const { method, url: signedUrl, headers, body } = await signer.sign();
  // A constructed Request does not show Content-Length the way an incoming one does: set it like a client would.
  if (options.body !== undefined && !headers.has("content-length")) headers.set("content-length", String(bytesOf(options.body).length));
  return new Request(signedUrl, { method, headers, body: body as BodyInit | null | undefined });
}

/** The seed signature from a signed request's Authorization header. */
export function seedOf(request: Request): string {
  return /Signature=([0-9a-f]{64})/.exec(request.headers.get("authorization")!)![1];
}

export interface ChunkedBodyOptions {
  chunks: Uint8Array[];
  /** Sign chunks (and the trailer) chained from this seed signature. */
  signing?: { seed: string; secret: string; amzDate: string; region?: string };
  trailer?: Record<string, string>;
}

/** Encode chunks as aws-chunked, optionally signing each chunk and the trailer like the AWS SDKs do. */
export async function chunkedBody(options: ChunkedBodyOptions): Promise<Uint8Array> {
  const enc = new TextEncoder();
  const parts: Uint8Array[] = [];
  const s = options.signing;
  const scope = s ? `${s.amzDate.slice(0, 8)}/${s.region ?? "us-east-1"}/s3/aws4_request` : "";
  const key = s ? await signingKey(s.secret, s.amzDate.slice(0, 8), s.region ?? "us-east-1", "s3") : null;
  let previous = s?.seed ?? "";
  for (const chunk of [...options.chunks, new Uint8Array(0)]) {
    let header = chunk.length.toString(16);
    if (s && key) {
      const toSign = ["AWS4-HMAC-SHA256-PAYLOAD", s.amzDate, scope, previous, EMPTY_SHA256, await sha256Hex(chunk)].join("\n");
      previous = await hmacHex(key, toSign);
      header += `;chunk-signature=${previous}`;
    }
    parts.push(enc.encode(`${header}\r\n`));
    if (chunk.length) parts.push(chunk, enc.encode("\r\n"));
  }
  if (options.trailer) {
    const canonical = Object.entries(options.trailer).map(([n, v]) => `${n}:${v}\n`).join("");
    parts.push(enc.encode(Object.entries(options.trailer).map(([n, v]) => `${n}:${v}\r\n`).join("")));
    if (s && key) {
      const toSign = ["AWS4-HMAC-SHA256-TRAILER", s.amzDate, scope, previous, await sha256Hex(canonical)].join("\n");
      parts.push(enc.encode(`x-amz-trailer-signature:${await hmacHex(key, toSign)}\r\n`));
    }
  }
  parts.push(enc.encode("\r\n"));
  return concat(parts);
}

export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

export async function checksumOf(algorithm: ChecksumAlgorithm, data: Uint8Array): Promise<string> {
  const hasher = checksumHasher(algorithm);
  await hasher.update(data);
  return bytesToBase64(await hasher.digest());
}

function bytesOf(body: string | Uint8Array): Uint8Array {
  return typeof body === "string" ? bytes(body) : body;
}

export function bytes(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

/** Store a verified body in R2 as the storage layer does (FixedLengthStream of the decoded length). */
export async function storeInR2(bucket: R2Bucket, key: string, body: ReadableStream<Uint8Array>, length: number): Promise<R2Object | null> {
  const { readable, writable } = new FixedLengthStream(length);
  const pump = body.pipeTo(writable);
  const [stored] = await Promise.all([bucket.put(key, readable), pump]);
  return stored;
}
