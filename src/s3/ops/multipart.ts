// Multipart upload operations over HTTP: CreateMultipartUpload, UploadPart, UploadPartCopy,
// CompleteMultipartUpload, AbortMultipartUpload, ListParts, ListMultipartUploads, with the XML shapes AWS
// documents. The state machine lives in src/multipart (stateless: everything is read from the backend).
import type { ChecksumAlgorithm, ResolvedRange } from "../../engine/api";
import { parseUserKey } from "../../engine/deltaspace";
import {
  type ChecksumType, type CompletePartInput, type CompleteResult, MultipartUploads, type PartChecksums, type StagedPart,
} from "../../multipart";
import type { CopySource, S3Op } from "../classify";
import { S3Error } from "../../errors";
import { buildXml, errorXml, parseXml, readSmallBody, xmlDate, xmlResponse, type XmlNode } from "../xml";
import { OWNER, type OpContext } from "./context";
import { conditionsFrom, evaluateConditions, httpHeadersFrom, quoteEtag, userMetadataFrom, writePrecondition } from "./headers";
import { openOrNoSuchKey } from "./object-read";
import { requireOwnerOnlyAclHeaders } from "./acl";
import { recordWrite } from "../request-metrics";

export type MultipartOp = Extract<S3Op, {
  kind: "CreateMultipartUpload" | "UploadPart" | "UploadPartCopy" | "CompleteMultipartUpload" | "AbortMultipartUpload"
    | "ListParts" | "ListMultipartUploads";
}>;

/** How often CompleteMultipartUpload sends a space while the object is assembled (clients time out idle reads). */
export const KEEP_ALIVE_INTERVAL_MS = 5_000;
/** A Complete body lists at most 10,000 parts of ~250 bytes each. */
const COMPLETE_BODY_LIMIT = 4 * 1024 * 1024;
const CHECKSUM_ALGORITHMS: readonly ChecksumAlgorithm[] = ["crc32", "crc32c", "crc64nvme", "sha1", "sha256"];

export async function multipartOp(ctx: OpContext, op: MultipartOp): Promise<Response> {
  switch (op.kind) {
    case "CreateMultipartUpload": return createUpload(ctx, op.bucket, op.key);
    case "UploadPart": return uploadPart(ctx, op.bucket, op.key, op.uploadId, op.partNumber);
    case "UploadPartCopy": return uploadPartCopy(ctx, op.bucket, op.key, op.uploadId, op.partNumber, op.source);
    case "CompleteMultipartUpload": return completeUpload(ctx, op.bucket, op.key, op.uploadId);
    case "AbortMultipartUpload": return abortUpload(ctx, op.bucket, op.key, op.uploadId);
    case "ListParts": return listParts(ctx, op.bucket, op.key, op.uploadId);
    case "ListMultipartUploads": return listUploads(ctx, op.bucket);
  }
}

async function uploadsFor(ctx: OpContext, bucket: string): Promise<MultipartUploads> {
  const entry = await ctx.buckets.require(bucket);
  return new MultipartUploads(entry.backend, ctx.engineFor(entry));
}

async function createUpload(ctx: OpContext, bucket: string, key: string): Promise<Response> {
  parseUserKey(key); // a reserved or over-long key is refused now, not after every part was sent
  const headers = ctx.request.headers;
  requireOwnerOnlyAclHeaders(headers);
  const checksumAlgorithm = checksumAlgorithmFrom(headers.get("x-amz-checksum-algorithm"));
  const checksumType = checksumTypeFrom(headers.get("x-amz-checksum-type"), checksumAlgorithm);
  const uploads = await uploadsFor(ctx, bucket);
  const state = await uploads.create(key, {
    http: httpHeadersFrom(headers),
    userMetadata: userMetadataFrom(headers),
    checksumAlgorithm,
    checksumType,
  });
  const response = xmlResponse(buildXml("InitiateMultipartUploadResult", {
    Bucket: bucket, Key: key, UploadId: state.uploadId,
  }));
  if (checksumAlgorithm) response.headers.set("x-amz-checksum-algorithm", checksumAlgorithm.toUpperCase());
  if (checksumType) response.headers.set("x-amz-checksum-type", checksumType);
  return response;
}

