// Backend over a remote S3-compatible server (AWS S3, MinIO, Ceph RGW, Hetzner, Backblaze, a bucket written by
// DeltaGlider), signed with SigV4 by aws4fetch. Same contract as the R2 binding (backend.ts).
//
// Guarantees the engine relies on:
// - Idempotent calls (HEAD, GET, LIST, DELETE, PUT/UploadPart of an in-memory body, Complete/Abort) are retried
//   with backoff on timeouts, connection errors, 5xx and throttling. A PUT of a one-shot stream is not retried.
// - After the retries, failures become S3Error 503 SlowDown (throttling) or 500 InternalError. The backend's
//   own XML, host names and keys are only logged, never handed to the client.
// - A half-written object is never visible: S3 stores an object only once all Content-Length bytes arrived,
//   and an upload whose source errors, or turns out shorter or longer than declared, is cut off before its
//   last byte is sent (see `sizedUploadBody`).
// - A download that stalls or resets mid-stream resumes with a ranged GET pinned to the same ETag
//   (If-Match), so the reader gets the original bytes or an error, never a splice of two versions.
import { AwsClient } from "aws4fetch";
import { XMLParser } from "fast-xml-parser";
import { S3Error, type S3ErrorCode } from "../errors";
import { characterReferenceDecoder } from "../xml-references";
import type {
  Backend, BackendMultipart, ByteRange, ListOptions, ListPage, MultipartPart, PutOptions, StoredObject,
  StoredObjectBody,
} from "./backend";
import {
  backoffDelay, DEFAULT_RETRY_POLICY, isRetriableStatus, isThrottling, type RetryPolicy, sleep, StallWatchdog,
} from "./retry";

/** How conditional creates (`onlyIfAbsent`) reach the server. */
export type ConditionalWrites =
  /** Send `If-None-Match: *` (AWS S3 since 2024-08, R2, Ceph RGW, current MinIO): atomic. */
  | "native"
  /** HEAD, then PUT if absent: for servers that ignore or refuse If-None-Match. Not atomic (see docs). */
  | "emulated";

export interface S3BackendConfig {
  /** Scheme, host, optional port and base path, e.g. `https://s3.eu-central-1.amazonaws.com`. */
  endpoint: string;
  /** The bucket name on the remote server. */
  bucket: string;
  region: string;
  /** `https://host/bucket/key` (true) or `https://bucket.host/key` (false). */
  pathStyle: boolean;
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  conditionalWrites: ConditionalWrites;
  retry: RetryPolicy;
  /** At most this many HEADs at once when a listing must carry metadata (Workers allow 6 open connections). */
  listMetadataConcurrency: number;
}

export function createS3Backend(config: S3BackendConfig): S3Backend {
  return new S3Backend(config);
}

/** How a call may be answered and repeated. */
interface CallSpec {
  /** S3 operation name, for logs. */
  op: string;
  method: string;
  url: string;
  headers?: Record<string, string>;
  /** A body that can be sent again on a retry. */
  bytes?: Uint8Array;
  /** A one-shot streamed body of a known length (never retried). */
  stream?: { body: ReadableStream<Uint8Array>; length: number };
  /** Safe to repeat: the call is idempotent and its body (if any) replayable. */
  retry: boolean;
  /** Statuses handed back to the caller instead of being turned into an error (e.g. 404 on HEAD). */
  accept?: (status: number, code: string | undefined) => boolean;
}

interface CallResult {
  response: Response;
  /** Still running: the caller moves the response body through it, then stops it. */
  watchdog: StallWatchdog;
  /** The S3 error code of a non-2xx answer the caller accepted. */
  code?: string;
  /** Whether an earlier attempt of this call may have reached the server (its outcome is unknown). */
  ambiguous: boolean;
}

// Keys in a listing may come back as character references (&#x0D;, &#34;): decoded like request bodies.
const xml = new XMLParser({
  ignoreAttributes: true,
  parseTagValue: false,
  trimValues: false,
  entityDecoder: characterReferenceDecoder,
  isArray: (name) => ["Contents", "CommonPrefixes", "Error", "Deleted", "Part"].includes(name),
});

