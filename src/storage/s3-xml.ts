// The remote S3 server's XML: reading its answers (ListObjectsV2, DeleteObjects, CreateMultipartUpload,
// CompleteMultipartUpload, error bodies) and writing the request bodies it takes. Nothing here is shown to the
// client: values are turned into the Backend's types, and error codes go to s3-call.ts.
import { XMLParser } from "fast-xml-parser";
import type { MultipartPart, StoredObject } from "./backend";
import { unquote } from "./s3-headers";
import { characterReferenceDecoder } from "../xml-references";

// Keys in a listing may come back as character references (&#x0D;, &#34;): decoded like request bodies.
const xml = new XMLParser({
  entityDecoder: characterReferenceDecoder,
  ignoreAttributes: true,
  parseTagValue: false,
  trimValues: false,
  isArray: (name) => ["Contents", "CommonPrefixes", "Error", "Deleted", "Part"].includes(name),
});

/** A ListObjectsV2 page asked for with encoding-type=url; objects come without metadata. */
export function parseListPage(text: string): {
  objects: StoredObject[]; commonPrefixes: string[]; truncated: boolean; cursor?: string;
} {
  const result = xml.parse(text).ListBucketResult ?? {};
  const objects: StoredObject[] = (result.Contents ?? []).map((entry: Record<string, unknown>) => ({
    key: decodeListedKey(textOf(entry.Key)),
    size: Number(textOf(entry.Size)),
    etag: unquote(textOf(entry.ETag)),
    lastModified: new Date(textOf(entry.LastModified)),
    metadata: {},
  }));
  const commonPrefixes = (result.CommonPrefixes ?? []).map((entry: Record<string, unknown>) =>
    decodeListedKey(textOf(entry.Prefix)));
  const truncated = textOf(result.IsTruncated) === "true";
  const cursor = truncated ? textOf(result.NextContinuationToken) || undefined : undefined;
  return { objects, commonPrefixes, truncated, cursor };
}

/** The keys a quiet DeleteObjects answer reports as not deleted (NoSuchKey counts as deleted). */
export function parseFailedDeletes(text: string): string[] {
  const errors: Record<string, unknown>[] = xml.parse(text).DeleteResult?.Error ?? [];
  return errors.filter((error) => textOf(error.Code) !== "NoSuchKey").map((error) => textOf(error.Key));
}

/** CreateMultipartUpload's upload id ("" when the answer has none). */
export function parseUploadId(text: string): string {
  return textOf(xml.parse(text).InitiateMultipartUploadResult?.UploadId);
}

/** An `<Error>` inside a 200 answer (CompleteMultipartUpload can fail that way), if there is one. */
export function parseEmbeddedError(text: string): { code: string } | undefined {
  const error = xml.parse(text).Error?.[0];
  return error ? { code: textOf(error.Code) } : undefined;
}

/** The S3 error code of an error answer's body, if it has one (throws on a body that is not XML). */
export function parseErrorCode(text: string): string | undefined {
  return textOf(xml.parse(text).Error?.[0]?.Code) || undefined;
}

/** XML 1.0 cannot carry most control characters, so keys with them cannot go into a DeleteObjects body. */
export function isXmlSafeKey(key: string): boolean {
  return !/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/.test(key);
}

/** A quiet DeleteObjects request body (only failures are reported back). */
export function deleteRequestBody(keys: string[]): string {
  const objects = keys.map((key) => `<Object><Key>${xmlEscape(key)}</Key></Object>`).join("");
  return `<Delete><Quiet>true</Quiet>${objects}</Delete>`;
}

/** A CompleteMultipartUpload request body, parts in ascending order. */
export function completeRequestBody(parts: MultipartPart[]): string {
  const list = [...parts].sort((a, b) => a.partNumber - b.partNumber)
    .map((part) => `<Part><PartNumber>${part.partNumber}</PartNumber><ETag>"${xmlEscape(part.etag)}"</ETag></Part>`);
  return `<CompleteMultipartUpload>${list.join("")}</CompleteMultipartUpload>`;
}

/** With encoding-type=url, S3 URL-encodes keys in listings (spaces may come as "+"). */
function decodeListedKey(value: string): string {
  return decodeURIComponent(value.replace(/\+/g, " "));
}

function textOf(value: unknown): string {
  if (value === undefined || value === null) return "";
  if (typeof value === "object" && "#text" in (value as object)) return String((value as Record<string, unknown>)["#text"]);
  return String(value);
}

function xmlEscape(value: string): string {
  return value.replace(/[&<>"'\r\n\t]/g, (c) => `&#${c.charCodeAt(0)};`);
}
