// One place that decides which S3 operation a request is. S3 picks the operation from the method, the query
// (`?list-type=2`, `?delete`, `?location`, `?uploads`, `?uploadId`…) and headers (`x-amz-copy-source`), not
// from the path alone. The result is a discriminated union; the handler's switch over `kind` is exhaustive,
// so the compiler proves every operation is handled. Beside the union, OPERATIONS says what each operation
// needs of the signer's key and whether it reads the body; the compiler refuses a kind without an entry there too.
import { S3Error } from "../errors";
import { rawPathOf } from "./request-path";

export interface ObjectAddress {
  bucket: string;
  key: string;
}

export interface CopySource extends ObjectAddress {
  versionId?: string;
}

export type S3Op =
  | { kind: "ListBuckets" }
  | { kind: "CreateBucket"; bucket: string }
  | { kind: "HeadBucket"; bucket: string }
  | { kind: "DeleteBucket"; bucket: string }
  | { kind: "GetBucketLocation"; bucket: string }
  | { kind: "GetBucketVersioning"; bucket: string }
  | { kind: "GetBucketAcl"; bucket: string }
  | { kind: "GetBucketTagging"; bucket: string }
  | { kind: "PutBucketAcl"; bucket: string }
  | { kind: "ListObjectsV2"; bucket: string }
  | { kind: "ListObjects"; bucket: string }
  | { kind: "DeleteObjects"; bucket: string }
  | { kind: "ListMultipartUploads"; bucket: string }
  | ({ kind: "GetObject" } & ObjectAddress)
  | ({ kind: "HeadObject" } & ObjectAddress)
  | ({ kind: "PutObject" } & ObjectAddress)
  | ({ kind: "CopyObject"; source: CopySource } & ObjectAddress)
  | ({ kind: "DeleteObject" } & ObjectAddress)
  | ({ kind: "GetObjectAcl" } & ObjectAddress)
  | ({ kind: "GetObjectTagging" } & ObjectAddress)
  | ({ kind: "PutObjectAcl" } & ObjectAddress)
  | ({ kind: "CreateMultipartUpload" } & ObjectAddress)
  | ({ kind: "UploadPart"; uploadId: string; partNumber: number } & ObjectAddress)
  | ({ kind: "UploadPartCopy"; uploadId: string; partNumber: number; source: CopySource } & ObjectAddress)
  | ({ kind: "CompleteMultipartUpload"; uploadId: string } & ObjectAddress)
  | ({ kind: "AbortMultipartUpload"; uploadId: string } & ObjectAddress)
  | ({ kind: "ListParts"; uploadId: string } & ObjectAddress)
  /** A real S3 operation we do not implement (answered with NotImplemented, naming it). */
  | { kind: "Unsupported"; name: string; bucket?: string; key?: string };

export type S3OpKind = S3Op["kind"];

/**
 * What an operation needs of the key that signed it (Garage keeps `authorization_type()` beside its endpoint
 * enum for the same reason): "read" is enough for GET/HEAD/list operations, so a read-only key may run them;
 * "write" is anything that changes state. "by-method" is only for Unsupported, which names many S3 operations:
 * a GET or HEAD one needs read, any other write. A copy (CopyObject, UploadPartCopy) also needs read on its
 * source bucket; the authorizer checks that from `source`.
 */
export type AuthorizationNeed = "read" | "write" | "by-method";

/**
 * What each operation needs besides its handler, beside its classification. `need`: the signer's rights (above).
 * `readsBody`: whether the operation reads the request body; for the others a body sent anyway is still read
 * and verified before the operation runs (its signed x-amz-content-sha256, Content-MD5, checksums, chunk
 * signatures), since S3 refuses a DELETE whose body contradicts its signed hash. `Unsupported` reads it too: it
 * is answered NotImplemented without running anything.
 * `satisfies` makes this table complete: an S3Op kind without an entry (or a misspelt one) does not compile.
 */
export const OPERATIONS = {
  ListBuckets: { need: "read", readsBody: false },
  CreateBucket: { need: "write", readsBody: true },
  HeadBucket: { need: "read", readsBody: false },
  DeleteBucket: { need: "write", readsBody: false },
  GetBucketLocation: { need: "read", readsBody: false },
  GetBucketVersioning: { need: "read", readsBody: false },
  GetBucketAcl: { need: "read", readsBody: false },
  GetBucketTagging: { need: "read", readsBody: false },
  PutBucketAcl: { need: "write", readsBody: true },
  ListObjectsV2: { need: "read", readsBody: false },
  ListObjects: { need: "read", readsBody: false },
  DeleteObjects: { need: "write", readsBody: true },
  ListMultipartUploads: { need: "read", readsBody: false },
  GetObject: { need: "read", readsBody: false },
  HeadObject: { need: "read", readsBody: false },
  PutObject: { need: "write", readsBody: true },
  CopyObject: { need: "write", readsBody: false },
  DeleteObject: { need: "write", readsBody: false },
  GetObjectAcl: { need: "read", readsBody: false },
  GetObjectTagging: { need: "read", readsBody: false },
  PutObjectAcl: { need: "write", readsBody: true },
  CreateMultipartUpload: { need: "write", readsBody: false },
  UploadPart: { need: "write", readsBody: true },
  UploadPartCopy: { need: "write", readsBody: false },
  CompleteMultipartUpload: { need: "write", readsBody: true },
  AbortMultipartUpload: { need: "write", readsBody: false },
  ListParts: { need: "read", readsBody: false },
  Unsupported: { need: "by-method", readsBody: true },
} as const satisfies Record<S3OpKind, OperationTraits>;