export class S3Backend implements Backend {
  readonly name: string;
  private readonly client: AwsClient;
  private readonly base: URL;
  private conditionalWrites: ConditionalWrites;
  /** How this server wants ETags in If-Match on PUT (see putAfterQuotedEtagRefused). */
  private putEtagForm: "quoted" | "bare" = "quoted";

  constructor(readonly config: S3BackendConfig) {
    this.base = new URL(config.endpoint);
    this.name = `s3:${this.base.origin}/${config.bucket}`;
    this.conditionalWrites = config.conditionalWrites;
    // retries: 0 — this class runs its own retry loop (see retry.ts for why).
    this.client = new AwsClient({
      accessKeyId: config.accessKeyId,
      secretAccessKey: config.secretAccessKey,
      sessionToken: config.sessionToken,
      service: "s3",
      region: config.region,
      retries: 0,
    });
  }

  // ---- reads ----

  async head(key: string): Promise<StoredObject | null> {
    const { response, watchdog } = await this.call({
      op: "HeadObject", method: "HEAD", url: this.objectUrl(key), retry: true,
      accept: (status) => status === 404,
    });
    watchdog.stop();
    if (response.status === 404) return null;
    return storedFromHeaders(key, response.headers, contentLength(response.headers));
  }

  async get(key: string, range?: ByteRange): Promise<StoredObjectBody | null> {
    const headers: Record<string, string> = {};
    if (range) headers.range = rangeHeader(range);
    const { response, watchdog } = await this.call({
      op: "GetObject", method: "GET", url: this.objectUrl(key), headers, retry: true,
      accept: (status) => status === 404,
    });
    if (response.status === 404) {
      watchdog.stop();
      await drain(response);
      return null;
    }
    const served = parseContentRange(response.headers.get("content-range"));
    const size = served?.size ?? contentLength(response.headers);
    const object = storedFromHeaders(key, response.headers, size);
    const start = served?.offset ?? 0;
    const length = served?.length ?? size;
    const body = this.resumableBody(key, object.etag, response, watchdog, start, length);
    const result: StoredObjectBody = { ...object, body };
    if (range) result.range = { offset: start, length };
    return result;
  }

  async list(options: ListOptions): Promise<ListPage> {
    const query: Record<string, string | undefined> = {
      "list-type": "2",
      "encoding-type": "url",
      prefix: options.prefix || undefined,
      delimiter: options.delimiter || undefined,
      "max-keys": String(options.limit ?? 1000),
      "continuation-token": options.cursor,
      "start-after": options.cursor ? undefined : options.startAfter,
    };
    const { response, watchdog } = await this.call({
      op: "ListObjectsV2", method: "GET", url: this.bucketUrl(query), retry: true,
    });
    const text = await readText(response, watchdog);
    const result = xml.parse(text).ListBucketResult ?? {};
    const objects: StoredObject[] = (result.Contents ?? []).map((entry: Record<string, unknown>) => ({
      key: decodeListedKey(text_(entry.Key)),
      size: Number(text_(entry.Size)),
      etag: unquote(text_(entry.ETag)),
      lastModified: new Date(text_(entry.LastModified)),
      metadata: {},
    }));
    const commonPrefixes = (result.CommonPrefixes ?? []).map((entry: Record<string, unknown>) =>
      decodeListedKey(text_(entry.Prefix)));
    const truncated = text_(result.IsTruncated) === "true";
    const cursor = truncated ? text_(result.NextContinuationToken) || undefined : undefined;
    if (options.includeMetadata) await this.fillMetadata(objects);
    return { objects, commonPrefixes, truncated, cursor };
  }

  /**
   * ListObjectsV2 returns no user metadata, so each listed object costs one HEAD (one Workers subrequest).
   * A key deleted between the LIST and its HEAD is dropped from the page rather than shown without metadata.
   */
  private async fillMetadata(objects: StoredObject[]): Promise<void> {
    const gone = new Set<StoredObject>();
    await forEachLimited(objects, this.config.listMetadataConcurrency, async (object) => {
      const fresh = await this.head(object.key);
      if (!fresh) gone.add(object);
      else Object.assign(object, { metadata: fresh.metadata, contentType: fresh.contentType });
    });
    if (gone.size) objects.splice(0, objects.length, ...objects.filter((object) => !gone.has(object)));
  }