async function uploadPart(ctx: OpContext, bucket: string, key: string, uploadId: string, partNumber: number): Promise<Response> {
  const { verified } = ctx;
  if (verified.bodyLength === null) {
    throw new S3Error("MissingContentLength", "You must provide the Content-Length HTTP header.");
  }
  const uploads = await uploadsFor(ctx, bucket);
  const part = await uploads.uploadPart(key, uploadId, partNumber, {
    body: verified.body ?? new Uint8Array(0),
    size: verified.bodyLength,
    contentMd5: ctx.request.headers.get("content-md5") ?? undefined,
    checksums: presentChecksums(verified.checksums),
    // A trailer checksum is filled into verified.checksums only once the body has been read to its end.
    lateChecksums: () => presentChecksums(verified.checksums),
  });
  const headers = new Headers({ etag: quoteEtag(part.etag) });
  for (const [algorithm, value] of Object.entries(part.checksums)) {
    if (value) headers.set(`x-amz-checksum-${algorithm}`, value);
  }
  return new Response(null, { status: 200, headers });
}

async function uploadPartCopy(
  ctx: OpContext, bucket: string, key: string, uploadId: string, partNumber: number, source: CopySource,
): Promise<Response> {
  const uploads = await uploadsFor(ctx, bucket);
  const opened = await openOrNoSuchKey(ctx, source.bucket, source.key);
  const headers = ctx.request.headers;
  evaluateConditions(conditionsFrom(headers, "x-amz-copy-source-"), opened.info, "PreconditionFailed");
  const range = copySourceRange(headers.get("x-amz-copy-source-range"), opened.info.size);
  const part = await uploads.uploadPartCopy(key, uploadId, partNumber, opened, range);
  return xmlResponse(buildXml("CopyPartResult", { LastModified: xmlDate(part.lastModified), ETag: quoteEtag(part.etag) }));
}

async function completeUpload(ctx: OpContext, bucket: string, key: string, uploadId: string): Promise<Response> {
  const requested = parseCompleteBody(await readSmallBody(ctx.verified.body, COMPLETE_BODY_LIMIT));
  const uploads = await uploadsFor(ctx, bucket);
  await checkOverwriteConditions(ctx, bucket, key);
  // Everything that can be refused cheaply is refused here, with its own HTTP status.
  const prepared = await uploads.prepareComplete(key, uploadId, requested, writePrecondition(ctx.request.headers, key));
  const resource = ctx.url.pathname;
  return keepAliveXmlResponse(async () => {
    try {
      const result = await prepared.finish();
      if (result.stored) recordWrite(ctx.metrics, result.stored);
      return completeXml(bucket, key, ctx.url, result);
    } catch (error) {
      const s3Error = error instanceof S3Error ? error : internalError(error);
      return errorXml(s3Error, resource, ctx.requestId);
    }
  }, KEEP_ALIVE_INTERVAL_MS);
}

/**
 * S3's answer to a long CompleteMultipartUpload: 200 and the XML declaration at once, a space every
 * `intervalMs` while `work` runs (so neither the client nor a proxy drops an idle connection), then the
 * result document — or an <Error> document, which AWS SDKs and the CLI recognise inside a 200.
 */
export function keepAliveXmlResponse(work: () => Promise<string>, intervalMs: number): Response {
  const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
  const writer = writable.getWriter();
  const encoder = new TextEncoder();
  const send = (text: string) => writer.write(encoder.encode(text)).catch(() => {}); // client gone: keep working
  void send('<?xml version="1.0" encoding="UTF-8"?>\n');
  const timer = setInterval(() => void send(" "), intervalMs);
  void (async () => {
    let body: string;
    try {
      body = await work();
    } catch (error) {
      body = errorXml(error instanceof S3Error ? error : internalError(error), "", "");
    } finally {
      clearInterval(timer);
    }
    await send(withoutDeclaration(body));
    await writer.close().catch(() => {});
  })();
  return new Response(readable, { status: 200, headers: { "content-type": "application/xml" } });
}

async function abortUpload(ctx: OpContext, bucket: string, key: string, uploadId: string): Promise<Response> {
  await (await uploadsFor(ctx, bucket)).abort(key, uploadId);
  return new Response(null, { status: 204 });
}