export interface OperationTraits {
  need: AuthorizationNeed;
  readsBody: boolean;
}

/** Does running `op` (sent with `method`) change state, so that a read-only key may not? */
export function needsWrite(op: S3Op, method: string): boolean {
  const need: AuthorizationNeed = OPERATIONS[op.kind].need;
  if (need === "by-method") return !["GET", "HEAD"].includes(method.toUpperCase());
  return need === "write";
}

export interface ClassifyOptions {
  /**
   * Host names under which `<bucket>.<domain>` is virtual-hosted-style addressing (e.g. "s3.example.com",
   * "localhost"). A host equal to a domain, or not under any, is path-style.
   */
  virtualHostDomains: readonly string[];
}

/**
 * Split the request into bucket + key, path-style (`/bucket/key`) or virtual-hosted (`bucket.domain/key`).
 * `path` is the raw request path the signature covers (rawPathOf); it defaults to the URL's own.
 */
export function addressOf(url: URL, options: ClassifyOptions, path = rawPathOf(url.href)): { bucket?: string; key?: string } {
  const hostBucket = bucketFromHost(url.hostname, options.virtualHostDomains);
  const rawPath = path.startsWith("/") ? path.slice(1) : path;
  if (hostBucket !== undefined) {
    return { bucket: hostBucket, key: rawPath === "" ? undefined : decodePath(rawPath) };
  }
  if (rawPath === "") return {};
  const slash = rawPath.indexOf("/");
  if (slash < 0) return { bucket: decodePath(rawPath) };
  const key = rawPath.slice(slash + 1);
  return { bucket: decodePath(rawPath.slice(0, slash)), key: key === "" ? undefined : decodePath(key) };
}

function bucketFromHost(hostname: string, domains: readonly string[]): string | undefined {
  const host = hostname.toLowerCase();
  for (const domain of domains) {
    const suffix = `.${domain.toLowerCase()}`;
    if (host.endsWith(suffix) && host.length > suffix.length) return host.slice(0, -suffix.length);
  }
  return undefined;
}

function decodePath(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new S3Error("InvalidURI", "Couldn't parse the specified URI.");
  }
}

export function classify(request: Request, options: ClassifyOptions): S3Op {
  const url = new URL(request.url);
  // The bucket and key come from the same unnormalised path the signature is verified against (request-path.ts).
  const { bucket, key } = addressOf(url, options, rawPathOf(request.url));
  const q = url.searchParams;
  const method = request.method.toUpperCase();

  if (bucket === undefined) {
    if (method === "GET") return { kind: "ListBuckets" };
    throw methodNotAllowed(method, "the service");
  }
  if (key === undefined) return classifyBucketOp(method, bucket, q);
  return classifyObjectOp(method, { bucket, key }, q, request.headers);
}

/** Bucket sub-resources we do not implement; named so clients get a precise NotImplemented. */
const UNSUPPORTED_BUCKET_SUBRESOURCES = [
  "policy", "cors", "lifecycle", "tagging", "website", "replication", "encryption", "logging", "notification",
  "accelerate", "requestPayment", "object-lock", "ownershipControls", "publicAccessBlock", "analytics",
  "inventory", "metrics", "intelligent-tiering", "versions", "uploads", "acl", "versioning",
] as const;

function classifyBucketOp(method: string, bucket: string, q: URLSearchParams): S3Op {
  switch (method) {
    case "GET":
      if (q.has("location")) return { kind: "GetBucketLocation", bucket };
      if (q.has("versioning")) return { kind: "GetBucketVersioning", bucket };
      if (q.has("acl")) return { kind: "GetBucketAcl", bucket };
      if (q.has("tagging")) return { kind: "GetBucketTagging", bucket };
      if (q.has("uploads")) return { kind: "ListMultipartUploads", bucket };
      if (q.get("list-type") === "2") return { kind: "ListObjectsV2", bucket };
      if (q.has("list-type")) throw new S3Error("InvalidArgument", "Invalid list-type: only 2 is supported.", { ArgumentName: "list-type", ArgumentValue: q.get("list-type") ?? "" });
      return unsupportedOr(q, "GetBucket", bucket) ?? { kind: "ListObjects", bucket };
    case "HEAD":
      return { kind: "HeadBucket", bucket };
    case "PUT":
      if (q.has("acl")) return { kind: "PutBucketAcl", bucket };
      return unsupportedOr(q, "PutBucket", bucket) ?? { kind: "CreateBucket", bucket };
    case "DELETE":
      return unsupportedOr(q, "DeleteBucket", bucket) ?? { kind: "DeleteBucket", bucket };
    case "POST":
      if (q.has("delete")) return { kind: "DeleteObjects", bucket };
      return { kind: "Unsupported", name: "PostBucket", bucket };
    default:
      throw methodNotAllowed(method, "the bucket");
  }
}