  // ---- writes ----

  async put(
    key: string,
    body: ReadableStream<Uint8Array> | Uint8Array | string,
    length: number,
    options: PutOptions = {},
  ): Promise<StoredObject | null> {
    const bytes = typeof body === "string" ? new TextEncoder().encode(body) : body;
    if (bytes instanceof Uint8Array && bytes.byteLength !== length) {
      throw new S3Error("IncompleteBody", "The body is not as long as its declared length.");
    }
    if (options.onlyIfAbsent && this.conditionalWrites === "emulated" && (await this.head(key))) return null;
    const headers = objectHeaders(options);
    if (options.onlyIfAbsent && this.conditionalWrites === "native") headers["if-none-match"] = "*";
    else if (options.onlyIfEtag) {
      headers["if-match"] = this.putEtagForm === "quoted" ? `"${options.onlyIfEtag}"` : options.onlyIfEtag;
    }
    const md5 = bytes instanceof Uint8Array ? await md5Hex(bytes) : undefined;
    if (md5) headers["content-md5"] = hexToBase64(md5);

    const { response, watchdog, code, ambiguous } = await this.call({
      op: "PutObject", method: "PUT", url: this.objectUrl(key), headers,
      ...(bytes instanceof Uint8Array ? { bytes, retry: true } : { stream: { body: bytes, length }, retry: false }),
      // 404: If-Match on a missing key (AWS); 501: the server does not do If-None-Match.
      accept: (status) => status === 412 || (status === 404 && !!options.onlyIfEtag) || status === 501,
    });
    watchdog.stop();
    await drain(response);

    if (response.status === 501 && headers["if-none-match"]) {
      return this.putAfterNativeConditionalsRefused(key, bytes, length, options);
    }
    if (response.status === 501) throw this.failure("PutObject", key, { status: 501, code });
    if (response.status === 412 || response.status === 404) {
      // A retry after an attempt whose answer was lost may meet our own write: that is a success.
      if (ambiguous && md5) {
        const current = await this.head(key);
        if (current && current.etag === md5) return current;
      }
      if (response.status === 412 && options.onlyIfEtag && this.putEtagForm === "quoted") {
        return this.putAfterQuotedEtagRefused(key, bytes, length, options);
      }
      return null;
    }
    return {
      key,
      size: length,
      etag: unquote(response.headers.get("etag") ?? md5 ?? ""),
      lastModified: new Date(response.headers.get("last-modified") ?? response.headers.get("date") ?? Date.now()),
      metadata: { ...(options.metadata ?? {}) },
      contentType: options.contentType,
    };
  }

  /**
   * RFC 9110 and AWS take a quoted ETag in If-Match, but some servers (Ceph RGW 16) compare the bare hex on
   * PUT and refuse a quoted one that does match. When a 412 comes back while the object still has exactly
   * the expected ETag, switch this instance to bare ETags and write again (a one-shot stream cannot be
   * sent again: that one call fails with a retryable error).
   */
  private async putAfterQuotedEtagRefused(
    key: string, body: ReadableStream<Uint8Array> | Uint8Array, length: number, options: PutOptions,
  ): Promise<StoredObject | null> {
    const current = await this.head(key);
    if (!current || current.etag !== options.onlyIfEtag) return null;
    console.warn(`[${this.name}] server refuses quoted ETags in If-Match on PUT; sending bare ETags from now on`);
    this.putEtagForm = "bare";
    if (body instanceof ReadableStream) {
      throw new S3Error("InternalError", "The storage backend refused a conditional write; please retry.");
    }
    return this.put(key, body, length, options);
  }

  /** The server answered 501 to If-None-Match: remember that, and create by HEAD-then-PUT from now on. */
  private async putAfterNativeConditionalsRefused(
    key: string, body: ReadableStream<Uint8Array> | Uint8Array, length: number, options: PutOptions,
  ): Promise<StoredObject | null> {
    console.warn(`[${this.name}] server refuses If-None-Match on PUT; using HEAD-then-PUT (conditionalWrites=emulated)`);
    this.conditionalWrites = "emulated";
    if (body instanceof ReadableStream) {
      throw new S3Error("InternalError", "The storage backend does not support conditional writes; please retry.");
    }
    return this.put(key, body, length, options);
  }

