// PutObject and CopyObject: both end in one engine put(); copy reads the source through the engine (so a delta
// source is rebuilt and verified) and may cross deltaspaces and buckets.
import type { ObjectHttpHeaders, PutResult } from "../../engine/api";
import type { CopySource } from "../classify";
import { S3Error } from "../../errors";
import { buildXml, xmlDate, xmlResponse } from "../xml";
import type { OpContext } from "./context";
import {
  assertKeyLength, conditionsFrom, evaluateConditions, httpHeadersFrom, quoteEtag, STORAGE_TYPE_HEADER,
  storageTypeName, userMetadataFrom, writePrecondition,
} from "./headers";
import { openOrNoSuchKey } from "./object-read";
import { requireOwnerOnlyAclHeaders } from "./acl";
import { noteObject } from "../request-log";

/** S3's single-PUT limit (5 GiB). */
const MAX_PUT_SIZE = 5 * 1024 ** 3;

export async function putObject(ctx: OpContext, bucket: string, key: string): Promise<Response> {
  assertKeyLength(key);
  requireOwnerOnlyAclHeaders(ctx.request.headers);
  const entry = await ctx.buckets.require(bucket);
  const { verified } = ctx;
  if (verified.bodyLength === null) {
    throw new S3Error("MissingContentLength", "You must provide the Content-Length HTTP header.");
  }
  if (verified.bodyLength > MAX_PUT_SIZE) {
    throw new S3Error("EntityTooLarge", "Your proposed upload exceeds the maximum allowed size", {
      ProposedSize: String(verified.bodyLength), MaxSizeAllowed: String(MAX_PUT_SIZE),
    });
  }
  const userMetadata = userMetadataFrom(ctx.request.headers);
  const http = httpHeadersFrom(ctx.request.headers);
  const result = await ctx.engineFor(entry).put(key, {
    body: verified.body ?? new Uint8Array(0),
    size: verified.bodyLength,
    http,
    userMetadata,
    checksums: verified.checksums,
    precondition: writePrecondition(ctx.request.headers, key),
    observe: ctx.facts,
  });
  noteObject(ctx.facts, result);
  const headers = putHeaders(result);
  // Checksums are echoed as S3 does; a trailer checksum is known only now that the body has been read.
  for (const [algorithm, value] of Object.entries(verified.checksums)) {
    if (value) headers.set(`x-amz-checksum-${algorithm}`, value);
  }
  return new Response(null, { status: 200, headers });
}

function putHeaders(result: PutResult): Headers {
  return new Headers({ etag: quoteEtag(result.etag), [STORAGE_TYPE_HEADER]: storageTypeName(result.storageType) });
}

export async function copyObject(ctx: OpContext, bucket: string, key: string, source: CopySource): Promise<Response> {
  assertKeyLength(key);
  const headers = ctx.request.headers;
  requireOwnerOnlyAclHeaders(headers);
  const directive = (headers.get("x-amz-metadata-directive") ?? "COPY").toUpperCase();
  if (directive !== "COPY" && directive !== "REPLACE") {
    throw new S3Error("InvalidArgument", "Unknown metadata directive.", { ArgumentName: "x-amz-metadata-directive", ArgumentValue: directive });
  }
  const target = await ctx.buckets.require(bucket);
  const opened = await openOrNoSuchKey(ctx, source.bucket, source.key);
  evaluateConditions(conditionsFrom(headers, "x-amz-copy-source-"), opened.info, "PreconditionFailed");
  if (source.bucket === bucket && source.key === key && directive === "COPY") {
    throw new S3Error("InvalidRequest", "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.");
  }
  const replace = directive === "REPLACE";
  const http: ObjectHttpHeaders = replace ? httpHeadersFrom(headers) : opened.info.http;
  const userMetadata = replace ? userMetadataFrom(headers) : opened.info.userMetadata;
  const body = await opened.read();
  const result = await ctx.engineFor(target).put(key, {
    body,
    size: opened.info.size,
    http,
    userMetadata,
    checksums: opened.info.checksums,
    precondition: writePrecondition(headers, key),
    observe: ctx.facts,
  });
  noteObject(ctx.facts, result);
  const xml = buildXml("CopyObjectResult", { LastModified: xmlDate(new Date()), ETag: quoteEtag(result.etag) });
  const response = xmlResponse(xml);
  response.headers.set(STORAGE_TYPE_HEADER, storageTypeName(result.storageType));
  return response;
}
