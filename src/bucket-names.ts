// S3 bucket naming rules (general purpose buckets), as AWS documents them. At the bottom of the import graph
// (only errors.ts below it): configuration, the remote-S3 backend settings and the bucket registry all check names.
import { S3Error } from "./errors";

const SHAPE = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;
const RESERVED_PREFIXES = ["xn--", "sthree-", "amzn-s3-demo-"];
const RESERVED_SUFFIXES = ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"];

export function isValidBucketName(name: string): boolean {
  return SHAPE.test(name)
    && !name.includes("..")
    && !name.includes(".-")
    && !name.includes("-.")
    && !IPV4.test(name)
    && !RESERVED_PREFIXES.some((p) => name.startsWith(p))
    && !RESERVED_SUFFIXES.some((s) => name.endsWith(s));
}

export function assertValidBucketName(name: string): void {
  if (!isValidBucketName(name)) {
    throw new S3Error("InvalidBucketName", "The specified bucket is not valid.", { BucketName: name });
  }
}