  async delete(keys: string[]): Promise<void> {
    const unique = [...new Set(keys)];
    if (unique.length > 1000) throw new S3Error("MalformedXML", "At most 1000 keys can be deleted at once.");
    // XML 1.0 cannot carry most control characters, so such keys go through single DELETEs.
    const xmlSafe = unique.filter((key) => !/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/.test(key));
    const unsafe = unique.filter((key) => !xmlSafe.includes(key));
    if (xmlSafe.length === 1) unsafe.push(xmlSafe.pop()!);
    if (xmlSafe.length > 0) await this.deleteBatch(xmlSafe);
    await forEachLimited(unsafe, this.config.listMetadataConcurrency, (key) => this.deleteOne(key));
  }

  private async deleteBatch(keys: string[]): Promise<void> {
    const objects = keys.map((key) => `<Object><Key>${xmlEscape(key)}</Key></Object>`).join("");
    const bytes = new TextEncoder().encode(`<Delete><Quiet>true</Quiet>${objects}</Delete>`);
    const { response, watchdog } = await this.call({
      op: "DeleteObjects", method: "POST", url: this.bucketUrl({ delete: "" }),
      headers: { "content-type": "application/xml", "content-md5": hexToBase64(await md5Hex(bytes)) },
      bytes, retry: true, accept: (status) => status === 501,
    });
    if (response.status === 501) {
      // Some S3-compatible servers (e.g. GCS's XML API) have no multi-object delete.
      watchdog.stop();
      await drain(response);
      await forEachLimited(keys, this.config.listMetadataConcurrency, (key) => this.deleteOne(key));
      return;
    }
    const errors: Record<string, unknown>[] = xml.parse(await readText(response, watchdog)).DeleteResult?.Error ?? [];
    const failed = errors.filter((error) => text_(error.Code) !== "NoSuchKey");
    if (failed.length === 0) return;
    // A 200 with per-key errors: those keys get their own (retried) DELETE; a persistent failure throws.
    await forEachLimited(failed.map((error) => decodeListedKey(text_(error.Key), false)),
      this.config.listMetadataConcurrency, (key) => this.deleteOne(key));
  }

  private async deleteOne(key: string): Promise<void> {
    const { response, watchdog } = await this.call({
      op: "DeleteObject", method: "DELETE", url: this.objectUrl(key), retry: true,
      accept: (status) => status === 404,
    });
    watchdog.stop();
    await drain(response);
  }

  // ---- multipart ----

  async createMultipart(key: string, options: PutOptions = {}): Promise<BackendMultipart> {
    const { response, watchdog } = await this.call({
      op: "CreateMultipartUpload", method: "POST", url: this.objectUrl(key, { uploads: "" }),
      headers: objectHeaders(options), bytes: new Uint8Array(0),
      // A repeat may leave an unused upload behind; the bucket's abort-incomplete lifecycle rule removes it.
      retry: true,
    });
    const uploadId = text_(xml.parse(await readText(response, watchdog)).InitiateMultipartUploadResult?.UploadId);
    if (!uploadId) throw this.failure("CreateMultipartUpload", key, { status: response.status, code: "NoUploadId" });
    return new S3Multipart(this, key, uploadId);
  }

  resumeMultipart(key: string, uploadId: string): BackendMultipart {
    return new S3Multipart(this, key, uploadId);
  }

  // ---- the one place requests are made ----

  /** Sends a signed request, retrying what is safe to retry; non-accepted failures throw an S3Error. */
  async call(spec: CallSpec): Promise<CallResult> {
    const policy = this.config.retry;
    const attempts = spec.retry ? Math.max(1, policy.attempts) : 1;
    let ambiguous = false;
    let last: FailureDetail = {};
    for (let attempt = 1; attempt <= attempts; attempt++) {
      if (attempt > 1) await sleep(backoffDelay(policy, attempt - 1, last.retryAfter));
      const watchdog = new StallWatchdog(policy.stallTimeoutMs);
      let response: Response;
      try {
        response = await this.send(spec, watchdog);
      } catch (error) {
        watchdog.stop();
        ambiguous = true;
        last = { timeout: watchdog.stalled, network: !watchdog.stalled, message: String(error) };
        if (error instanceof S3Error) throw error;
        continue;
      }
      if (response.ok) return { response, watchdog, ambiguous };
      const code = await errorCode(response, watchdog);
      if (spec.accept?.(response.status, code)) return { response, watchdog, code, ambiguous };
      watchdog.stop();
      last = { status: response.status, code, retryAfter: response.headers.get("retry-after") };
      if (!isRetriableStatus(response.status, code)) break;
      // A 5xx after the body went out may still have been applied (e.g. a lost Complete).
      ambiguous = true;
    }
    throw this.failure(spec.op, keyOf(spec.url), last);
  }

