// GetObject and HeadObject: conditional requests, byte ranges, parts (`?partNumber=`), response-* overrides,
// checksums on request.
import type { ChecksumAlgorithm, ObjectInfo, OpenedObject, OpenOptions, ResolvedRange } from "../../engine/api";
import { MAX_PART_NUMBER } from "../../multipart";
import { S3Error } from "../../errors";
import type { OpContext } from "./context";
import { noteObject } from "../request-log";
import { applyResponseOverrides, assertKeyLength, assertOverridesAllowed, conditionsFrom, evaluateConditions, objectHeaders, resolveRange } from "./headers";

export async function getObject(ctx: OpContext, bucket: string, key: string, method: "GET" | "HEAD"): Promise<Response> {
  if (method === "GET") assertOverridesAllowed(ctx.url.searchParams, ctx.anonymous);
  assertKeyLength(key); // the backend would refuse such a key with an error of its own (a 500)
  const entry = await ctx.buckets.require(bucket);
  // A GET has the engine fetch a delta's body with its metadata (one backend read); HEAD reads metadata only.
  // withObject resolves the key again when an overwrite lands between resolving and reading it, and discards
  // the body when no read() took it (HEAD, 304/412, a bad range).
  const response = await ctx.engineFor(entry).withObject(key, { forRead: method === "GET", observe: ctx.facts }, (opened) => respond(ctx, opened, method));
  if (!response) throw new S3Error("NoSuchKey", "The specified key does not exist.", { Key: key });
  return response;
}

async function respond(ctx: OpContext, opened: OpenedObject, method: "GET" | "HEAD"): Promise<Response> {
  const { info } = opened;
  noteObject(ctx.facts, info);
  const headers = objectHeaders(info);
  try {
    evaluateConditions(conditionsFrom(ctx.request.headers), info);
  } catch (error) {
    if (error instanceof S3Error && error.code === "NotModified") {
      return new Response(null, { status: 304, headers: notModifiedHeaders(headers) });
    }
    throw error;
  }
  if (method === "GET") applyResponseOverrides(headers, ctx.url.searchParams);
  const part = selectedPart(ctx, info);
  const range = part ? part.range : resolveRange(ctx.request.headers.get("range"), info.size);
  if (!range && ctx.request.headers.get("x-amz-checksum-mode")?.toUpperCase() === "ENABLED") {
    addChecksumHeaders(headers, info.checksums);
  }
  if (part?.count !== undefined) headers.set("x-amz-mp-parts-count", String(part.count));
  const length = range ? range.end - range.start + 1 : part?.count !== undefined ? 0 : info.size;
  headers.set("content-length", String(length));
  const status = range || part?.count !== undefined ? 206 : 200;
  if (range) headers.set("content-range", `bytes ${range.start}-${range.end}/${info.size}`);
  if (method === "HEAD") return new Response(null, { status, headers });
  if (!range && length === 0) return new Response("", { status, headers }); // an empty part of a multipart object
  return new Response(await bodyOfLength(opened, range, length), { status, headers, encodeBody: encodeBodyFor(headers) });
}

/**
 * `?partNumber=N`: the bytes of part N of a multipart object (`count` = its number of parts, sent as
 * x-amz-mp-parts-count), or, for an object stored by a single PUT, part 1 = the whole object (no range, no
 * count). Part numbers beyond the object's parts are 416 InvalidPartNumber; a Range as well is 400.
 */
function selectedPart(ctx: OpContext, info: ObjectInfo): { range?: ResolvedRange; count?: number } | undefined {
  const value = ctx.url.searchParams.get("partNumber");
  if (value === null) return undefined;
  const partNumber = /^\d{1,5}$/.test(value) ? Number(value) : NaN;
  if (!(partNumber >= 1 && partNumber <= MAX_PART_NUMBER)) {
    throw new S3Error("InvalidArgument", `Part number must be an integer between 1 and ${MAX_PART_NUMBER}, inclusive`, {
      ArgumentName: "partNumber", ArgumentValue: value,
    });
  }
  if (ctx.request.headers.has("range")) {
    throw new S3Error("InvalidRequest", "Cannot specify both Range header and partNumber query parameter");
  }
  const sizes = partSizesOf(info);
  if (partNumber > (sizes?.length ?? 1)) {
    throw new S3Error("InvalidPartNumber", "The requested partnumber is not satisfiable", { PartNumberRequested: value, ActualPartCount: String(sizes?.length ?? 1) });
  }
  if (!sizes) return {};
  const start = sizes.slice(0, partNumber - 1).reduce((sum, size) => sum + size, 0);
  const size = sizes[partNumber - 1];
  return { range: size > 0 ? { start, end: start + size - 1 } : undefined, count: sizes.length };
}

/**
 * The part sizes of a multipart object, when recorded and consistent with its size. An object whose ETag says
 * it has several parts but whose sizes were not recorded (written before they were, or too many distinct
 * sizes to record) cannot be cut into parts: NotImplemented rather than wrong bytes.
 */
function partSizesOf(info: ObjectInfo): number[] | undefined {
  const count = /-(\d+)$/.exec(info.etag)?.[1];
  if (count === undefined) return undefined;
  const sizes = info.partSizes;
  if (sizes && sizes.length === Number(count) && sizes.reduce((sum, size) => sum + size, 0) === info.size) return sizes;
  if (count === "1") return [info.size];
  throw new S3Error("NotImplemented", "The part sizes of this multipart object were not recorded; read it with a Range instead of partNumber.");
}

/**
 * The stored bytes are already in their Content-Encoding (the client uploaded them gzipped, say): a Worker
 * would otherwise compress the body to match that header (or, if the client does not accept it, decode it and
 * drop the header), serving different bytes than were stored. "manual" sends them as they are.
 */
export function encodeBodyFor(headers: Headers): "manual" | "automatic" {
  return headers.has("content-encoding") ? "manual" : "automatic";
}

export async function openOrNoSuchKey(ctx: OpContext, bucket: string, key: string, options: OpenOptions = {}): Promise<OpenedObject> {
  assertKeyLength(key); // the backend would refuse such a key with an error of its own (a 500)
  const entry = await ctx.buckets.require(bucket);
  const opened = await ctx.engineFor(entry).open(key, options);
  if (!opened) throw new S3Error("NoSuchKey", "The specified key does not exist.", { Key: key });
  return opened;
}

/** A 304 carries the validators and caching headers only. */
function notModifiedHeaders(headers: Headers): Headers {
  const kept = new Headers();
  for (const name of ["etag", "last-modified", "cache-control", "expires", "x-amz-storage-type"]) {
    const value = headers.get(name);
    if (value !== null) kept.set(name, value);
  }
  return kept;
}

function addChecksumHeaders(headers: Headers, checksums: Partial<Record<ChecksumAlgorithm, string>>): void {
  for (const [algorithm, value] of Object.entries(checksums)) {
    if (value) headers.set(`x-amz-checksum-${algorithm}`, value);
  }
}

/**
 * The engine's stream, declared with its exact length so the client gets Content-Length (not chunked), and so a
 * stream that errors part-way (e.g. a failed SHA-256 check of a rebuilt delta) aborts the response instead of
 * completing it with missing bytes.
 */
async function bodyOfLength(opened: OpenedObject, range: { start: number; end: number } | undefined, length: number) {
  const stream = await opened.read(range);
  const { readable, writable } = new FixedLengthStream(length);
  stream.pipeTo(writable).catch(() => {
    // The error has already aborted `readable`; the client sees a truncated response, never a complete wrong one.
  });
  return readable;
}
