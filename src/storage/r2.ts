// Backend over a Workers R2 binding.
import type {
  Backend, BackendMultipart, ByteRange, ListOptions, ListPage, MultipartPart, PutOptions, StoredObject,
  StoredObjectBody,
} from "./backend";

export class R2Backend implements Backend {
  readonly name: string;

  constructor(private readonly bucket: R2Bucket, bindingName = "R2") {
    this.name = `r2:${bindingName}`;
  }

  async head(key: string): Promise<StoredObject | null> {
    const object = await this.bucket.head(key);
    return object ? toStoredObject(object) : null;
  }

  async get(key: string, range?: ByteRange): Promise<StoredObjectBody | null> {
    const object = await this.bucket.get(key, range ? { range } : undefined);
    if (!object || !("body" in object)) return null;
    const result: StoredObjectBody = { ...toStoredObject(object), body: object.body };
    const served = object.range as { offset?: number; length?: number; suffix?: number } | undefined;
    if (range && served) result.range = resolvedRange(served, object.size);
    return result;
  }

  async put(
    key: string,
    body: ReadableStream<Uint8Array> | Uint8Array | string,
    length: number,
    options: PutOptions = {},
  ): Promise<StoredObject | null> {
    const r2Options: R2PutOptions = {
      customMetadata: options.metadata ?? {},
      httpMetadata: options.contentType ? { contentType: options.contentType } : undefined,
    };
    if (options.onlyIfAbsent) r2Options.onlyIf = { etagDoesNotMatch: "*" };
    else if (options.onlyIfEtag) r2Options.onlyIf = { etagMatches: options.onlyIfEtag };
    const object = await withKnownLength(body, length, (sized) => this.bucket.put(key, sized, r2Options));
    return object ? toStoredObject(object) : null;
  }

  async delete(keys: string[]): Promise<void> {
    if (keys.length > 0) await this.bucket.delete(keys);
  }

  async list(options: ListOptions): Promise<ListPage> {
    const result = await this.bucket.list({
      prefix: options.prefix,
      delimiter: options.delimiter,
      cursor: options.cursor,
      startAfter: options.cursor ? undefined : options.startAfter,
      limit: options.limit,
      include: options.includeMetadata ? ["customMetadata", "httpMetadata"] : undefined,
    });
    return {
      objects: result.objects.map(toStoredObject),
      commonPrefixes: result.delimitedPrefixes,
      truncated: result.truncated,
      cursor: result.truncated ? result.cursor : undefined,
    };
  }

  async createMultipart(key: string, options: PutOptions = {}): Promise<BackendMultipart> {
    const upload = await this.bucket.createMultipartUpload(key, {
      customMetadata: options.metadata ?? {},
      httpMetadata: options.contentType ? { contentType: options.contentType } : undefined,
    });
    return new R2Multipart(upload);
  }

  resumeMultipart(key: string, uploadId: string): BackendMultipart {
    return new R2Multipart(this.bucket.resumeMultipartUpload(key, uploadId));
  }
}

class R2Multipart implements BackendMultipart {
  constructor(private readonly upload: R2MultipartUpload) {}
  get key(): string { return this.upload.key; }
  get uploadId(): string { return this.upload.uploadId; }

  async uploadPart(partNumber: number, body: ReadableStream<Uint8Array> | Uint8Array, length: number): Promise<MultipartPart> {
    const part = await withKnownLength(body, length, (sized) => this.upload.uploadPart(partNumber, sized));
    return { partNumber: part.partNumber, etag: part.etag };
  }

  async complete(parts: MultipartPart[]): Promise<StoredObject> {
    return toStoredObject(await this.upload.complete(parts));
  }

  async abort(): Promise<void> {
    await this.upload.abort();
  }
}

function toStoredObject(object: R2Object): StoredObject {
  return {
    key: object.key,
    size: object.size,
    etag: object.etag,
    lastModified: object.uploaded,
    metadata: object.customMetadata ?? {},
    contentType: object.httpMetadata?.contentType,
  };
}

function resolvedRange(range: { offset?: number; length?: number; suffix?: number }, size: number) {
  if (range.suffix !== undefined) {
    const length = Math.min(range.suffix, size);
    return { offset: size - length, length };
  }
  const offset = range.offset ?? 0;
  return { offset, length: range.length ?? size - offset };
}

/**
 * R2 refuses a stream of unknown length. A FixedLengthStream declares it, and errors if the body turns out
 * shorter or longer, so a truncated upload can never be stored as if complete.
 */
async function withKnownLength<T>(
  body: ReadableStream<Uint8Array> | Uint8Array | string,
  length: number,
  write: (sized: ReadableStream<Uint8Array> | Uint8Array | string) => Promise<T>,
): Promise<T> {
  if (!(body instanceof ReadableStream)) return write(body);
  const { readable, writable } = new FixedLengthStream(length);
  const pump = body.pipeTo(writable);
  const [written, piped] = await Promise.allSettled([write(readable), pump]);
  if (piped.status === "rejected") throw piped.reason;
  if (written.status === "rejected") throw written.reason;
  return written.value;
}