  private async send(spec: CallSpec, watchdog: StallWatchdog): Promise<Response> {
    const headers = { ...spec.headers };
    if (!spec.stream) {
      const request = await this.client.sign(spec.url, {
        method: spec.method, headers, body: spec.bytes, signal: watchdog.signal,
      });
      return fetch(request);
    }
    const pipeControl = new AbortController();
    const sized = sizedUploadBody(spec.stream.body, spec.stream.length, watchdog, pipeControl.signal);
    const uploadError = sized.done.then(() => undefined, (error: unknown) => error ?? new Error("upload failed"));
    const request = await this.client.sign(spec.url, {
      method: spec.method, headers, body: sized.readable, signal: watchdog.signal,
    });
    let response: Response;
    try {
      response = await fetch(request);
    } catch (error) {
      pipeControl.abort();
      const cause = await uploadError;
      // Our own length check fired first: that is the client's fault, and nothing was stored.
      throw cause instanceof S3Error ? cause : error;
    }
    // Refused before reading it all (412, 4xx, 5xx): stop pulling the source.
    if (!response.ok) pipeControl.abort();
    else await uploadError;
    return response;
  }

  /** Turns what went wrong into the error the client sees, and logs the raw detail for the operator. */
  failure(op: string, key: string, detail: FailureDetail): S3Error {
    console.error(`[${this.name}] ${op} ${JSON.stringify(key)} failed:`,
      detail.status ?? "-", detail.code ?? "-", detail.timeout ? "timeout" : "", detail.message ?? "");
    if (detail.status !== undefined && isThrottling(detail.status, detail.code)) {
      return new S3Error("SlowDown", "Please reduce your request rate: the storage backend is busy.");
    }
    const passThrough = detail.code && CLIENT_VISIBLE_CODES.has(detail.code as S3ErrorCode) ? detail.code as S3ErrorCode : undefined;
    if (passThrough) return new S3Error(passThrough, CLIENT_VISIBLE_CODES.get(passThrough)!);
    if (detail.status === 403) {
      return new S3Error("InternalError", "The storage backend refused this proxy's credentials.");
    }
    if (detail.code === "NoSuchBucket") {
      return new S3Error("InternalError", "The storage backend's bucket does not exist.");
    }
    if (detail.timeout) return new S3Error("InternalError", "The storage backend did not answer in time. Please try again.");
    return new S3Error("InternalError", "The storage backend failed. Please try again.");
  }

  // ---- addressing ----

  objectUrl(key: string, query?: Record<string, string | undefined>): string {
    const path = this.bucketPath() + "/" + key.split("/").map(encodeURIComponent).join("/");
    const url = new URL(this.origin() + path + queryString(query));
    // The URL parser folds "." and ".." segments; S3 would then see another key. Refuse instead.
    if (url.pathname !== path) {
      throw new S3Error("InvalidArgument", "This storage backend cannot store keys with '.' or '..' path segments.");
    }
    return url.toString();
  }

  private bucketUrl(query?: Record<string, string | undefined>): string {
    return this.origin() + (this.bucketPath() || "/") + queryString(query);
  }

  private origin(): string {
    return this.config.pathStyle ? this.base.origin : `${this.base.protocol}//${this.config.bucket}.${this.base.host}`;
  }

  private bucketPath(): string {
    const basePath = this.base.pathname.replace(/\/+$/, "");
    return this.config.pathStyle ? `${basePath}/${encodeURIComponent(this.config.bucket)}` : basePath;
  }

  // ---- downloads that survive a reset ----

