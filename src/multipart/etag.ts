// S3's multipart ETag: MD5 over the concatenated binary MD5s of the listed parts, then "-<part count>".
import { bytesToHex, hexToBytes } from "../encoding";

export async function multipartEtag(partMd5Hex: readonly string[]): Promise<string> {
  const joined = new Uint8Array(partMd5Hex.length * 16);
  partMd5Hex.forEach((hex, i) => joined.set(hexToBytes(hex), i * 16));
  const digest = await crypto.subtle.digest("MD5", joined);
  return `${bytesToHex(digest)}-${partMd5Hex.length}`;
}

/** Unquoted, lower-case form of an ETag as clients send it back ("\"abc\"", "abc", W/ never used by S3). */
export function normalizeEtag(etag: string): string {
  return etag.trim().replaceAll('"', "").replaceAll("&quot;", "").toLowerCase();
}
