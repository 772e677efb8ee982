// Tagging sub-resources, read-only: we store no tags. GetObjectTagging answers an empty TagSet (aws-cli asks for
// the source's tags before every bucket-side copy), GetBucketTagging answers NoSuchTagSet as S3 does for a bucket
// without tags. Put/DeleteObjectTagging and Put/DeleteBucketTagging stay NotImplemented (see classify.ts).
import { S3Error } from "../../errors";
import { buildXml, xmlResponse } from "../xml";
import type { OpContext } from "./context";
import { openOrNoSuchKey } from "./object-read";

export async function getObjectTagging(ctx: OpContext, bucket: string, key: string): Promise<Response> {
  await openOrNoSuchKey(ctx, bucket, key);
  return xmlResponse(buildXml("Tagging", { TagSet: {} }));
}

export async function getBucketTagging(ctx: OpContext, bucket: string): Promise<Response> {
  await ctx.buckets.require(bucket);
  throw new S3Error("NoSuchTagSet", "The TagSet does not exist", { BucketName: bucket });
}
