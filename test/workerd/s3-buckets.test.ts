// Bucket operations over the Worker: the configured `default` bucket, buckets created at run time, names.
import { describe, expect, it } from "vitest";
import { env } from "cloudflare:workers";
import { errorOf, s3, uniqueBucket, xmlOf } from "./s3-support";

describe("the default bucket", () => {
  it("exists out of the box", async () => {
    const head = await s3("HEAD", "/default");
    expect(head.status).toBe(200);
    expect(head.headers.get("x-amz-bucket-region")).toBe("us-east-1");
  });

  it("is listed by ListBuckets with the owner", async () => {
    const body = await xmlOf(await s3("GET", "/"));
    const names = body.ListAllMyBucketsResult.Buckets.Bucket.map((b: any) => b.Name);
    expect(names).toContain("default");
    expect(body.ListAllMyBucketsResult.Owner.ID).toBeTruthy();
  });

  it("cannot be created again (BucketAlreadyOwnedByYou)", async () => {
    const response = await s3("PUT", "/default");
    expect(response.status).toBe(409);
    expect((await errorOf(response)).Code).toBe("BucketAlreadyOwnedByYou");
  });
});

describe("buckets created at run time", () => {
  it("a test-suite style name is created, listed, headed and deleted", async () => {
    const name = "s3t-k3j9x0q1w2e4r5t6y7u8i9o0p-17";
    const created = await s3("PUT", `/${name}`);
    expect(created.status).toBe(200);
    expect(created.headers.get("location")).toBe(`/${name}`);
    expect((await s3("HEAD", `/${name}`)).status).toBe(200);
    const listed = await xmlOf(await s3("GET", "/"));
    const entry = listed.ListAllMyBucketsResult.Buckets.Bucket.find((b: any) => b.Name === name);
    expect(Date.parse(entry.CreationDate)).toBeGreaterThan(Date.now() - 60_000);
    expect((await s3("DELETE", `/${name}`)).status).toBe(204);
    expect((await s3("HEAD", `/${name}`)).status).toBe(404);
  });

  it("accepts a CreateBucketConfiguration body", async () => {
    const name = uniqueBucket("loc");
    const body = `<CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><LocationConstraint>us-east-1</LocationConstraint></CreateBucketConfiguration>`;
    expect((await s3("PUT", `/${name}`, { body })).status).toBe(200);
    expect((await s3("PUT", `/${name}`)).status).toBe(409);
  });

  it("refuses a malformed CreateBucketConfiguration with MalformedXML", async () => {
    const response = await s3("PUT", `/${uniqueBucket("bad")}`, { body: "<CreateBucketConfiguration>" });
    expect(response.status).toBe(400);
    expect((await errorOf(response)).Code).toBe("MalformedXML");
  });

  it("objects of a runtime bucket stay out of the default bucket's listing", async () => {
    const name = uniqueBucket("iso");
    await s3("PUT", `/${name}`);
    expect((await s3("PUT", `/${name}/notes/readme.txt`, { body: "hello" })).status).toBe(200);
    const own = await xmlOf(await s3("GET", `/${name}?list-type=2`));
    expect(own.ListBucketResult.Contents.map((c: any) => c.Key)).toEqual(["notes/readme.txt"]);
    const root = await xmlOf(await s3("GET", "/default?list-type=2&delimiter=/"));
    const prefixes = (root.ListBucketResult.CommonPrefixes ?? []).map((p: any) => p.Prefix);
    expect(prefixes.some((p: string) => p.startsWith(".dg"))).toBe(false);
    // …but they are really in the BUCKET binding, under the documented layout.
    const stored = await env.BUCKET.list({ prefix: `.dg/buckets/data/${name}/` });
    expect(stored.objects.map((o) => o.key)).toContain(`.dg/buckets/data/${name}/notes/readme.txt`);
  });

  it("a bucket that holds an object is not deleted (BucketNotEmpty)", async () => {
    const name = uniqueBucket("full");
    await s3("PUT", `/${name}`);
    await s3("PUT", `/${name}/a.txt`, { body: "x" });
    const response = await s3("DELETE", `/${name}`);
    expect(response.status).toBe(409);
    expect((await errorOf(response)).Code).toBe("BucketNotEmpty");
    expect((await s3("GET", `/${name}/a.txt`)).status).toBe(200);
    await s3("DELETE", `/${name}/a.txt`);
    expect((await s3("DELETE", `/${name}`)).status).toBe(204);
    expect(await env.BUCKET.list({ prefix: `.dg/buckets/data/${name}/` })).toMatchObject({ objects: [] });
  });
});

describe("bucket names", () => {
  it.each(["ab", "UPPER", "has_underscore", "-start", "end-", "a..b", "192.168.1.1", "xn--punycode", "a".repeat(64), "bad.-dash"])(
    "%s is refused with InvalidBucketName", async (name) => {
      const response = await s3("PUT", `/${name}`);
      expect(response.status).toBe(400);
      const error = await errorOf(response);
      expect(error.Code).toBe("InvalidBucketName");
      expect(error.BucketName).toBe(name);
    });

  it("an unknown bucket is NoSuchBucket, as XML with the request id", async () => {
    const response = await s3("GET", "/no-such-bucket-here?list-type=2");
    expect(response.status).toBe(404);
    const error = await errorOf(response);
    expect(error.Code).toBe("NoSuchBucket");
    expect(error.Resource).toBe("/no-such-bucket-here");
    expect(error.RequestId).toBe(response.headers.get("x-amz-request-id"));
    expect(error.Message).toBeTruthy();
  });

  it("HEAD of an unknown bucket is 404 without a body", async () => {
    const response = await s3("HEAD", "/no-such-bucket-here");
    expect(response.status).toBe(404);
    expect(await response.text()).toBe("");
  });
});

describe("bucket sub-resources", () => {
  it("GetBucketLocation is empty for us-east-1", async () => {
    const response = await s3("GET", "/default?location");
    expect(response.status).toBe(200);
    const text = await response.text();
    expect(text).toContain("<LocationConstraint");
    expect((await xmlOf(new Response(text))).LocationConstraint["#text"] ?? "").toBe("");
  });

  it("GetBucketVersioning says unversioned (no Status)", async () => {
    const body = await xmlOf(await s3("GET", "/default?versioning"));
    expect(body.VersioningConfiguration).toBeDefined();
    expect(body.VersioningConfiguration.Status).toBeUndefined();
  });

  it("GetBucketAcl grants the owner FULL_CONTROL with a Permission element", async () => {
    const body = await xmlOf(await s3("GET", "/default?acl"));
    const policy = body.AccessControlPolicy;
    const grant = policy.AccessControlList.Grant[0];
    expect(grant.Permission).toBe("FULL_CONTROL");
    expect(grant.Grantee.ID).toBe(policy.Owner.ID);
    expect(grant.Grantee["@_xsi:type"]).toBe("CanonicalUser");
  });

  it("an unimplemented sub-resource answers NotImplemented", async () => {
    const response = await s3("GET", "/default?lifecycle");
    expect(response.status).toBe(501);
    expect((await errorOf(response)).Code).toBe("NotImplemented");
  });
});
