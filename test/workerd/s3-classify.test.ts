// Classification of requests into S3 operations: the same rules AWS applies (method + query + headers).
import { describe, expect, it } from "vitest";
import { addressOf, classify, parseCopySource, type S3Op } from "../../src/s3/classify";
import { rawPathOf } from "../../src/s3/request-path";
import { S3Error } from "../../src/errors";

const options = { virtualHostDomains: ["localhost", "s3.example.com"] };

function op(method: string, url: string, headers: Record<string, string> = {}): S3Op {
  return classify(new Request(url, { method, headers }), options);
}

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    return error instanceof S3Error ? error.code : String(error);
  }
  return "no error";
}

describe("path-style addressing", () => {
  it("GET / lists buckets", () => {
    expect(op("GET", "http://127.0.0.1:8787/")).toEqual({ kind: "ListBuckets" });
  });

  it("bucket operations are told apart by method and sub-resource", () => {
    const base = "http://127.0.0.1:8787/releases";
    expect(op("PUT", base)).toEqual({ kind: "CreateBucket", bucket: "releases" });
    expect(op("HEAD", base)).toEqual({ kind: "HeadBucket", bucket: "releases" });
    expect(op("DELETE", `${base}/`)).toEqual({ kind: "DeleteBucket", bucket: "releases" });
    expect(op("GET", `${base}?location`)).toEqual({ kind: "GetBucketLocation", bucket: "releases" });
    expect(op("GET", `${base}?versioning`)).toEqual({ kind: "GetBucketVersioning", bucket: "releases" });
    expect(op("GET", `${base}?acl`)).toEqual({ kind: "GetBucketAcl", bucket: "releases" });
    expect(op("GET", `${base}?list-type=2&prefix=a`)).toEqual({ kind: "ListObjectsV2", bucket: "releases" });
    expect(op("GET", `${base}?prefix=a&marker=b`)).toEqual({ kind: "ListObjects", bucket: "releases" });
    expect(op("POST", `${base}?delete`)).toEqual({ kind: "DeleteObjects", bucket: "releases" });
    expect(op("GET", `${base}?uploads`)).toEqual({ kind: "ListMultipartUploads", bucket: "releases" });
  });

  it("object keys keep slashes and are percent-decoded exactly once", () => {
    expect(op("GET", "http://h/b/dir/sub/file%20name%2B1%25.zip")).toEqual({
      kind: "GetObject", bucket: "b", key: "dir/sub/file name+1%.zip",
    });
    expect(op("GET", "http://h/b/%E2%82%AC/%F0%9F%98%80.bin")).toMatchObject({ key: "€/😀.bin" });
    expect(op("PUT", "http://h/b/a//double")).toMatchObject({ kind: "PutObject", key: "a//double" });
  });

  it("object operations are told apart by method, query and x-amz-copy-source", () => {
    const url = "http://h/b/k.zip";
    expect(op("HEAD", url)).toMatchObject({ kind: "HeadObject" });
    expect(op("DELETE", url)).toMatchObject({ kind: "DeleteObject" });
    expect(op("GET", `${url}?acl`)).toMatchObject({ kind: "GetObjectAcl" });
    expect(op("PUT", url, { "x-amz-copy-source": "/src/dir/a%20b.zip" })).toEqual({
      kind: "CopyObject", bucket: "b", key: "k.zip", source: { bucket: "src", key: "dir/a b.zip" },
    });
    expect(op("POST", `${url}?uploads`)).toMatchObject({ kind: "CreateMultipartUpload" });
    expect(op("PUT", `${url}?partNumber=3&uploadId=u1`)).toMatchObject({ kind: "UploadPart", partNumber: 3, uploadId: "u1" });
    expect(op("PUT", `${url}?partNumber=2&uploadId=u1`, { "x-amz-copy-source": "b/x" })).toMatchObject({ kind: "UploadPartCopy" });
    expect(op("POST", `${url}?uploadId=u1`)).toMatchObject({ kind: "CompleteMultipartUpload" });
    expect(op("DELETE", `${url}?uploadId=u1`)).toMatchObject({ kind: "AbortMultipartUpload" });
    expect(op("GET", `${url}?uploadId=u1`)).toMatchObject({ kind: "ListParts" });
  });

  it("unimplemented sub-resources are named, not mistaken for object or bucket operations", () => {
    expect(op("PUT", "http://h/b?policy")).toMatchObject({ kind: "Unsupported", name: "PutBucketPolicy" });
    expect(op("GET", "http://h/b?lifecycle")).toMatchObject({ kind: "Unsupported", name: "GetBucketLifecycle" });
    expect(op("PUT", "http://h/b/k?tagging")).toMatchObject({ kind: "Unsupported" });
    expect(op("PUT", "http://h/b?tagging")).toMatchObject({ kind: "Unsupported", name: "PutBucketTagging" });
  });

  it("writing an ACL is an operation of its own (object and bucket), not a PutObject or CreateBucket", () => {
    expect(op("PUT", "http://h/b?acl")).toEqual({ kind: "PutBucketAcl", bucket: "b" });
    expect(op("PUT", "http://h/b/k?acl")).toEqual({ kind: "PutObjectAcl", bucket: "b", key: "k" });
    expect(op("PUT", "http://h/b/k?acl&versionId=null")).toEqual({ kind: "PutObjectAcl", bucket: "b", key: "k" });
  });

  it("reading tags is an operation of its own (object and bucket)", () => {
    expect(op("GET", "http://h/b/k?tagging")).toEqual({ kind: "GetObjectTagging", bucket: "b", key: "k" });
    expect(op("GET", "http://h/b?tagging")).toEqual({ kind: "GetBucketTagging", bucket: "b" });
  });
});

