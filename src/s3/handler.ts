// The S3 request pipeline, one direction: classify → authorize/verify → operation → Response.
// Every failure becomes S3 XML here (Code, Message, Resource, RequestId = the x-amz-request-id header).
// Each answered request then writes its one log line (src/s3/request-log.ts), unless DG_LOG_REQUESTS=false.
import type { Config } from "../config";
import type { BucketEntry, BucketRegistry } from "../buckets/registry";
import type { ObjectEngine } from "../engine/api";
import { classify, OPERATIONS, type S3Op } from "./classify";
import { bytesToHex } from "../encoding";
import { S3Error } from "../errors";
import { errorResponse } from "./xml";
import { logRequest, requestLogRecord, type AnsweredRequest, type RequestFacts } from "./request-log";
import { recordDecode, recordS3Request } from "./request-metrics";
import type { RequestMetrics } from "../metrics/isolate";
import type { OpContext, VerifiedBody } from "./ops/context";
import { encodeBodyFor, getObject } from "./ops/object-read";
import { copyObject, putObject } from "./ops/object-write";
import { deleteObject, deleteObjects } from "./ops/delete";
import { listObjectsV1, listObjectsV2 } from "./ops/list";
import {
  createBucket, deleteBucket, getBucketLocation, getBucketVersioning, headBucket, listBuckets,
} from "./ops/bucket";
import { getBucketAcl, getObjectAcl, putBucketAcl, putObjectAcl } from "./ops/acl";
import { multipartOp } from "./ops/multipart";
import { getBucketTagging, getObjectTagging } from "./ops/tagging";

/** The authentication step: proves the request may run `op`, and hands on its (decoded, verified) body. */
export interface Authorization extends VerifiedBody {
  /** Filters ListBuckets to the buckets this principal may see. */
  mayList?(bucket: string): boolean;
  /** Nobody signed the request (a read of a DG_ANONYMOUS_READ_BUCKETS bucket). */
  anonymous?: boolean;
}
export type Authorizer = (request: Request, op: S3Op) => Promise<Authorization>;

export interface S3Services {
  config: Config;
  buckets: BucketRegistry;
  engineFor(bucket: BucketEntry): ObjectEngine;
  authorize: Authorizer;
  /** The isolate's metrics as this request records into them (src/metrics/; absent without DG_METRICS). */
  metrics?: RequestMetrics;
}

export async function handleS3(request: Request, services: S3Services): Promise<Response> {
  const startedAt = Date.now();
  const requestId = newRequestId();
  const url = new URL(request.url);
  const metrics = services.metrics;
  const facts: RequestFacts = metrics ? { decoded: (ms) => recordDecode(metrics, ms) } : {};
  let op: S3Op | undefined;
  let verified: Authorization | undefined;
  let failure: S3Error | undefined;
  let response: Response;
  try {
    op = classify(request, { virtualHostDomains: services.config.virtualHostDomains });
    verified = await services.authorize(request, op);
    if (!OPERATIONS[op.kind].readsBody) await verifyUnusedBody(request, verified);
    const ctx: OpContext = { ...services, request, url, verified, requestId, anonymous: verified.anonymous === true, facts };
    response = await runOp(ctx, op, verified);
  } catch (error) {
    failure = asS3Error(error, verified);
    response = errorResponse(failure, resourceOf(url), requestId, request.method);
    if (response.status === 416) addUnsatisfiedRange(response, error);
  }
  const identified = withRequestId(response, requestId);
  const answered: AnsweredRequest = {
    requestId, method: request.method, op, response: identified, code: failure?.code, facts, startedAt,
    bytesIn: failure ? undefined : verified?.bodyLength ?? 0,
  };
  if (services.config.logs.requests) logRequest(requestLogRecord(answered));
  if (metrics) recordS3Request(metrics, answered);
  return identified;
}

/** Reads a body the operation will not use to its end, so its checks run; a failure throws its S3Error. */
async function verifyUnusedBody(request: Request, verified: Authorization): Promise<void> {
  // A body handed on untouched has nothing to verify.
  if (!verified.body || verified.body === request.body) return;
  const reader = verified.body.getReader();
  while (!(await reader.read()).done) {
    // Only the checks matter; the bytes are dropped.
  }
}

