// ACLs as S3 answers them with Object Ownership "bucket owner enforced": the owner-only ACL that clients send
// (`x-amz-acl: private`, `bucket-owner-full-control`, or the owner's FULL_CONTROL policy read back from GET ?acl)
// is accepted; any ACL granting someone else is refused, never silently ignored.
import { describe, expect, it } from "vitest";
import { env } from "cloudflare:workers";
import { errorOf, s3, uniqueBucket, xmlOf } from "./s3-support";

const B = "/default";
const ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers";

async function codeOf(response: Response): Promise<string> {
  return response.status === 200 ? "200" : `${response.status} ${(await errorOf(response)).Code}`;
}

/** The body a client sends back after reading the ACL (s3cmd setacl, SDK round trips). */
async function ownerPolicy(path: string): Promise<string> {
  return (await s3("GET", `${path}?acl`)).text();
}

function policyGranting(ownerId: string, grantee: string, permission: string): string {
  return `<AccessControlPolicy xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Owner><ID>${ownerId}</ID></Owner>`
    + `<AccessControlList><Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="CanonicalUser"><ID>${ownerId}</ID></Grantee><Permission>FULL_CONTROL</Permission></Grant>`
    + `<Grant>${grantee}<Permission>${permission}</Permission></Grant></AccessControlList></AccessControlPolicy>`;
}

describe("PutBucketAcl and PutObjectAcl", () => {
  it("accept the canned private and bucket-owner-full-control ACLs", async () => {
    expect((await s3("PUT", `${B}/acl/put-private.txt`, { body: "x" })).status).toBe(200);
    for (const acl of ["private", "bucket-owner-full-control"]) {
      expect(await codeOf(await s3("PUT", `${B}?acl`, { headers: { "x-amz-acl": acl } }))).toBe("200");
      expect(await codeOf(await s3("PUT", `${B}/acl/put-private.txt?acl`, { headers: { "x-amz-acl": acl } }))).toBe("200");
    }
    const grant = (await xmlOf(await s3("GET", `${B}/acl/put-private.txt?acl`))).AccessControlPolicy.AccessControlList.Grant;
    expect(grant).toHaveLength(1);
    expect(grant[0].Permission).toBe("FULL_CONTROL");
  });

  it("accept the owner's FULL_CONTROL policy sent back as read", async () => {
    expect((await s3("PUT", `${B}/acl/put-body.txt`, { body: "x" })).status).toBe(200);
    expect(await codeOf(await s3("PUT", `${B}?acl`, { body: await ownerPolicy(B) }))).toBe("200");
    const objectPolicy = await ownerPolicy(`${B}/acl/put-body.txt`);
    expect(await codeOf(await s3("PUT", `${B}/acl/put-body.txt?acl`, { body: objectPolicy }))).toBe("200");
  });

  it("refuse any other canned ACL, grant header or grant with AccessControlListNotSupported", async () => {
    expect((await s3("PUT", `${B}/acl/put-public.txt`, { body: "x" })).status).toBe(200);
    const ownerId = (await xmlOf(await s3("GET", `${B}?acl`))).AccessControlPolicy.Owner.ID;
    const publicRead = policyGranting(ownerId, `<Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="Group"><URI>${ALL_USERS}</URI></Grantee>`, "READ");
    const otherUser = policyGranting(ownerId, `<Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="CanonicalUser"><ID>someone-else</ID></Grantee>`, "FULL_CONTROL");
    for (const path of [B, `${B}/acl/put-public.txt`]) {
      for (const acl of ["public-read", "public-read-write", "authenticated-read"]) {
        expect(await codeOf(await s3("PUT", `${path}?acl`, { headers: { "x-amz-acl": acl } }))).toBe("400 AccessControlListNotSupported");
      }
      expect(await codeOf(await s3("PUT", `${path}?acl`, { headers: { "x-amz-grant-read": `uri="${ALL_USERS}"` } }))).toBe("400 AccessControlListNotSupported");
      expect(await codeOf(await s3("PUT", `${path}?acl`, { body: publicRead }))).toBe("400 AccessControlListNotSupported");
      expect(await codeOf(await s3("PUT", `${path}?acl`, { body: otherUser }))).toBe("400 AccessControlListNotSupported");
    }
  });

  it("refuse what is not an ACL: an unknown canned name, a body that is no policy, both header and body, neither", async () => {
    expect(await codeOf(await s3("PUT", `${B}?acl`, { headers: { "x-amz-acl": "everyone" } }))).toBe("400 InvalidArgument");
    expect(await codeOf(await s3("PUT", `${B}?acl`, { body: "<Tagging/>" }))).toBe("400 MalformedACLError");
    expect(await codeOf(await s3("PUT", `${B}?acl`, { body: "<AccessControlPolicy" }))).toBe("400 MalformedXML");
    expect(await codeOf(await s3("PUT", `${B}?acl`, { headers: { "x-amz-acl": "private" }, body: await ownerPolicy(B) }))).toBe("400 UnexpectedContent");
    expect(await codeOf(await s3("PUT", `${B}?acl`))).toBe("400 MissingSecurityHeader");
  });

  it("answer NoSuchKey and NoSuchBucket for what does not exist", async () => {
    const headers = { "x-amz-acl": "private" };
    expect(await codeOf(await s3("PUT", `${B}/acl/never-written.txt?acl`, { headers }))).toBe("404 NoSuchKey");
    expect(await codeOf(await s3("PUT", `/${uniqueBucket("noacl")}?acl`, { headers }))).toBe("404 NoSuchBucket");
  });
});

