// Backend over a remote S3-compatible server (AWS S3, MinIO, Ceph RGW, Hetzner, Backblaze, a bucket written by
// DeltaGlider). Same contract as the R2 binding (backend.ts). This file maps the Backend operations onto S3
// requests; the parts each have a module:
//   s3-call.ts            sign, fetch, retry, and the errors the client sees (the one place requests are made)
//   s3-upload-body.ts     a streamed upload never leaves a half-written object
//   s3-resumable-read.ts  a download that stalls or resets resumes, pinned to the same ETag
//   s3-compat.ts          conditional PUTs on servers that do them differently (Ceph RGW)
//   s3-multipart.ts       native multipart uploads
//   s3-urls.ts, s3-headers.ts, s3-xml.ts   addressing, headers and XML of the S3 protocol
//
// Guarantees the engine relies on (details in those modules): idempotent calls are retried, one-shot streams
// are not; failures become S3Error 503 SlowDown / 500 InternalError and the backend's own answers are only
// logged; a half-written object is never visible; a resumed download never splices two versions.
import { S3Error } from "../errors";
import type {
  Backend, BackendMultipart, ByteRange, ListOptions, ListPage, PutOptions, StoredObject, StoredObjectBody,
} from "./backend";
import type { RetryPolicy } from "./retry";
import { drain, readText, S3Caller, type S3Credentials } from "./s3-call";
import { ServerAdaptations, type ConditionalWrites } from "./s3-compat";
import {
  contentLength, contentMd5, md5Hex, objectHeaders, parseContentRange, rangeHeader, storedFromHeaders, unquote,
} from "./s3-headers";
import { S3Multipart } from "./s3-multipart";
import { resumableBody } from "./s3-resumable-read";
import { S3Urls, type S3Location } from "./s3-urls";
import { deleteRequestBody, isXmlSafeKey, parseFailedDeletes, parseListPage, parseUploadId } from "./s3-xml";

export type { ConditionalWrites };

export interface S3BackendConfig extends S3Location, S3Credentials {
  conditionalWrites: ConditionalWrites;
  retry: RetryPolicy;
  /** At most this many HEADs at once when a listing must carry metadata (Workers allow 6 open connections). */
  listMetadataConcurrency: number;
}

export function createS3Backend(config: S3BackendConfig): S3Backend {
  return new S3Backend(config);
}

export class S3Backend implements Backend {
  readonly name: string;
  private readonly urls: S3Urls;
  private readonly caller: S3Caller;
  private readonly adaptations: ServerAdaptations;

  constructor(readonly config: S3BackendConfig) {
    this.urls = new S3Urls(config);
    this.name = this.urls.name;
    this.caller = new S3Caller(this.name, config, config.retry);
    this.adaptations = new ServerAdaptations(this.name, config.conditionalWrites);
  }

  // ---- reads ----

  async head(key: string): Promise<StoredObject | null> {
    const { response, watchdog } = await this.caller.call({
      op: "HeadObject", method: "HEAD", url: this.urls.object(key), retry: true,
      accept: (status) => status === 404,
    });
    watchdog.stop();
    if (response.status === 404) return null;
    return storedFromHeaders(key, response.headers, contentLength(response.headers));
  }