  private resumableBody(
    key: string, etag: string, first: Response, firstWatchdog: StallWatchdog, start: number, length: number,
  ): ReadableStream<Uint8Array> {
    let watchdog = firstWatchdog;
    let reader = throughWatchdog(first, watchdog).getReader();
    let received = 0;
    let resumes = 0;
    const reopen = async (): Promise<void> => {
      const end = start + length - 1;
      const { response, watchdog: next } = await this.call({
        op: "GetObject(resume)", method: "GET", url: this.objectUrl(key), retry: true,
        headers: { range: `bytes=${start + received}-${end}`, "if-match": `"${etag}"` },
      });
      watchdog = next;
      reader = throughWatchdog(response, watchdog).getReader();
    };
    return new ReadableStream<Uint8Array>({
      pull: async (controller) => {
        for (;;) {
          let failure: unknown;
          try {
            const { done, value } = await reader.read();
            if (!done) {
              received += value.byteLength;
              if (received > length) throw new Error("the backend sent more bytes than announced");
              controller.enqueue(value);
              return;
            }
            if (received === length) {
              watchdog.stop();
              controller.close();
              return;
            }
            failure = new Error(`body ended after ${received} of ${length} bytes`);
          } catch (error) {
            failure = error;
          }
          watchdog.stop();
          if (++resumes >= Math.max(1, this.config.retry.attempts)) {
            controller.error(this.failure("GetObject(body)", key, { timeout: watchdog.stalled, message: String(failure) }));
            return;
          }
          await sleep(backoffDelay(this.config.retry, resumes));
          try {
            await reopen();
          } catch (error) {
            // 412 here means the object was replaced mid-read: never splice two versions.
            controller.error(error instanceof S3Error ? error : this.failure("GetObject(resume)", key, { message: String(error) }));
            return;
          }
        }
      },
      cancel: async (reason) => {
        watchdog.stop();
        await reader.cancel(reason).catch(() => {});
      },
    });
  }
}

class S3Multipart implements BackendMultipart {
  constructor(private readonly backend: S3Backend, readonly key: string, readonly uploadId: string) {}

  async uploadPart(
    partNumber: number, body: ReadableStream<Uint8Array> | Uint8Array, length: number,
  ): Promise<MultipartPart> {
    const headers: Record<string, string> = {};
    if (body instanceof Uint8Array) {
      if (body.byteLength !== length) throw new S3Error("IncompleteBody", "The part is not as long as declared.");
      headers["content-md5"] = hexToBase64(await md5Hex(body));
    }
    const { response, watchdog } = await this.backend.call({
      op: "UploadPart", method: "PUT", headers,
      url: this.backend.objectUrl(this.key, { partNumber: String(partNumber), uploadId: this.uploadId }),
      ...(body instanceof Uint8Array ? { bytes: body, retry: true } : { stream: { body, length }, retry: false }),
    });
    watchdog.stop();
    await drain(response);
    return { partNumber, etag: unquote(response.headers.get("etag") ?? "") };
  }

  async complete(parts: MultipartPart[]): Promise<StoredObject> {
    const list = [...parts].sort((a, b) => a.partNumber - b.partNumber)
      .map((part) => `<Part><PartNumber>${part.partNumber}</PartNumber><ETag>"${xmlEscape(part.etag)}"</ETag></Part>`);
    const bytes = new TextEncoder().encode(`<CompleteMultipartUpload>${list.join("")}</CompleteMultipartUpload>`);
    const { response, watchdog, ambiguous } = await this.backend.call({
      op: "CompleteMultipartUpload", method: "POST", url: this.backend.objectUrl(this.key, { uploadId: this.uploadId }),
      headers: { "content-type": "application/xml" }, bytes, retry: true,
      accept: (status, code) => status === 404 && code === "NoSuchUpload",
    });
    if (response.status === 404) {
      watchdog.stop();
      // Our earlier attempt may have completed the upload before its answer was lost.
      const stored = ambiguous ? await this.backend.head(this.key) : null;
      if (stored && stored.etag.endsWith(`-${parts.length}`)) return stored;
      throw new S3Error("NoSuchUpload", CLIENT_VISIBLE_CODES.get("NoSuchUpload")!);
    }
    // S3 may answer 200 and still fail: the error is then in the body.
    const parsed = xml.parse(await readText(response, watchdog));
    const error = parsed.Error?.[0];
    if (error) throw this.backend.failure("CompleteMultipartUpload", this.key, { status: 200, code: text_(error.Code) });
    const stored = await this.backend.head(this.key);
    if (!stored) throw this.backend.failure("CompleteMultipartUpload", this.key, { code: "MissingAfterComplete" });
    return stored;
  }

