// What each S3 operation needs of the key that signs it: a read-only key may run every read operation and no
// write operation, exactly as S3's read (Get*/List*/Head*) and write actions divide them; a key restricted to some
// buckets sees only those in ListBuckets.
import { describe, expect, it } from "vitest";
import { env } from "cloudflare:workers";
import { AwsClient } from "aws4fetch";
import worker, { type Env } from "../../src/index";
import { OPERATIONS, classify, type S3OpKind } from "../../src/s3/classify";
import { s3Authorizer } from "../../src/s3/auth/authorizer";
import { READER, signed, testConfig } from "./helpers/auth";
import { S3Error } from "../../src/errors";
import { ORIGIN, s3, uniqueBucket, xmlOf } from "./s3-support";

interface Sample {
  method: string;
  /** Path and query under bucket `docs`, the only bucket READER may use. */
  path: string;
  headers?: Record<string, string>;
  /** What S3 requires: "read" operations are open to a read-only key, "write" ones are not. */
  need: "read" | "write";
}

/** One request per operation; typed by S3OpKind, so an operation added to classify.ts must be added here too. */
const SAMPLES: Record<S3OpKind, Sample[]> = {
  ListBuckets: [{ method: "GET", path: "/", need: "read" }],
  CreateBucket: [{ method: "PUT", path: "/docs", need: "write" }],
  HeadBucket: [{ method: "HEAD", path: "/docs", need: "read" }],
  DeleteBucket: [{ method: "DELETE", path: "/docs", need: "write" }],
  GetBucketLocation: [{ method: "GET", path: "/docs?location", need: "read" }],
  GetBucketVersioning: [{ method: "GET", path: "/docs?versioning", need: "read" }],
  GetBucketAcl: [{ method: "GET", path: "/docs?acl", need: "read" }],
  GetBucketTagging: [{ method: "GET", path: "/docs?tagging", need: "read" }],
  PutBucketAcl: [{ method: "PUT", path: "/docs?acl", headers: { "x-amz-acl": "private" }, need: "write" }],
  ListObjectsV2: [{ method: "GET", path: "/docs?list-type=2", need: "read" }],
  ListObjects: [{ method: "GET", path: "/docs", need: "read" }],
  DeleteObjects: [{ method: "POST", path: "/docs?delete", need: "write" }],
  ListMultipartUploads: [{ method: "GET", path: "/docs?uploads", need: "read" }],
  GetObject: [{ method: "GET", path: "/docs/a.txt", need: "read" }],
  HeadObject: [{ method: "HEAD", path: "/docs/a.txt", need: "read" }],
  PutObject: [{ method: "PUT", path: "/docs/a.txt", need: "write" }],
  CopyObject: [{ method: "PUT", path: "/docs/b.txt", headers: { "x-amz-copy-source": "/docs/a.txt" }, need: "write" }],
  DeleteObject: [{ method: "DELETE", path: "/docs/a.txt", need: "write" }],
  GetObjectAcl: [{ method: "GET", path: "/docs/a.txt?acl", need: "read" }],
  GetObjectTagging: [{ method: "GET", path: "/docs/a.txt?tagging", need: "read" }],
  PutObjectAcl: [{ method: "PUT", path: "/docs/a.txt?acl", headers: { "x-amz-acl": "private" }, need: "write" }],
  CreateMultipartUpload: [{ method: "POST", path: "/docs/a.txt?uploads", need: "write" }],
  UploadPart: [{ method: "PUT", path: "/docs/a.txt?partNumber=1&uploadId=u1", need: "write" }],
  UploadPartCopy: [{ method: "PUT", path: "/docs/a.txt?partNumber=1&uploadId=u1", headers: { "x-amz-copy-source": "/docs/b.txt" }, need: "write" }],
  CompleteMultipartUpload: [{ method: "POST", path: "/docs/a.txt?uploadId=u1", need: "write" }],
  AbortMultipartUpload: [{ method: "DELETE", path: "/docs/a.txt?uploadId=u1", need: "write" }],
  ListParts: [{ method: "GET", path: "/docs/a.txt?uploadId=u1", need: "read" }],
  // Unsupported names many operations: the reading ones need read, the others write.
  Unsupported: [
    { method: "GET", path: "/docs?lifecycle", need: "read" },
    { method: "PUT", path: "/docs?policy", need: "write" },
    { method: "DELETE", path: "/docs/a.txt?tagging", need: "write" },
  ],
};

const BASE = "http://127.0.0.1:8787";
const authorize = s3Authorizer(testConfig());

/** The current time as SigV4 writes it: the authorizer checks the signature against the real clock. */
function amzNow(): string {
  return new Date().toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");
}

