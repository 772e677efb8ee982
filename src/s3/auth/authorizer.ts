// The adapter between the S3 pipeline (src/s3/handler.ts) and verifyRequest: derives the access an operation
// needs from its classified S3Op (which bucket, read or write, and read access to a copy source).
import type { S3Op } from "../classify";
import { S3Error } from "../../errors";
import type { Authorizer } from "../handler";
import { mayAccess } from "./config";
import type { AuthConfig, RequestAccess } from "./index";
import { verifyRequest } from "./verify";

const READ_OPS: ReadonlySet<S3Op["kind"]> = new Set<S3Op["kind"]>([
  "ListBuckets", "HeadBucket", "GetBucketLocation", "GetBucketVersioning", "GetBucketAcl", "GetBucketTagging", "ListObjectsV2", "ListObjects",
  "ListMultipartUploads", "GetObject", "HeadObject", "GetObjectAcl", "GetObjectTagging", "ListParts",
]);

export function accessFor(op: S3Op, method: string): RequestAccess {
  const bucket = "bucket" in op ? op.bucket : undefined;
  const write = op.kind === "Unsupported" ? !["GET", "HEAD"].includes(method) : !READ_OPS.has(op.kind);
  return { bucket, write };
}

export function s3Authorizer(config: AuthConfig): Authorizer {
  return async (request, op) => {
    const verified = await verifyRequest(request, config, accessFor(op, request.method));
    if ("source" in op && !mayAccess(config, verified.principal, op.source.bucket, false)) {
      throw new S3Error("AccessDenied", "Access Denied");
    }
    return { ...verified, mayAccess: (bucket: string, write: boolean) => mayAccess(config, verified.principal, bucket, write) };
  };
}
