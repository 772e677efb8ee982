// The adapter between the S3 pipeline (src/s3/handler.ts) and verifyRequest: derives the access an operation
// needs from its classified S3Op (which bucket; read or write from the OPERATIONS table beside the
// classification; read access to a copy source) and hands the handler the ListBuckets filter of the principal.
import { needsWrite, type S3Op } from "../classify";
import { S3Error } from "../../errors";
import type { Authorizer } from "../handler";
import { mayAccess } from "./config";
import type { AuthConfig, RequestAccess } from "./index";
import { verifyRequest } from "./verify";

export function accessFor(op: S3Op, method: string): RequestAccess {
  const bucket = "bucket" in op ? op.bucket : undefined;
  return { bucket, write: needsWrite(op, method) };
}

export function s3Authorizer(config: AuthConfig): Authorizer {
  return async (request, op) => {
    const verified = await verifyRequest(request, config, accessFor(op, request.method));
    const { principal } = verified;
    if ("source" in op && !mayAccess(config, principal, op.source.bucket, false)) {
      throw new S3Error("AccessDenied", "Access Denied");
    }
    // A key restricted to some buckets sees only those in ListBuckets, as S3 shows an IAM user only what it may read.
    return {
      ...verified,
      mayList: (bucket: string) => mayAccess(config, principal, bucket, false),
      anonymous: "anonymous" in principal,
    };
  };
}
