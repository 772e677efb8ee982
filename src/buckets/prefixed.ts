// Backend wrappers that let several S3 buckets share one R2 binding:
// - PrefixedBackend shows a key range `<root>` of an inner backend as a whole bucket (keys without the root);
// - HidingBackend hides a key range from a bucket that shares its binding with those prefixed buckets, so the
//   default bucket never lists, reads, overwrites or deletes the runtime buckets' data.
import type {
  Backend, BackendMultipart, ByteRange, ListOptions, ListPage, MultipartPart, PutOptions, StoredObject,
  StoredObjectBody,
} from "../storage/backend";
import { S3Error } from "../errors";

export class PrefixedBackend implements Backend {
  readonly name: string;

  constructor(private readonly inner: Backend, private readonly root: string) {
    this.name = `${inner.name}/${root}`;
  }

  async head(key: string): Promise<StoredObject | null> {
    const object = await this.inner.head(this.root + key);
    return object && this.strip(object);
  }

  async get(key: string, range?: ByteRange): Promise<StoredObjectBody | null> {
    const object = await this.inner.get(this.root + key, range);
    return object && this.strip(object);
  }

  async put(key: string, body: ReadableStream<Uint8Array> | Uint8Array | string, length: number, options?: PutOptions) {
    const object = await this.inner.put(this.root + key, body, length, options);
    return object && this.strip(object);
  }

  delete(keys: string[]): Promise<void> {
    return this.inner.delete(keys.map((key) => this.root + key));
  }

  async list(options: ListOptions): Promise<ListPage> {
    const page = await this.inner.list({
      ...options,
      prefix: this.root + (options.prefix ?? ""),
      startAfter: options.startAfter !== undefined ? this.root + options.startAfter : undefined,
    });
    return {
      ...page,
      objects: page.objects.map((object) => this.strip(object)),
      commonPrefixes: page.commonPrefixes.map((prefix) => prefix.slice(this.root.length)),
    };
  }

  async createMultipart(key: string, options?: PutOptions): Promise<BackendMultipart> {
    return new PrefixedMultipart(await this.inner.createMultipart(this.root + key, options), this.root);
  }

  resumeMultipart(key: string, uploadId: string): BackendMultipart {
    return new PrefixedMultipart(this.inner.resumeMultipart(this.root + key, uploadId), this.root);
  }

  private strip<T extends StoredObject>(object: T): T {
    return { ...object, key: object.key.slice(this.root.length) };
  }
}

class PrefixedMultipart implements BackendMultipart {
  constructor(private readonly inner: BackendMultipart, private readonly root: string) {}
  get key(): string { return this.inner.key.slice(this.root.length); }
  get uploadId(): string { return this.inner.uploadId; }
  uploadPart(partNumber: number, body: ReadableStream<Uint8Array> | Uint8Array, length: number): Promise<MultipartPart> {
    return this.inner.uploadPart(partNumber, body, length);
  }
  async complete(parts: MultipartPart[]): Promise<StoredObject> {
    const object = await this.inner.complete(parts);
    return { ...object, key: object.key.slice(this.root.length) };
  }
  abort(): Promise<void> { return this.inner.abort(); }
}

/** Cursor of a HidingBackend page: the inner backend's cursor, or "skip past the hidden range". */
const INNER_CURSOR = "c:";
const SKIP_CURSOR = "s:";
/** Sorts after every key that starts with the hidden root followed by ordinary characters. */
const MAX_CHAR = "\u{10FFFF}";

export class HidingBackend implements Backend {
  readonly name: string;

  constructor(private readonly inner: Backend, private readonly hidden: string) {
    this.name = inner.name;
  }

  isHidden(key: string): boolean {
    return key.startsWith(this.hidden);
  }

  head(key: string): Promise<StoredObject | null> {
    return this.isHidden(key) ? Promise.resolve(null) : this.inner.head(key);
  }

  get(key: string, range?: ByteRange): Promise<StoredObjectBody | null> {
    return this.isHidden(key) ? Promise.resolve(null) : this.inner.get(key, range);
  }

  put(key: string, body: ReadableStream<Uint8Array> | Uint8Array | string, length: number, options?: PutOptions) {
    this.refuse(key);
    return this.inner.put(key, body, length, options);
  }

  delete(keys: string[]): Promise<void> {
    return this.inner.delete(keys.filter((key) => !this.isHidden(key)));
  }

  async list(options: ListOptions): Promise<ListPage> {
    const inner: ListOptions = { ...options, cursor: undefined };
    if (options.cursor?.startsWith(SKIP_CURSOR)) inner.startAfter = options.cursor.slice(SKIP_CURSOR.length);
    else if (options.cursor?.startsWith(INNER_CURSOR)) inner.cursor = options.cursor.slice(INNER_CURSOR.length);
    else if (options.cursor !== undefined) throw new S3Error("InvalidArgument", "The continuation token provided is incorrect", { ArgumentName: "continuation-token" });
    const page = await this.inner.list(inner);
    const objects = page.objects.filter((object) => !this.isHidden(object.key));
    const commonPrefixes = page.commonPrefixes.filter((prefix) => !this.isHidden(prefix));
    let cursor: string | undefined;
    if (page.truncated) {
      const last = page.objects.at(-1)?.key;
      // A page ending inside the hidden range jumps over the rest of it instead of paging through it.
      cursor = last !== undefined && this.isHidden(last)
        ? SKIP_CURSOR + this.hidden + MAX_CHAR
        : INNER_CURSOR + (page.cursor ?? "");
    }
    return { objects, commonPrefixes, truncated: page.truncated, cursor };
  }

  createMultipart(key: string, options?: PutOptions): Promise<BackendMultipart> {
    this.refuse(key);
    return this.inner.createMultipart(key, options);
  }

  resumeMultipart(key: string, uploadId: string): BackendMultipart {
    this.refuse(key);
    return this.inner.resumeMultipart(key, uploadId);
  }

  private refuse(key: string): void {
    if (this.isHidden(key)) {
      throw new S3Error("InvalidArgument", `Keys starting with "${this.hidden}" are reserved for buckets created by CreateBucket.`, {
        ArgumentName: "key", ArgumentValue: key,
      });
    }
  }
}