async function listParts(ctx: OpContext, bucket: string, key: string, uploadId: string): Promise<Response> {
  const query = ctx.url.searchParams;
  const maxParts = boundedInteger(query.get("max-parts"), "max-parts", 1000);
  const marker = boundedInteger(query.get("part-number-marker"), "part-number-marker", 0, 0);
  const encode = encoderFor(query);
  const uploads = await uploadsFor(ctx, bucket);
  const result = await uploads.listParts(key, uploadId, marker, maxParts);
  const upload = result.upload;
  const xml = buildXml("ListPartsResult", {
    Bucket: bucket,
    Key: encode(key),
    UploadId: uploadId,
    Initiator: { ...OWNER },
    Owner: { ...OWNER },
    StorageClass: "STANDARD",
    PartNumberMarker: marker,
    NextPartNumberMarker: result.parts.at(-1)?.partNumber ?? marker,
    MaxParts: maxParts,
    IsTruncated: result.isTruncated,
    EncodingType: query.get("encoding-type") === "url" ? "url" : undefined,
    ChecksumAlgorithm: upload.checksumAlgorithm?.toUpperCase(),
    ChecksumType: upload.checksumType,
    Part: result.parts.map(partXml),
  });
  return xmlResponse(xml);
}

async function listUploads(ctx: OpContext, bucket: string): Promise<Response> {
  const query = ctx.url.searchParams;
  const maxUploads = boundedInteger(query.get("max-uploads"), "max-uploads", 1000);
  const prefix = query.get("prefix") ?? "";
  const delimiter = query.get("delimiter") || undefined;
  const keyMarker = query.get("key-marker") ?? "";
  const uploadIdMarker = query.get("upload-id-marker") ?? "";
  const encode = encoderFor(query);
  const uploads = await uploadsFor(ctx, bucket);
  const result = await uploads.listUploads({
    prefix, delimiter, keyMarker: keyMarker || undefined, uploadIdMarker: uploadIdMarker || undefined, maxUploads,
  });
  const xml = buildXml("ListMultipartUploadsResult", {
    Bucket: bucket,
    KeyMarker: encode(keyMarker),
    UploadIdMarker: uploadIdMarker,
    NextKeyMarker: encode(result.nextKeyMarker ?? ""),
    NextUploadIdMarker: result.nextUploadIdMarker ?? "",
    Delimiter: delimiter !== undefined ? encode(delimiter) : undefined,
    Prefix: encode(prefix),
    MaxUploads: maxUploads,
    IsTruncated: result.isTruncated,
    EncodingType: query.get("encoding-type") === "url" ? "url" : undefined,
    Upload: result.uploads.map((upload) => ({
      Key: encode(upload.key),
      UploadId: upload.uploadId,
      Initiator: { ...OWNER },
      Owner: { ...OWNER },
      StorageClass: "STANDARD",
      Initiated: xmlDate(new Date(upload.initiated)),
    })),
    CommonPrefixes: result.commonPrefixes.map((commonPrefix) => ({ Prefix: encode(commonPrefix) })),
  });
  return xmlResponse(xml);
}

function partXml(part: StagedPart): XmlNode {
  return {
    PartNumber: part.partNumber,
    LastModified: xmlDate(part.lastModified),
    ETag: quoteEtag(part.etag),
    Size: part.size,
    ...checksumElements(part.checksums),
  };
}

function completeXml(bucket: string, key: string, url: URL, result: CompleteResult): string {
  return buildXml("CompleteMultipartUploadResult", {
    Location: `${url.origin}/${bucket}/${key.split("/").map(encodeURIComponent).join("/")}`,
    Bucket: bucket,
    Key: key,
    ETag: quoteEtag(result.etag),
    ...checksumElements(result.checksums),
    ChecksumType: result.checksumType,
  });
}

/** `ChecksumCRC32`, `ChecksumCRC32C`, `ChecksumCRC64NVME`, `ChecksumSHA1`, `ChecksumSHA256` elements. */
function checksumElements(checksums: PartChecksums): Record<string, string> {
  const elements: Record<string, string> = {};
  for (const algorithm of CHECKSUM_ALGORITHMS) {
    const value = checksums[algorithm];
    if (value) elements[`Checksum${algorithm.toUpperCase()}`] = value;
  }
  return elements;
}

/** The `<CompleteMultipartUpload>` request body → ordered part list (order is checked by the store). */
export function parseCompleteBody(text: string): CompletePartInput[] {
  const root = parseXml(text).CompleteMultipartUpload;
  if (root === undefined) throw malformedXml();
  const parts = (root && typeof root === "object" ? (root as { Part?: unknown[] }).Part : undefined) ?? [];
  return parts.map((element) => {
    if (!element || typeof element !== "object") throw malformedXml();
    const fields = element as Record<string, unknown>;
    const partNumber = String(fields.PartNumber ?? "").trim();
    const etag = String(fields.ETag ?? "").trim();
    if (!/^\d+$/.test(partNumber) || etag === "") throw malformedXml();
    const checksums: PartChecksums = {};
    for (const algorithm of CHECKSUM_ALGORITHMS) {
      const value = fields[`Checksum${algorithm.toUpperCase()}`];
      if (typeof value === "string" && value.trim() !== "") checksums[algorithm] = value.trim();
    }
    return { partNumber: Number(partNumber), etag, checksums };
  });
}