  async abort(): Promise<void> {
    const { response, watchdog } = await this.backend.call({
      op: "AbortMultipartUpload", method: "DELETE", retry: true,
      url: this.backend.objectUrl(this.key, { uploadId: this.uploadId }),
      accept: (status) => status === 404,
    });
    watchdog.stop();
    await drain(response);
  }
}

// ---- helpers ----

interface FailureDetail {
  status?: number;
  code?: string;
  timeout?: boolean;
  network?: boolean;
  message?: string;
  retryAfter?: string | null;
}

/** Backend error codes that mean the same thing to our client; each gets our own message. */
const CLIENT_VISIBLE_CODES = new Map<S3ErrorCode, string>([
  ["NoSuchUpload", "The specified multipart upload does not exist."],
  ["InvalidPart", "One or more of the specified parts could not be found."],
  ["InvalidPartOrder", "The list of parts was not in ascending order."],
  ["EntityTooSmall", "Your proposed upload is smaller than the minimum allowed object size."],
  ["EntityTooLarge", "Your proposed upload exceeds the maximum allowed size."],
  ["InvalidRange", "The requested range is not satisfiable."],
  ["KeyTooLongError", "Your key is too long."],
  ["MetadataTooLarge", "Your metadata headers exceed the maximum allowed metadata size."],
  ["BadDigest", "The Content-MD5 you specified did not match what was received."],
]);

function keyOf(url: string): string {
  return decodeURIComponent(new URL(url).pathname);
}

function queryString(query?: Record<string, string | undefined>): string {
  if (!query) return "";
  const parts = Object.entries(query)
    .filter((entry): entry is [string, string] => entry[1] !== undefined)
    // encodeURIComponent never emits "+", which some servers would read as a space.
    .map(([name, value]) => (value === "" ? encodeRfc3986(name) : `${encodeRfc3986(name)}=${encodeRfc3986(value)}`));
  return parts.length ? `?${parts.join("&")}` : "";
}

