// Shared helpers for the multipart workerd tests (not a test file itself).
import { env } from "cloudflare:workers";
import { R2Backend } from "../../src/storage/r2";
import { fillRandomWords } from "../fixtures/random";

export const MiB = 1024 * 1024;

export function bucket(): R2Bucket {
  return (env as unknown as { BUCKET: R2Bucket }).BUCKET;
}

export function backend(): R2Backend {
  return new R2Backend(bucket(), "BUCKET");
}

/** Deterministic pseudo-random bytes, four per generator step: fast enough for tens of MiB. */
export function bytesOf(size: number, seed: number): Uint8Array {
  const out = new Uint8Array(size);
  fillRandomWords(out, seed);
  for (let i = size - (size % 4); i < size; i++) out[i] = (seed + i) & 0xff;
  return out;
}

export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.byteLength;
  }
  return out;
}

export async function md5Hex(data: Uint8Array): Promise<string> {
  return hex(new Uint8Array(await crypto.subtle.digest("MD5", data)));
}

export function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export function base64(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}

/** S3's multipart ETag, computed independently from the raw part bytes. */
export async function expectedMultipartEtag(parts: Uint8Array[]): Promise<string> {
  const md5s = await Promise.all(parts.map(async (p) => new Uint8Array(await crypto.subtle.digest("MD5", p))));
  return `${await md5Hex(concat(md5s))}-${parts.length}`;
}

export async function readAll(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** A unique key prefix per test, so tests sharing the bucket never see each other's uploads. */
export function uniquePrefix(label: string): string {
  return `mpt-${label}-${crypto.randomUUID().slice(0, 8)}/`;
}