/** Exhaustive over S3Op: adding an operation to classify.ts without handling it here does not compile. */
function runOp(ctx: OpContext, op: S3Op, auth: Authorization): Promise<Response> {
  switch (op.kind) {
    case "ListBuckets": return listBuckets(ctx, auth.mayList);
    case "CreateBucket": return createBucket(ctx, op.bucket);
    case "HeadBucket": return headBucket(ctx, op.bucket);
    case "DeleteBucket": return deleteBucket(ctx, op.bucket);
    case "GetBucketLocation": return getBucketLocation(ctx, op.bucket);
    case "GetBucketVersioning": return getBucketVersioning(ctx, op.bucket);
    case "GetBucketAcl": return getBucketAcl(ctx, op.bucket);
    case "GetBucketTagging": return getBucketTagging(ctx, op.bucket);
    case "PutBucketAcl": return putBucketAcl(ctx, op.bucket);
    case "ListObjectsV2": return listObjectsV2(ctx, op.bucket);
    case "ListObjects": return listObjectsV1(ctx, op.bucket);
    case "DeleteObjects": return deleteObjects(ctx, op.bucket);
    case "GetObject": return getObject(ctx, op.bucket, op.key, "GET");
    case "HeadObject": return getObject(ctx, op.bucket, op.key, "HEAD");
    case "PutObject": return putObject(ctx, op.bucket, op.key);
    case "CopyObject": return copyObject(ctx, op.bucket, op.key, op.source);
    case "DeleteObject": return deleteObject(ctx, op.bucket, op.key);
    case "GetObjectAcl": return getObjectAcl(ctx, op.bucket, op.key);
    case "GetObjectTagging": return getObjectTagging(ctx, op.bucket, op.key);
    case "PutObjectAcl": return putObjectAcl(ctx, op.bucket, op.key);
    case "CreateMultipartUpload":
    case "UploadPart":
    case "UploadPartCopy":
    case "CompleteMultipartUpload":
    case "AbortMultipartUpload":
    case "ListParts":
    case "ListMultipartUploads":
      return multipartOp(ctx, op);
    case "Unsupported":
      throw new S3Error("NotImplemented", `A header or query you provided implies functionality that is not implemented (${op.name}).`);
    default:
      return assertNever(op);
  }
}

function assertNever(op: never): never {
  throw new Error(`unhandled S3 operation ${JSON.stringify(op)}`);
}

/**
 * A storage or stream failure caused by a bad body (bad checksum, short body) surfaces from R2 as a generic
 * error; the verifier remembers the S3 reason. Anything else unexpected is an InternalError (and is logged).
 */
function asS3Error(error: unknown, verified: Authorization | undefined): S3Error {
  if (error instanceof S3Error) return error;
  const bodyError = verified?.bodyError();
  if (bodyError) return bodyError;
  console.error("S3 request failed:", error);
  return new S3Error("InternalError", "We encountered an internal error. Please try again.");
}

function resourceOf(url: URL): string {
  return url.pathname;
}

function addUnsatisfiedRange(response: Response, error: unknown): void {
  const size = error instanceof S3Error ? error.details.ActualObjectSize : undefined;
  if (size !== undefined) response.headers.set("content-range", `bytes */${size}`);
}

function withRequestId(response: Response, requestId: string): Response {
  try {
    setIdentity(response.headers, requestId);
    return response;
  } catch {
    // A Response passed through from fetch() has immutable headers: re-wrap it once.
    const mutable = new Response(response.body, { status: response.status, statusText: response.statusText, headers: response.headers, encodeBody: encodeBodyFor(response.headers) });
    setIdentity(mutable.headers, requestId);
    return mutable;
  }
}

function setIdentity(headers: Headers, requestId: string): void {
  headers.set("x-amz-request-id", requestId);
  headers.set("x-amz-id-2", requestId);
  headers.set("server", "DeltaGlider");
}

function newRequestId(): string {
  return bytesToHex(crypto.getRandomValues(new Uint8Array(8))).toUpperCase();
}

/**
 * Used until the authentication layer (src/s3/auth) is wired: no signature check, the body as sent with its
 * Content-Length. It never decodes aws-chunked framing; that is the auth layer's job.
 */
export const acceptWithoutAuthentication: Authorizer = async (request) => {
  const length = request.headers.get("content-length");
  return {
    body: request.body,
    bodyLength: length !== null && /^\d+$/.test(length) ? Number(length) : request.body ? null : 0,
    checksums: {},
    bodyError: () => undefined,
  };
};
