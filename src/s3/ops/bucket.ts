// Bucket operations: ListBuckets, CreateBucket, HeadBucket, DeleteBucket, and the read-only sub-resources
// clients ask for (location, versioning). Bucket ACLs live in acl.ts.
import { S3Error } from "../../errors";
import { buildXml, parseXml, readSmallBody, xmlDate, xmlResponse } from "../xml";
import { OWNER, type OpContext } from "./context";
import { bucketAclRefused, requireOwnerOnlyAclHeaders } from "./acl";

const MAX_CREATE_BUCKET_BODY_BYTES = 64 * 1024;

export async function listBuckets(ctx: OpContext, visible: (bucket: string) => boolean = () => true): Promise<Response> {
  const buckets = (await ctx.buckets.list()).filter((entry) => visible(entry.name));
  const xml = buildXml("ListAllMyBucketsResult", {
    Owner: { ...OWNER },
    Buckets: { Bucket: buckets.map((entry) => ({ Name: entry.name, CreationDate: xmlDate(entry.creationDate), BucketRegion: ctx.config.region })) },
  });
  return xmlResponse(xml);
}

export async function createBucket(ctx: OpContext, bucket: string): Promise<Response> {
  requireOwnerOnlyAclHeaders(ctx.request.headers, bucketAclRefused);
  // The optional CreateBucketConfiguration (LocationConstraint) must at least be well-formed XML.
  const body = await readSmallBody(ctx.verified.body, MAX_CREATE_BUCKET_BODY_BYTES);
  if (body.trim() !== "") parseXml(body);
  await ctx.buckets.create(bucket);
  return new Response(null, { status: 200, headers: { location: `/${bucket}` } });
}

export async function headBucket(ctx: OpContext, bucket: string): Promise<Response> {
  await ctx.buckets.require(bucket);
  return new Response(null, { status: 200, headers: { "x-amz-bucket-region": ctx.config.region } });
}

export async function deleteBucket(ctx: OpContext, bucket: string): Promise<Response> {
  const entry = await ctx.buckets.require(bucket);
  ctx.buckets.assertDeletable(entry);
  // The bucket's coordinator checks emptiness and sweeps while no PUT can begin (docs/ARCHITECTURE.md "Guarantees").
  try {
    await ctx.engineFor(entry).deleteBucket();
  } catch (error) {
    if (error instanceof S3Error && !error.details.BucketName) throw new S3Error(error.code, error.message, { ...error.details, BucketName: bucket });
    throw error;
  }
  return new Response(null, { status: 204 });
}

export async function getBucketLocation(ctx: OpContext, bucket: string): Promise<Response> {
  await ctx.buckets.require(bucket);
  // AWS answers an empty LocationConstraint for us-east-1.
  const region = ctx.config.region === "us-east-1" ? "" : ctx.config.region;
  return xmlResponse(buildXml("LocationConstraint", { "#text": region }));
}

export async function getBucketVersioning(ctx: OpContext, bucket: string): Promise<Response> {
  await ctx.buckets.require(bucket);
  // Never versioned: S3 answers a configuration with no Status element.
  return xmlResponse(buildXml("VersioningConfiguration", {}));
}
