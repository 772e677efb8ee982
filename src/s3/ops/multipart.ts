// Multipart upload operations (issue 5). Until the multipart layer is wired in here, each answers
// NotImplemented naming the operation, so clients that can fall back to a single PUT do.
import { S3Error } from "../errors";
import type { S3Op } from "../classify";
import type { OpContext } from "./context";

export type MultipartOp = Extract<S3Op, {
  kind: "CreateMultipartUpload" | "UploadPart" | "UploadPartCopy" | "CompleteMultipartUpload" | "AbortMultipartUpload"
    | "ListParts" | "ListMultipartUploads";
}>;

export async function multipartOp(_ctx: OpContext, op: MultipartOp): Promise<Response> {
  throw new S3Error("NotImplemented", `${op.kind} is not implemented yet.`);
}
