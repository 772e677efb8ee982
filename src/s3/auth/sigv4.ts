// SigV4 building blocks: canonical request as S3 computes it, string to sign, signing key, HMAC, and a
// constant-time comparison. Pure functions over plain values so AWS's published vectors can drive them directly.
import { bytesToHex, uriEncode } from "../../encoding";

const encoder = new TextEncoder();

export const ALGORITHM = "AWS4-HMAC-SHA256";
export const EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

export interface CanonicalInput {
  method: string;
  /** The request path exactly as received (percent-encoded as the client sent it). */
  rawPath: string;
  /** The query string as received, without "?" (may be ""). */
  rawQuery: string;
  /** Lowercase header name → values in the order received (several values are joined with ","). */
  headers: Map<string, string[]>;
  /** Lowercase names, as listed in SignedHeaders. */
  signedHeaders: string[];
  /** Hex SHA-256 of the body or one of S3's literal payload markers (UNSIGNED-PAYLOAD, STREAMING-…). */
  payloadHash: string;
  /** Query parameters left out of the canonical query (X-Amz-Signature for presigned URLs). */
  excludeQuery?: string;
}

export function canonicalRequest(input: CanonicalInput): string {
  return [
    input.method.toUpperCase(),
    canonicalUri(input.rawPath),
    canonicalQuery(input.rawQuery, input.excludeQuery),
    canonicalHeaders(input.headers, input.signedHeaders),
    input.signedHeaders.join(";"),
    input.payloadHash,
  ].join("\n");
}

/**
 * S3 signs the path URI-encoded exactly once and never normalises it ("a/../b" and "//" stay as they are).
 * Clients differ in which characters they escape on the wire, so each segment is decoded and re-encoded with
 * the RFC 3986 rules every SDK uses for the canonical form. An escaped "/" (%2F) stays escaped.
 */
export function canonicalUri(rawPath: string): string {
  if (rawPath === "") return "/";
  return rawPath.split("/").map((segment) => uriEncode(percentDecode(segment))).join("/");
}

/** Sorted by encoded name then value; names and values decoded and re-encoded; "+" is a space, as URLSearchParams reads it. */
export function canonicalQuery(rawQuery: string, exclude?: string): string {
  if (rawQuery === "") return "";
  const pairs: Array<[string, string]> = [];
  for (const part of rawQuery.split("&")) {
    if (part === "") continue;
    const eq = part.indexOf("=");
    const name = formDecode(eq < 0 ? part : part.slice(0, eq));
    const value = eq < 0 ? "" : formDecode(part.slice(eq + 1));
    if (name === exclude) continue;
    pairs.push([uriEncode(name), uriEncode(value)]);
  }
  pairs.sort(([an, av], [bn, bv]) => compareCodeUnits(an, bn) || compareCodeUnits(av, bv));
  return pairs.map(([n, v]) => `${n}=${v}`).join("&");
}

export function canonicalHeaders(headers: Map<string, string[]>, signedHeaders: string[]): string {
  return signedHeaders.map((name) => `${name}:${(headers.get(name) ?? []).map(trimValue).join(",")}\n`).join("");
}

/** Trim, and collapse runs of whitespace (including folded lines) to one space, as SigV4 specifies. */
function trimValue(value: string): string {
  return value.trim().replace(/\s+/g, " ");
}

export function credentialScope(date: string, region: string, service: string): string {
  return `${date}/${region}/${service}/aws4_request`;
}

export async function stringToSign(amzDate: string, scope: string, canonical: string): Promise<string> {
  return `${ALGORITHM}\n${amzDate}\n${scope}\n${await sha256Hex(canonical)}`;
}

// ---- crypto ----

const signingKeys = new Map<string, Promise<CryptoKey>>();

/**
 * HMAC key for kSigning = HMAC(HMAC(HMAC(HMAC("AWS4"+secret, date), region), service), "aws4_request").
 * Cached per (secret, date, region, service): each chunk of a streamed upload signs with the same key.
 */
export function signingKey(secret: string, date: string, region: string, service: string): Promise<CryptoKey> {
  const cacheKey = `${date}\u0000${region}\u0000${service}\u0000${secret}`;
  let key = signingKeys.get(cacheKey);
  if (!key) {
    key = deriveSigningKey(secret, date, region, service);
    if (signingKeys.size > 256) signingKeys.clear();
    signingKeys.set(cacheKey, key);
    key.catch(() => signingKeys.delete(cacheKey));
  }
  return key;
}

async function deriveSigningKey(secret: string, date: string, region: string, service: string): Promise<CryptoKey> {
  let raw: ArrayBuffer = encoder.encode(`AWS4${secret}`).buffer as ArrayBuffer;
  for (const part of [date, region, service, "aws4_request"]) raw = await hmacRaw(raw, part);
  return importHmacKey(raw);
}

function importHmacKey(raw: ArrayBuffer | Uint8Array): Promise<CryptoKey> {
  return crypto.subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
}

async function hmacRaw(keyBytes: ArrayBuffer, data: string): Promise<ArrayBuffer> {
  return crypto.subtle.sign("HMAC", await importHmacKey(keyBytes), encoder.encode(data));
}

export async function hmacHex(key: CryptoKey, data: string): Promise<string> {
  return bytesToHex(await crypto.subtle.sign("HMAC", key, encoder.encode(data)));
}

export async function sha256Hex(data: string | Uint8Array): Promise<string> {
  const bytes = typeof data === "string" ? encoder.encode(data) : data;
  return bytesToHex(await crypto.subtle.digest("SHA-256", bytes));
}

/** Compares two strings without an early exit, so the time taken does not reveal how much of a signature matched. */
export function constantTimeEqual(a: string, b: string): boolean {
  const length = Math.max(a.length, b.length);
  let diff = a.length ^ b.length;
  for (let i = 0; i < length; i++) diff |= (a.charCodeAt(i) | 0) ^ (b.charCodeAt(i) | 0);
  return diff === 0;
}

// ---- encoding ----

/** Decode %XX sequences; a malformed sequence is kept literally rather than failing the request. */
function percentDecode(value: string): string {
  if (!value.includes("%")) return value;
  try {
    return decodeURIComponent(value);
  } catch {
    return value.replace(/(%[0-9A-Fa-f]{2})+/g, (run) => {
      try {
        return decodeURIComponent(run);
      } catch {
        return run;
      }
    });
  }
}

function formDecode(value: string): string {
  return percentDecode(value.replace(/\+/g, " "));
}

function compareCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