describe("the path that is signed is the path that is routed", () => {
  // A Request in workerd always has a normalised URL, so these use the raw text a runtime that kept it would give.
  it("reads the path from the URL text, dot segments and all, up to the query", () => {
    expect(rawPathOf("http://h:1/pub/uploads/../../priv/x?X-Amz-Signature=ab#f")).toBe("/pub/uploads/../../priv/x");
    expect(rawPathOf("http://h:1/relcheck/a/./b/%2e%2e/x.txt")).toBe("/relcheck/a/./b/%2e%2e/x.txt");
    expect(rawPathOf("http://h:1")).toBe("/");
  });

  it("keeps dot segments in the key instead of resolving them into another key or bucket", () => {
    const url = new URL("http://127.0.0.1:8787/");
    expect(addressOf(url, { virtualHostDomains: [] }, "/pub/uploads/../../priv/x")).toEqual({ bucket: "pub", key: "uploads/../../priv/x" });
    expect(addressOf(url, { virtualHostDomains: [] }, "/relcheck/a/%2E%2E/b/x.txt")).toEqual({ bucket: "relcheck", key: "a/../b/x.txt" });
  });
});

describe("virtual-hosted-style addressing", () => {
  it("takes the bucket from the host under a configured domain", () => {
    expect(op("GET", "http://releases.localhost:8787/v1/app.zip")).toEqual({ kind: "GetObject", bucket: "releases", key: "v1/app.zip" });
    expect(op("GET", "https://my.bucket.s3.example.com/?list-type=2")).toEqual({ kind: "ListObjectsV2", bucket: "my.bucket" });
    expect(op("PUT", "https://new-bucket.s3.example.com/")).toEqual({ kind: "CreateBucket", bucket: "new-bucket" });
  });

  it("a host equal to the domain, or outside all domains, is path-style", () => {
    expect(op("GET", "https://s3.example.com/b/k")).toEqual({ kind: "GetObject", bucket: "b", key: "k" });
    expect(op("GET", "https://proxy.other.org/b/k")).toEqual({ kind: "GetObject", bucket: "b", key: "k" });
  });
});

describe("bad requests", () => {
  it("an undecodable path is InvalidURI", () => {
    expect(codeOf(() => op("GET", "http://h/b/%E0%A4%A"))).toBe("InvalidURI");
  });

  it("an unknown method is MethodNotAllowed", () => {
    expect(codeOf(() => op("PATCH", "http://h/b/k"))).toBe("MethodNotAllowed");
  });

  it("a part number outside 1..10000 is InvalidArgument", () => {
    expect(codeOf(() => op("PUT", "http://h/b/k?partNumber=0&uploadId=u"))).toBe("InvalidArgument");
    expect(codeOf(() => op("PUT", "http://h/b/k?partNumber=10001&uploadId=u"))).toBe("InvalidArgument");
  });

  it("list-type other than 2 is InvalidArgument", () => {
    expect(codeOf(() => op("GET", "http://h/b?list-type=3"))).toBe("InvalidArgument");
  });
});

describe("x-amz-copy-source", () => {
  it("accepts with and without a leading slash, URL-encoded, and versionId=null", () => {
    expect(parseCopySource("src/a/b.zip")).toEqual({ bucket: "src", key: "a/b.zip" });
    expect(parseCopySource("/src/%C3%A9t%C3%A9%3F.zip?versionId=null")).toEqual({ bucket: "src", key: "été?.zip", versionId: "null" });
  });

  it("refuses a source without bucket or key", () => {
    expect(codeOf(() => parseCopySource("/onlybucket"))).toBe("InvalidArgument");
    expect(codeOf(() => parseCopySource("/b/"))).toBe("InvalidArgument");
  });
});