function unsupportedOr(q: URLSearchParams, verb: string, bucket: string): S3Op | undefined {
  const sub = UNSUPPORTED_BUCKET_SUBRESOURCES.find((name) => q.has(name));
  if (!sub) return undefined;
  return { kind: "Unsupported", name: `${verb}${sub[0].toUpperCase()}${sub.slice(1)}`, bucket };
}

function classifyObjectOp(method: string, address: ObjectAddress, q: URLSearchParams, headers: Headers): S3Op {
  const uploadId = q.get("uploadId");
  switch (method) {
    case "GET":
      if (q.has("acl")) return { kind: "GetObjectAcl", ...address };
      // Clients (aws s3 cp between buckets) read the source's tags before copying; we store none.
      if (q.has("tagging")) return { kind: "GetObjectTagging", ...address };
      if (uploadId !== null) return { kind: "ListParts", uploadId, ...address };
      if (q.has("attributes") || q.has("torrent") || q.has("retention") || q.has("legal-hold")) {
        return { kind: "Unsupported", name: "GetObjectSubresource", ...address };
      }
      return { kind: "GetObject", ...address };
    case "HEAD":
      return { kind: "HeadObject", ...address };
    case "PUT": {
      if (q.has("acl")) return { kind: "PutObjectAcl", ...address };
      const copySource = headers.get("x-amz-copy-source");
      if (uploadId !== null) {
        const partNumber = parsePartNumber(q.get("partNumber"));
        if (copySource !== null) {
          return { kind: "UploadPartCopy", uploadId, partNumber, source: parseCopySource(copySource), ...address };
        }
        return { kind: "UploadPart", uploadId, partNumber, ...address };
      }
      if (q.has("tagging") || q.has("retention") || q.has("legal-hold")) {
        return { kind: "Unsupported", name: "PutObjectSubresource", ...address };
      }
      if (copySource !== null) return { kind: "CopyObject", source: parseCopySource(copySource), ...address };
      return { kind: "PutObject", ...address };
    }
    case "DELETE":
      if (uploadId !== null) return { kind: "AbortMultipartUpload", uploadId, ...address };
      if (q.has("tagging")) return { kind: "Unsupported", name: "DeleteObjectTagging", ...address };
      return { kind: "DeleteObject", ...address };
    case "POST":
      if (q.has("uploads")) return { kind: "CreateMultipartUpload", ...address };
      if (uploadId !== null) return { kind: "CompleteMultipartUpload", uploadId, ...address };
      return { kind: "Unsupported", name: "PostObject", ...address };
    default:
      throw methodNotAllowed(method, "the object");
  }
}

function parsePartNumber(value: string | null): number {
  const n = value !== null && /^\d{1,5}$/.test(value) ? Number(value) : NaN;
  if (!(n >= 1 && n <= 10000)) {
    throw new S3Error("InvalidArgument", "Part number must be an integer between 1 and 10000, inclusive", {
      ArgumentName: "partNumber", ArgumentValue: value ?? "",
    });
  }
  return n;
}

/** `x-amz-copy-source`: `[/]bucket/key[?versionId=…]`, URL-encoded. */
export function parseCopySource(header: string): CopySource {
  const [pathPart, queryPart] = splitOnce(header, "?");
  let path: string;
  try {
    path = decodeURIComponent(pathPart);
  } catch {
    throw invalidCopySource();
  }
  if (path.startsWith("/")) path = path.slice(1);
  const slash = path.indexOf("/");
  if (slash <= 0 || slash === path.length - 1) throw invalidCopySource();
  const source: CopySource = { bucket: path.slice(0, slash), key: path.slice(slash + 1) };
  const versionId = queryPart !== undefined ? new URLSearchParams(queryPart).get("versionId") : null;
  if (versionId !== null && versionId !== "null") {
    throw new S3Error("InvalidArgument", "Versioning is not enabled: versionId must be absent or \"null\".", {
      ArgumentName: "x-amz-copy-source", ArgumentValue: header,
    });
  }
  if (versionId !== null) source.versionId = versionId;
  return source;
}

function invalidCopySource(): S3Error {
  return new S3Error("InvalidArgument", "Copy Source must mention the source bucket and key: sourcebucket/sourcekey", {
    ArgumentName: "x-amz-copy-source",
  });
}

function splitOnce(text: string, separator: string): [string, string | undefined] {
  const at = text.indexOf(separator);
  return at < 0 ? [text, undefined] : [text.slice(0, at), text.slice(at + 1)];
}

function methodNotAllowed(method: string, target: string): S3Error {
  return new S3Error("MethodNotAllowed", `The specified method ${method} is not allowed against ${target}.`, {
    Method: method, ResourceType: target === "the object" ? "OBJECT" : target === "the bucket" ? "BUCKET" : "SERVICE",
  });
}