  async get(key: string, range?: ByteRange): Promise<StoredObjectBody | null> {
    const headers: Record<string, string> = {};
    if (range) headers.range = rangeHeader(range);
    const url = this.urls.object(key);
    const { response, watchdog } = await this.caller.call({
      op: "GetObject", method: "GET", url, headers, retry: true,
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
    const body = resumableBody({
      caller: this.caller, url, key, etag: object.etag, first: response, firstWatchdog: watchdog, start, length,
    });
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
    const { response, watchdog } = await this.caller.call({
      op: "ListObjectsV2", method: "GET", url: this.urls.bucket(query), retry: true,
    });
    const page = parseListPage(await readText(response, watchdog));
    if (options.includeMetadata) await this.fillMetadata(page.objects);
    return page;
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
    if (options.onlyIfAbsent && this.adaptations.emulatesConditionalCreates && (await this.head(key))) return null;
    const headers = { ...objectHeaders(options), ...this.adaptations.conditionHeaders(options) };
    const md5 = bytes instanceof Uint8Array ? await md5Hex(bytes) : undefined;
    if (md5) headers["content-md5"] = contentMd5(md5);

    const { response, watchdog, code, ambiguous } = await this.caller.call({
      op: "PutObject", method: "PUT", url: this.urls.object(key), headers,
      ...(bytes instanceof Uint8Array ? { bytes, retry: true } : { stream: { body: bytes, length }, retry: false }),
      // 404: If-Match on a missing key (AWS); 501: the server does not do If-None-Match.
      accept: (status) => status === 412 || (status === 404 && !!options.onlyIfEtag) || status === 501,
    });
    watchdog.stop();
    await drain(response);

    const putAgain = () => this.put(key, bytes, length, options);
    if (response.status === 501 && headers["if-none-match"]) {
      return this.adaptations.afterNativeConditionalsRefused(bytes, putAgain);
    }
    if (response.status === 501) throw this.caller.failure("PutObject", key, { status: 501, code });
    if (response.status === 412 || response.status === 404) {
      // A retry after an attempt whose answer was lost may meet our own write: that is a success.
      if (ambiguous && md5) {
        const current = await this.head(key);
        if (current && current.etag === md5) return current;
      }
      if (response.status === 412 && options.onlyIfEtag && this.adaptations.mayRefuseQuotedEtags) {
        return this.adaptations.afterQuotedEtagRefused(await this.head(key), options.onlyIfEtag, bytes, putAgain);
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

  async delete(keys: string[]): Promise<void> {
    const unique = [...new Set(keys)];
    if (unique.length > 1000) throw new S3Error("MalformedXML", "At most 1000 keys can be deleted at once.");
    // Keys XML cannot carry go through single DELETEs.
    const xmlSafe = unique.filter(isXmlSafeKey);
    const unsafe = unique.filter((key) => !xmlSafe.includes(key));
    if (xmlSafe.length === 1) unsafe.push(xmlSafe.pop()!);
    if (xmlSafe.length > 0) await this.deleteBatch(xmlSafe);
    await forEachLimited(unsafe, this.config.listMetadataConcurrency, (key) => this.deleteOne(key));
  }

  private async deleteBatch(keys: string[]): Promise<void> {
    const bytes = new TextEncoder().encode(deleteRequestBody(keys));
    const { response, watchdog } = await this.caller.call({
      op: "DeleteObjects", method: "POST", url: this.urls.bucket({ delete: "" }),
      headers: { "content-type": "application/xml", "content-md5": contentMd5(await md5Hex(bytes)) },
      bytes, retry: true, accept: (status) => status === 501,
    });
    if (response.status === 501) {
      // Some S3-compatible servers (e.g. GCS's XML API) have no multi-object delete.
      watchdog.stop();
      await drain(response);
      await forEachLimited(keys, this.config.listMetadataConcurrency, (key) => this.deleteOne(key));
      return;
    }
    const failed = parseFailedDeletes(await readText(response, watchdog));
    if (failed.length === 0) return;
    // A 200 with per-key errors: those keys get their own (retried) DELETE; a persistent failure throws.
    await forEachLimited(failed, this.config.listMetadataConcurrency, (key) => this.deleteOne(key));
  }

  private async deleteOne(key: string): Promise<void> {
    const { response, watchdog } = await this.caller.call({
      op: "DeleteObject", method: "DELETE", url: this.urls.object(key), retry: true,
      accept: (status) => status === 404,
    });
    watchdog.stop();
    await drain(response);
  }

  // ---- multipart ----

  async createMultipart(key: string, options: PutOptions = {}): Promise<BackendMultipart> {
    const { response, watchdog } = await this.caller.call({
      op: "CreateMultipartUpload", method: "POST", url: this.urls.object(key, { uploads: "" }),
      headers: objectHeaders(options), bytes: new Uint8Array(0),
      // A repeat may leave an unused upload behind; the bucket's abort-incomplete lifecycle rule removes it.
      retry: true,
    });
    const uploadId = parseUploadId(await readText(response, watchdog));
    if (!uploadId) throw this.caller.failure("CreateMultipartUpload", key, { status: response.status, code: "NoUploadId" });
    return this.resumeMultipart(key, uploadId);
  }

  resumeMultipart(key: string, uploadId: string): BackendMultipart {
    return new S3Multipart(this.caller, this.urls, this, key, uploadId);
  }
}

async function forEachLimited<T>(items: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await work(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(Math.max(1, limit), items.length) }, worker));
}
