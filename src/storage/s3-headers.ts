// What travels in HTTP headers between us and the remote S3 server: user metadata (x-amz-meta-*, with values
// that do not survive as header text sent RFC 2047-encoded), ETags, byte ranges, lengths and Content-MD5.
import { base64ToBytes, bytesToBase64, bytesToHex, hexToBytes } from "../encoding";
import type { ByteRange, PutOptions, StoredObject } from "./backend";

/** The headers that store an object's user metadata and Content-Type. */
export function objectHeaders(options: PutOptions): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(options.metadata ?? {})) {
    headers[`x-amz-meta-${name.toLowerCase()}`] = encodeMetadataValue(value);
  }
  if (options.contentType) headers["content-type"] = options.contentType;
  return headers;
}

/** What a HEAD or GET answer says about the object (`size` from its length or Content-Range). */
export function storedFromHeaders(key: string, headers: Headers, size: number): StoredObject {
  const metadata: Record<string, string> = {};
  headers.forEach((value, name) => {
    if (name.startsWith("x-amz-meta-")) metadata[name.slice("x-amz-meta-".length)] = decodeMetadataValue(value);
  });
  return {
    key,
    size,
    etag: unquote(headers.get("etag") ?? ""),
    lastModified: new Date(headers.get("last-modified") ?? Date.now()),
    metadata,
    contentType: headers.get("content-type") ?? undefined,
  };
}

/**
 * Header values must be printable ASCII, and fetch trims them. Values that would not survive (non-ASCII,
 * edge or repeated spaces, control characters, or text that looks encoded) go as RFC 2047 UTF-8 base64 —
 * the form AWS S3 itself uses to return non-ASCII metadata — and are decoded on the way back.
 */
function encodeMetadataValue(value: string): string {
  if (/^(?:[\x21-\x7e]+(?: [\x21-\x7e]+)*)?$/.test(value) && !/^=\?.*\?=$/.test(value)) return value;
  return `=?UTF-8?B?${bytesToBase64(new TextEncoder().encode(value))}?=`;
}

function decodeMetadataValue(value: string): string {
  const match = value.match(/^=\?UTF-8\?B\?([A-Za-z0-9+/=]*)\?=$/i);
  if (!match) return value;
  try {
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(base64ToBytes(match[1]));
  } catch {
    return value;
  }
}

/** An ETag without quotes or weak marker, as the Backend interface carries it. */
export function unquote(etag: string): string {
  return etag.replace(/^W\//, "").replace(/^"(.*)"$/, "$1");
}

export function rangeHeader(range: ByteRange): string {
  if ("suffix" in range) return `bytes=-${range.suffix}`;
  return range.length === undefined
    ? `bytes=${range.offset}-`
    : `bytes=${range.offset}-${range.offset + range.length - 1}`;
}

export function parseContentRange(value: string | null): { offset: number; length: number; size: number } | undefined {
  const match = value?.match(/^bytes (\d+)-(\d+)\/(\d+)$/);
  if (!match) return undefined;
  const offset = Number(match[1]);
  return { offset, length: Number(match[2]) - offset + 1, size: Number(match[3]) };
}

export function contentLength(headers: Headers): number {
  return Number(headers.get("content-length") ?? 0);
}

/** MD5 as lower-case hex: what S3 returns as the ETag of a single PUT. */
export async function md5Hex(bytes: Uint8Array): Promise<string> {
  // workerd implements MD5 in SubtleCrypto (non-standard, for exactly this kind of use).
  return bytesToHex(await crypto.subtle.digest("MD5", bytes));
}

/** The Content-MD5 header value (base64 of the binary digest) for an MD5 given as hex. */
export function contentMd5(md5HexDigest: string): string {
  return bytesToBase64(hexToBytes(md5HexDigest));
}
