// ACLs, as on an S3 bucket with Object Ownership "bucket owner enforced" (S3's default since 2023): ACLs are
// disabled and the one owner has FULL_CONTROL of every bucket and object. Reads answer that ACL. Writes accept
// only an ACL that says the same — canned `private` or `bucket-owner-full-control` (identical with one owner), or
// an AccessControlPolicy granting only the owner FULL_CONTROL — and refuse any other ACL as S3 does, so a client
// asking for public-read learns that it did not get it instead of being silently ignored.
import { S3Error } from "../../errors";
import { buildXml, parseXml, readSmallBody, xmlResponse } from "../xml";
import { OWNER, type OpContext } from "./context";
import { openOrNoSuchKey } from "./object-read";

const MAX_ACL_BODY_BYTES = 64 * 1024;

/** S3's canned ACLs (x-amz-acl); anything else is not an ACL at all. */
const CANNED_ACLS = [
  "private", "public-read", "public-read-write", "authenticated-read", "aws-exec-read", "bucket-owner-read",
  "bucket-owner-full-control", "log-delivery-write",
] as const;
/** The canned ACLs that grant the owner FULL_CONTROL and nobody anything: what an ACL-less bucket has anyway. */
const OWNER_ONLY_CANNED_ACLS: readonly string[] = ["private", "bucket-owner-full-control"];
const GRANT_HEADERS = ["x-amz-grant-full-control", "x-amz-grant-read", "x-amz-grant-read-acp", "x-amz-grant-write", "x-amz-grant-write-acp"];

export async function getBucketAcl(ctx: OpContext, bucket: string): Promise<Response> {
  await ctx.buckets.require(bucket);
  return xmlResponse(privateAcl());
}

export async function getObjectAcl(ctx: OpContext, bucket: string, key: string): Promise<Response> {
  await openOrNoSuchKey(ctx, bucket, key);
  return xmlResponse(privateAcl());
}

export async function putBucketAcl(ctx: OpContext, bucket: string): Promise<Response> {
  await requireOwnerOnlyAclRequest(ctx);
  await ctx.buckets.require(bucket);
  return new Response(null, { status: 200 });
}

export async function putObjectAcl(ctx: OpContext, bucket: string, key: string): Promise<Response> {
  await requireOwnerOnlyAclRequest(ctx);
  await openOrNoSuchKey(ctx, bucket, key);
  return new Response(null, { status: 200 });
}

/**
 * The ACL headers an object or bucket write may carry (PutObject, CopyObject, CreateMultipartUpload,
 * CreateBucket): a canned owner-only ACL is accepted, any other ACL refused. `refusal` is S3's code for the
 * operation (CreateBucket answers InvalidBucketAclWithObjectOwnership, object writes AccessControlListNotSupported).
 */
export function requireOwnerOnlyAclHeaders(headers: Headers, refusal: () => S3Error = aclNotSupported): void {
  const canned = headers.get("x-amz-acl");
  const grants = GRANT_HEADERS.filter((name) => headers.has(name));
  if (canned !== null && grants.length > 0) {
    throw new S3Error("InvalidRequest", "Specifying both Canned ACLs and Header Grants is not allowed");
  }
  if (grants.length > 0) throw refusal();
  if (canned === null) return;
  const value = canned.trim().toLowerCase();
  if (!(CANNED_ACLS as readonly string[]).includes(value)) {
    throw new S3Error("InvalidArgument", `Unknown canned ACL: ${canned}`, { ArgumentName: "x-amz-acl", ArgumentValue: canned });
  }
  if (!OWNER_ONLY_CANNED_ACLS.includes(value)) throw refusal();
}

export function bucketAclRefused(): S3Error {
  return new S3Error("InvalidBucketAclWithObjectOwnership", "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting");
}

function aclNotSupported(): S3Error {
  return new S3Error("AccessControlListNotSupported", "The bucket does not allow ACLs");
}

/** PutBucketAcl / PutObjectAcl: the ACL comes in headers or in an AccessControlPolicy body, not both. */
async function requireOwnerOnlyAclRequest(ctx: OpContext): Promise<void> {
  const headers = ctx.request.headers;
  const body = await readSmallBody(ctx.verified.body, MAX_ACL_BODY_BYTES);
  const inHeaders = headers.has("x-amz-acl") || GRANT_HEADERS.some((name) => headers.has(name));
  if (inHeaders) {
    if (body.trim() !== "") throw new S3Error("UnexpectedContent", "This request does not support content");
    requireOwnerOnlyAclHeaders(headers);
    return;
  }
  if (body.trim() === "") {
    throw new S3Error("MissingSecurityHeader", "Your request was missing a required header", { MissingHeaderName: "x-amz-acl" });
  }
  requireOwnerOnlyPolicy(parseXml(body));
}

/** An AccessControlPolicy whose owner is ours and whose every grant gives that owner FULL_CONTROL. */
function requireOwnerOnlyPolicy(document: Record<string, unknown>): void {
  const policy = document.AccessControlPolicy as Record<string, any> | undefined;
  if (!policy || typeof policy !== "object") throw malformedAcl();
  const owner = policy.Owner as Record<string, unknown> | undefined;
  if (owner !== undefined && owner?.ID !== OWNER.ID) throw aclNotSupported();
  const list = policy.AccessControlList;
  const grants: unknown[] = [list?.Grant ?? []].flat();
  if (grants.length === 0 || !grants.every(isOwnerFullControl)) throw aclNotSupported();
}

function isOwnerFullControl(grant: unknown): boolean {
  if (typeof grant !== "object" || grant === null) return false;
  const { Grantee, Permission } = grant as { Grantee?: Record<string, unknown>; Permission?: unknown };
  // Without attributes a grantee's type shows in its fields: a group has a URI, an email grantee an EmailAddress.
  return Permission === "FULL_CONTROL" && Grantee?.ID === OWNER.ID && Grantee.URI === undefined && Grantee.EmailAddress === undefined;
}

function malformedAcl(): S3Error {
  return new S3Error("MalformedACLError", "The XML you provided was not well-formed or did not validate against our published schema");
}

/** The canned `private` ACL: the owner has FULL_CONTROL (s3cmd needs the Permission element). */
function privateAcl(): string {
  return buildXml("AccessControlPolicy", {
    Owner: { ...OWNER },
    AccessControlList: {
      Grant: {
        Grantee: {
          "@_xmlns:xsi": "http://www.w3.org/2001/XMLSchema-instance",
          "@_xsi:type": "CanonicalUser",
          ...OWNER,
        },
        Permission: "FULL_CONTROL",
      },
    },
  });
}