function encodeRfc3986(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** With encoding-type=url, S3 URL-encodes keys in listings (spaces may come as "+"). */
function decodeListedKey(value: string, urlEncoded = true): string {
  return urlEncoded ? decodeURIComponent(value.replace(/\+/g, " ")) : value;
}

function text_(value: unknown): string {
  if (value === undefined || value === null) return "";
  if (typeof value === "object" && "#text" in (value as object)) return String((value as Record<string, unknown>)["#text"]);
  return String(value);
}

function unquote(etag: string): string {
  return etag.replace(/^W\//, "").replace(/^"(.*)"$/, "$1");
}

function xmlEscape(value: string): string {
  return value.replace(/[&<>"'\r\n\t]/g, (c) => `&#${c.charCodeAt(0)};`);
}

function rangeHeader(range: ByteRange): string {
  if ("suffix" in range) return `bytes=-${range.suffix}`;
  return range.length === undefined
    ? `bytes=${range.offset}-`
    : `bytes=${range.offset}-${range.offset + range.length - 1}`;
}

function parseContentRange(value: string | null): { offset: number; length: number; size: number } | undefined {
  const match = value?.match(/^bytes (\d+)-(\d+)\/(\d+)$/);
  if (!match) return undefined;
  const offset = Number(match[1]);
  return { offset, length: Number(match[2]) - offset + 1, size: Number(match[3]) };
}

function contentLength(headers: Headers): number {
  return Number(headers.get("content-length") ?? 0);
}

// ---- metadata in headers ----

/**
 * Header values must be printable ASCII, and fetch trims them. Values that would not survive (non-ASCII,
 * edge or repeated spaces, control characters, or text that looks encoded) go as RFC 2047 UTF-8 base64 —
 * the form AWS S3 itself uses to return non-ASCII metadata — and are decoded on the way back.
 */
function encodeMetadataValue(value: string): string {
  if (/^(?:[\x21-\x7e]+(?: [\x21-\x7e]+)*)?$/.test(value) && !/^=\?.*\?=$/.test(value)) return value;
  return `=?UTF-8?B?${bytesToBase64(new TextEncoder().encode(value))}?=`;
}

function decodeMetadataValue(value: string): string {
  const match = value.match(/^=\?UTF-8\?B\?([A-Za-z0-9+/=]*)\?=$/i);
  if (!match) return value;
  try {
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(base64ToBytes(match[1]));
  } catch {
    return value;
  }
}

function objectHeaders(options: PutOptions): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(options.metadata ?? {})) {
    headers[`x-amz-meta-${name.toLowerCase()}`] = encodeMetadataValue(value);
  }
  if (options.contentType) headers["content-type"] = options.contentType;
  return headers;
}

function storedFromHeaders(key: string, headers: Headers, size: number): StoredObject {
  const metadata: Record<string, string> = {};
  headers.forEach((value, name) => {
    if (name.startsWith("x-amz-meta-")) metadata[name.slice("x-amz-meta-".length)] = decodeMetadataValue(value);
  });
  return {
    key,
    size,
    etag: unquote(headers.get("etag") ?? ""),
    lastModified: new Date(headers.get("last-modified") ?? Date.now()),
    metadata,
    contentType: headers.get("content-type") ?? undefined,
  };
}

// ---- bodies ----

/** Frees the connection of a response whose body nobody will read. */
async function drain(response: Response): Promise<void> {
  if (response.body && !response.bodyUsed && !response.body.locked) await response.body.cancel().catch(() => {});
}

async function readText(response: Response, watchdog: StallWatchdog): Promise<string> {
  try {
    return await new Response(throughWatchdog(response, watchdog)).text();
  } finally {
    watchdog.stop();
  }
}

async function errorCode(response: Response, watchdog: StallWatchdog): Promise<string | undefined> {
  if (!response.body) return undefined;
  try {
    const text = await new Response(throughWatchdog(response, watchdog)).text();
    return text_(xml.parse(text).Error?.[0]?.Code) || undefined;
  } catch {
    return undefined;
  }
}

function throughWatchdog(response: Response, watchdog: StallWatchdog): ReadableStream<Uint8Array> {
  return (response.body ?? new Response("").body!).pipeThrough(watchdog.progressStream());
}

/**
 * The upload body: exactly `length` bytes, or an error before the last of them is sent. The final chunk is
 * held back until the source has ended and the count is exact, so a short or long source can never make the
 * server see a complete request (it would then store a wrong object). FixedLengthStream declares the length
 * (S3 requires Content-Length) without buffering.
 */
function sizedUploadBody(
  source: ReadableStream<Uint8Array>, length: number, watchdog: StallWatchdog, signal: AbortSignal,
): { readable: ReadableStream<Uint8Array>; done: Promise<void> } {
  let held: Uint8Array | undefined;
  let seen = 0;
  const tooLong = () => new S3Error("IncompleteBody", "The request body is longer than its declared length.");
  const holdBack = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      watchdog.kick();
      seen += chunk.byteLength;
      if (seen > length) throw tooLong();
      if (held) controller.enqueue(held);
      held = chunk;
    },
    flush(controller) {
      if (seen !== length) throw new S3Error("IncompleteBody", "The request body ended before its declared length.");
      if (held) controller.enqueue(held);
    },
  });
  const { readable, writable } = new FixedLengthStream(length);
  const done = source.pipeThrough(holdBack).pipeTo(writable, { signal });
  return { readable, done };
}

// ---- small utilities ----

async function md5Hex(bytes: Uint8Array): Promise<string> {
  // workerd implements MD5 in SubtleCrypto (non-standard, for exactly this kind of use).
  const digest = await crypto.subtle.digest("MD5", bytes);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

function hexToBase64(hex: string): string {
  const bytes = new Uint8Array(hex.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return bytesToBase64(bytes);
}

function bytesToBase64(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}

function base64ToBytes(base64: string): Uint8Array {
  return Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
}

async function forEachLimited<T>(items: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await work(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(Math.max(1, limit), items.length) }, worker));
}