/**
 * S3 honours If-None-Match: * (and If-Match) on CompleteMultipartUpload to avoid overwriting an object. Checked
 * here first (a refusal gets its own status before the long work starts) and again atomically by the engine.
 */
async function checkOverwriteConditions(ctx: OpContext, bucket: string, key: string): Promise<void> {
  const precondition = writePrecondition(ctx.request.headers, key);
  if (!precondition) return;
  const entry = await ctx.buckets.require(bucket);
  const existing = await ctx.engineFor(entry).open(key);
  precondition(existing?.info ?? null);
}

/** `x-amz-copy-source-range: bytes=first-last`, both offsets required (InvalidArgument) and inside the source (InvalidRange). */
function copySourceRange(header: string | null, size: number): ResolvedRange | undefined {
  if (header === null) return undefined;
  const match = /^bytes=(\d+)-(\d+)$/.exec(header.trim());
  if (!match) {
    throw new S3Error("InvalidArgument", "The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy", {
      ArgumentName: "x-amz-copy-source-range", ArgumentValue: header,
    });
  }
  const start = Number(match[1]);
  const end = Number(match[2]);
  if (start > end) {
    throw new S3Error("InvalidArgument", `Range specified is not valid for source object of size: ${size}`, {
      ArgumentName: "x-amz-copy-source-range", ArgumentValue: header,
    });
  }
  if (end >= size) {
    // A well-formed range that reaches past the source's end: S3's 416 InvalidRange, as for a GET.
    throw new S3Error("InvalidRange", "The requested range is not satisfiable", {
      RangeRequested: header, ActualObjectSize: String(size),
    });
  }
  return { start, end };
}

function checksumAlgorithmFrom(value: string | null): ChecksumAlgorithm | undefined {
  if (value === null || value === "") return undefined;
  const algorithm = value.toLowerCase() as ChecksumAlgorithm;
  if (!CHECKSUM_ALGORITHMS.includes(algorithm)) {
    throw new S3Error("InvalidRequest", "Checksum algorithm provided is unsupported. Please try again with any of the valid types: [CRC32, CRC32C, CRC64NVME, SHA1, SHA256]");
  }
  return algorithm;
}

function checksumTypeFrom(value: string | null, algorithm: ChecksumAlgorithm | undefined): ChecksumType | undefined {
  if (value === null || value === "") return algorithm === "crc64nvme" ? "FULL_OBJECT" : algorithm ? "COMPOSITE" : undefined;
  const type = value.toUpperCase();
  if (type !== "COMPOSITE" && type !== "FULL_OBJECT") {
    throw new S3Error("InvalidRequest", "Value for x-amz-checksum-type header is invalid.");
  }
  if (!algorithm) throw new S3Error("InvalidRequest", "The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header.");
  return type;
}

function presentChecksums(checksums: PartChecksums): PartChecksums {
  return Object.fromEntries(Object.entries(checksums).filter(([, value]) => !!value));
}

function boundedInteger(value: string | null, name: string, fallback: number, min = 0): number {
  if (value === null || value === "") return fallback;
  if (!/^\d+$/.test(value) || Number(value) < min) {
    throw new S3Error("InvalidArgument", `Provided ${name} not an integer or within integer range`, { ArgumentName: name, ArgumentValue: value });
  }
  return Math.min(Number(value), 1000);
}

function encoderFor(query: URLSearchParams): (text: string) => string {
  const encodingType = query.get("encoding-type");
  if (encodingType !== null && encodingType !== "url") {
    throw new S3Error("InvalidArgument", "Invalid Encoding Method specified in Request", { ArgumentName: "encoding-type", ArgumentValue: encodingType });
  }
  return encodingType === "url" ? (text) => encodeURIComponent(text).replace(/%2F/g, "/") : (text) => text;
}

function withoutDeclaration(xml: string): string {
  return xml.replace(/^<\?xml[^>]*\?>\s*/, "");
}

function malformedXml(): S3Error {
  return new S3Error("MalformedXML", "The XML you provided was not well-formed or did not validate against our published schema.");
}

function internalError(error: unknown): S3Error {
  console.error("CompleteMultipartUpload failed:", error);
  return new S3Error("InternalError", "We encountered an internal error. Please try again.");
}