/** Classify a sample, sign it with the read-only key and authorize it: "read" if allowed, "write" if refused. */
async function needObserved(sample: Sample): Promise<{ kind: string; observed: string }> {
  const request = await signed(`${BASE}${sample.path}`, { method: sample.method, headers: sample.headers, key: READER, datetime: amzNow() });
  const op = classify(request, { virtualHostDomains: [] });
  try {
    await authorize(request, op);
    return { kind: op.kind, observed: "read" };
  } catch (error) {
    if (error instanceof S3Error && error.code === "AccessDenied") return { kind: op.kind, observed: "write" };
    throw error;
  }
}

/** Compile-time: true only when the two types are the same. */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;

describe("each operation's authorization need is what S3 requires", () => {
  it("the table beside the classification has exactly one entry per operation kind (checked by the compiler)", () => {
    const complete: Same<keyof typeof OPERATIONS, S3OpKind> = true;
    expect(complete).toBe(true);
  });

  for (const [kind, samples] of Object.entries(SAMPLES)) {
    for (const sample of samples) {
      const verdict = sample.need === "read" ? "allowed" : "refused with AccessDenied";
      it(`${kind} (${sample.method} ${sample.path}) by a read-only key is ${verdict}`, async () => {
        expect(await needObserved(sample)).toEqual({ kind, observed: sample.need });
      });
    }
  }

  it("a copy also needs read access to its source bucket", async () => {
    const writer = { ...READER, accessKeyId: "AKIDDOCSWRITER", access: "read-write" as const };
    const copy = await signed(`${BASE}/docs/b.txt`, {
      method: "PUT", headers: { "x-amz-copy-source": "/private/a.txt" }, key: writer, datetime: amzNow(),
    });
    const authorizeWriter = s3Authorizer(testConfig({ keys: [writer] }));
    await expect(authorizeWriter(copy, classify(copy, { virtualHostDomains: [] }))).rejects.toMatchObject({ code: "AccessDenied" });
  });
});

describe("a key restricted to some buckets", () => {
  it("sees only its buckets in ListBuckets", async () => {
    const mine = uniqueBucket("mine");
    const other = uniqueBucket("other");
    expect((await s3("PUT", `/${mine}`)).status).toBe(200);
    expect((await s3("PUT", `/${other}`)).status).toBe(200);
    try {
      const key = { accessKeyId: "restricted-lister", secretAccessKey: "restricted-secret-0123", access: "read-only", buckets: [mine], admin: false };
      const restrictedEnv = { ...env, DG_CREDENTIALS: JSON.stringify([key]) };
      const client = new AwsClient({ accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey, service: "s3", region: "us-east-1" });
      const response = await worker.fetch(await client.sign(`${ORIGIN}/`), restrictedEnv as unknown as Env);
      expect(response.status).toBe(200);
      const names = ((await xmlOf(response)).ListAllMyBucketsResult.Buckets.Bucket as { Name: string }[]).map((b) => b.Name);
      expect(names).toEqual([mine]);
      // The dev key (all buckets) still sees every bucket.
      const all = ((await xmlOf(await s3("GET", "/"))).ListAllMyBucketsResult.Buckets.Bucket as { Name: string }[]).map((b) => b.Name);
      expect(all).toEqual(expect.arrayContaining(["default", mine, other]));
    } finally {
      await s3("DELETE", `/${mine}`);
      await s3("DELETE", `/${other}`);
    }
  });
});

describe("anonymous reads of a DG_ANONYMOUS_READ_BUCKETS bucket", () => {
  it("may not rewrite response headers: response-* on an anonymous GET is 400 InvalidRequest, as in S3", async () => {
    const publicEnv = { ...env, DG_ANONYMOUS_READ_BUCKETS: "default" } as unknown as Env;
    expect((await s3("PUT", "/default/anon/page.txt", { body: "hello", headers: { "content-type": "text/plain" } })).status).toBe(200);
    const anonymous = (query: string) => worker.fetch(new Request(`${ORIGIN}/default/anon/page.txt${query}`), publicEnv);

    const plain = await anonymous("");
    expect([plain.status, plain.headers.get("content-type"), await plain.text()]).toEqual([200, "text/plain", "hello"]);
    const overridden = await anonymous("?response-content-type=text/html");
    expect(overridden.status).toBe(400);
    expect((await xmlOf(overridden)).Error.Code).toBe("InvalidRequest");
    const signedOverride = await s3("GET", "/default/anon/page.txt?response-content-type=text/html");
    expect([signedOverride.status, signedOverride.headers.get("content-type")]).toEqual([200, "text/html"]);
  });
});
