// Bytes as text and back: hex, base64, base64url, percent-encoding. The one place these encoders live.
// This module sits at the bottom of the import graph (it imports nothing), so every layer may use it.

/** Lower-case hex, two digits per byte; `separator` goes between bytes (S3 error details use a space). */
export function bytesToHex(bytes: Uint8Array | ArrayBuffer, separator = ""): string {
  const view = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  return Array.from(view, (byte) => byte.toString(16).padStart(2, "0")).join(separator);
}

/** Hex (either case, even length) to bytes. The caller has checked the text is hex. */
export function hexToBytes(hex: string): Uint8Array {
  const bytes = new Uint8Array(hex.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return bytes;
}

/** Each byte as the character with that code (0–255): what `btoa` takes and what a C string's bytes read as. */
export function bytesToBinaryString(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return binary;
}

/** Standard base64 with padding, as S3 shows Content-MD5 and checksums. */
export function bytesToBase64(bytes: Uint8Array): string {
  return btoa(bytesToBinaryString(bytes));
}

/** Lenient base64 decode (`atob`: whitespace ignored, padding optional); throws when the text is not base64. */
export function base64ToBytes(text: string): Uint8Array {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

/** Strict base64 decode (canonical alphabet, length a multiple of 4); null when the text is not base64. */
export function strictBase64ToBytes(text: string): Uint8Array | null {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) return null;
  try {
    return base64ToBytes(text);
  } catch {
    return null;
  }
}

/** URL- and file-name-safe base64 (RFC 4648 §5) without padding. */
export function bytesToBase64Url(bytes: Uint8Array): string {
  return bytesToBase64(bytes).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** Unpadded base64url to bytes; throws on any character outside that alphabet (including "="). */
export function base64UrlToBytes(text: string): Uint8Array {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) throw new Error("not base64url");
  return base64ToBytes(text.replace(/-/g, "+").replace(/_/g, "/"));
}

/**
 * RFC 3986 percent-encoding of UTF-8: everything but A-Z a-z 0-9 - . _ ~ becomes %XX (upper case), as SigV4
 * and S3 expect. encodeURIComponent leaves !'()* alone, and never emits "+", which some servers read as a space.
 */
export function uriEncode(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}