describe("a canned ACL header on writes", () => {
  it("PutObject with private or bucket-owner-full-control stores the object", async () => {
    for (const acl of ["private", "bucket-owner-full-control"]) {
      const response = await s3("PUT", `${B}/acl/canned-${acl}.txt`, { body: "kept", headers: { "x-amz-acl": acl } });
      expect(response.status).toBe(200);
      expect(await env.BUCKET.head(`acl/canned-${acl}.txt`)).not.toBeNull();
    }
  });

  it("PutObject, CopyObject and CreateMultipartUpload with a public ACL are refused and store nothing", async () => {
    const headers = { "x-amz-acl": "public-read" };
    expect(await codeOf(await s3("PUT", `${B}/acl/public.txt`, { body: "x", headers }))).toBe("400 AccessControlListNotSupported");
    expect(await env.BUCKET.head("acl/public.txt")).toBeNull();
    expect(await codeOf(await s3("PUT", `${B}/acl/public.txt`, { body: "x", headers: { "x-amz-grant-read": `uri="${ALL_USERS}"` } })))
      .toBe("400 AccessControlListNotSupported");
    expect((await s3("PUT", `${B}/acl/copy-source.txt`, { body: "x" })).status).toBe(200);
    const copy = await s3("PUT", `${B}/acl/public-copy.txt`, { headers: { ...headers, "x-amz-copy-source": "/default/acl/copy-source.txt" } });
    expect(await codeOf(copy)).toBe("400 AccessControlListNotSupported");
    expect(await env.BUCKET.head("acl/public-copy.txt")).toBeNull();
    expect(await codeOf(await s3("POST", `${B}/acl/public-multipart.bin?uploads`, { headers }))).toBe("400 AccessControlListNotSupported");
  });

  it("CreateBucket with private creates the bucket; with a public ACL it is refused and not created", async () => {
    const kept = uniqueBucket("acl-private");
    expect((await s3("PUT", `/${kept}`, { headers: { "x-amz-acl": "private" } })).status).toBe(200);
    expect((await s3("HEAD", `/${kept}`)).status).toBe(200);
    await s3("DELETE", `/${kept}`);
    const refused = uniqueBucket("acl-public");
    expect(await codeOf(await s3("PUT", `/${refused}`, { headers: { "x-amz-acl": "public-read" } }))).toBe("400 InvalidBucketAclWithObjectOwnership");
    expect((await s3("HEAD", `/${refused}`)).status).toBe(404);
  });
});
