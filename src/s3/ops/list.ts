// ListObjectsV2 and ListObjects (v1). The engine lists user keys (original sizes and ETags, no internal names);
// this module maps S3's paging parameters onto it and renders the XML.
import type { ListInput, ListResult } from "../../engine/api";
import { S3Error } from "../../errors";
import { buildXml, xmlDate, xmlResponse, type XmlNode } from "../xml";
import { OWNER, type OpContext } from "./context";
import { quoteEtag } from "./headers";

const MAX_KEYS = 1000;
/** Sorts after any key that continues a given prefix with ordinary characters (used to skip a common prefix). */
const MAX_CHAR = "\u{10FFFF}";

interface ListParams {
  prefix: string;
  delimiter?: string;
  maxKeys: number;
  urlEncode: boolean;
}

function commonParams(query: URLSearchParams): ListParams {
  const encodingType = query.get("encoding-type");
  if (encodingType !== null && encodingType !== "url") {
    throw new S3Error("InvalidArgument", "Invalid Encoding Method specified in Request", { ArgumentName: "encoding-type", ArgumentValue: encodingType });
  }
  const delimiter = query.get("delimiter");
  return {
    prefix: query.get("prefix") ?? "",
    delimiter: delimiter === null || delimiter === "" ? undefined : delimiter,
    maxKeys: parseMaxKeys(query.get("max-keys")),
    urlEncode: encodingType === "url",
  };
}

function parseMaxKeys(value: string | null): number {
  if (value === null) return MAX_KEYS;
  if (!/^\d+$/.test(value)) {
    throw new S3Error("InvalidArgument", "Provided max-keys not an integer or within integer range", { ArgumentName: "max-keys", ArgumentValue: value });
  }
  return Math.min(Number(value), MAX_KEYS);
}

/**
 * `encoding-type=url`: S3 percent-encodes keys, common prefixes, the delimiter and the echoed markers (v2: Prefix
 * and StartAfter; v1: Marker and NextMarker) in the response; slashes stay readable.
 */
function encoderFor(params: ListParams): (text: string) => string {
  return params.urlEncode ? (text) => encodeURIComponent(text).replace(/%2F/g, "/") : (text) => text;
}

/**
 * A marker that names a common prefix (ends with the delimiter) stands for every key under it: start after
 * all of them, or a v1 client paging with NextMarker would see that prefix again.
 */
function startAfterFor(marker: string | undefined, params: ListParams): string | undefined {
  if (!marker) return undefined;
  if (params.delimiter && marker.startsWith(params.prefix) && marker.endsWith(params.delimiter)) return marker + MAX_CHAR;
  return marker;
}

async function runList(ctx: OpContext, bucket: string, input: ListInput): Promise<ListResult> {
  const entry = await ctx.buckets.require(bucket);
  if (input.maxKeys === 0) return { objects: [], commonPrefixes: [], isTruncated: false };
  return ctx.engineFor(entry).list(input);
}

function contents(result: ListResult, encode: (text: string) => string, withOwner: boolean): XmlNode[] {
  return result.objects.map((object) => ({
    Key: encode(object.key),
    LastModified: xmlDate(object.lastModified),
    ETag: quoteEtag(object.etag),
    Size: object.size,
    Owner: withOwner ? { ...OWNER } : undefined,
    StorageClass: "STANDARD",
  }));
}

function commonPrefixes(result: ListResult, encode: (text: string) => string): XmlNode[] {
  return result.commonPrefixes.map((prefix) => ({ Prefix: encode(prefix) }));
}

export async function listObjectsV2(ctx: OpContext, bucket: string): Promise<Response> {
  const query = ctx.url.searchParams;
  const params = commonParams(query);
  // An empty token marks no position (clients send `continuation-token=` for a first page): list from the start.
  const sentToken = query.get("continuation-token") ?? undefined;
  const token = sentToken || undefined;
  const startAfter = query.get("start-after") ?? undefined;
  const result = await runList(ctx, bucket, {
    prefix: params.prefix || undefined,
    delimiter: params.delimiter,
    startAfter: token ? undefined : startAfterFor(startAfter, params),
    cursor: token,
    maxKeys: params.maxKeys,
  });
  const encode = encoderFor(params);
  const xml = buildXml("ListBucketResult", {
    Name: bucket,
    Prefix: encode(params.prefix),
    Delimiter: params.delimiter !== undefined ? encode(params.delimiter) : undefined,
    MaxKeys: params.maxKeys,
    KeyCount: result.objects.length + result.commonPrefixes.length,
    IsTruncated: result.isTruncated,
    ContinuationToken: sentToken,
    NextContinuationToken: result.isTruncated ? result.nextCursor : undefined,
    StartAfter: startAfter !== undefined ? encode(startAfter) : undefined,
    EncodingType: params.urlEncode ? "url" : undefined,
    Contents: contents(result, encode, query.get("fetch-owner") === "true"),
    CommonPrefixes: commonPrefixes(result, encode),
  });
  return xmlResponse(xml);
}

export async function listObjectsV1(ctx: OpContext, bucket: string): Promise<Response> {
  const query = ctx.url.searchParams;
  const params = commonParams(query);
  const marker = query.get("marker") ?? "";
  const result = await runList(ctx, bucket, {
    prefix: params.prefix || undefined,
    delimiter: params.delimiter,
    startAfter: startAfterFor(marker || undefined, params),
    maxKeys: params.maxKeys,
  });
  const encode = encoderFor(params);
  const xml = buildXml("ListBucketResult", {
    Name: bucket,
    // v1 echoes Prefix as sent even under encoding-type=url (botocore decodes Marker, NextMarker, Delimiter,
    // Key and CommonPrefixes but not v1's Prefix, because S3 does not encode it); v2 encodes its Prefix.
    Prefix: params.prefix,
    Marker: encode(marker),
    NextMarker: result.isTruncated ? encodeOrUndefined(lastListed(result), encode) : undefined,
    MaxKeys: params.maxKeys,
    Delimiter: params.delimiter !== undefined ? encode(params.delimiter) : undefined,
    IsTruncated: result.isTruncated,
    EncodingType: params.urlEncode ? "url" : undefined,
    Contents: contents(result, encode, true),
    CommonPrefixes: commonPrefixes(result, encode),
  });
  return xmlResponse(xml);
}

/** v1 pages by key: the next marker is the greatest key or common prefix on this page. */
function lastListed(result: ListResult): string | undefined {
  const lastKey = result.objects.at(-1)?.key;
  const lastPrefix = result.commonPrefixes.at(-1);
  if (lastKey === undefined) return lastPrefix;
  if (lastPrefix === undefined) return lastKey;
  return lastKey > lastPrefix ? lastKey : lastPrefix;
}

function encodeOrUndefined(text: string | undefined, encode: (text: string) => string): string | undefined {
  return text === undefined ? undefined : encode(text);
}
