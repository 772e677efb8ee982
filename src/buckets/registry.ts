// Which S3 buckets exist and which Backend holds each one.
//
// - Configured buckets (config BUCKETS) map 1:1 onto an R2 binding with no prefix inside (DeltaGlider layout).
// - Runtime buckets (CreateBucket) live in one designated binding (config RUNTIME_BUCKETS) under a root prefix:
//     <root>registry/<bucket>        marker object: its existence is the bucket's existence (JSON body)
//     <root>data/<bucket>/<key...>   the bucket's objects, in DeltaGlider layout relative to that prefix
//   Bucket names never contain "/", so the two ranges cannot collide. When the designated binding is also a
//   configured bucket's binding, that bucket hides everything under <root> (HidingBackend).
// See docs/STORAGE_FORMAT.md ("Buckets").
import type { BucketLifecycle } from "../coordination/api";
import type { Config } from "../config";
import type { Backend } from "../storage/backend";
import { R2Backend } from "../storage/r2";
import { createS3Backend } from "../storage/s3";
import { S3Error } from "../errors";
import { assertValidBucketName } from "../bucket-names";
import { HidingBackend, PrefixedBackend } from "./prefixed";

export interface BucketEntry {
  name: string;
  backend: Backend;
  creationDate: Date;
  origin: "configured" | "runtime";
}

/** Fixed creation date reported for configured buckets (they exist as long as the binding does). */
const CONFIGURED_CREATION_DATE = new Date("2025-01-01T00:00:00.000Z");

interface RuntimeStore {
  backend: Backend;
  root: string;
}

export class BucketRegistry {
  private readonly configured = new Map<string, BucketEntry>();
  private readonly runtime: RuntimeStore | null;

  constructor(config: Config, bindings: Record<string, unknown>) {
    const runtime = config.runtimeBuckets;
    for (const { name, binding } of config.buckets) {
      let backend: Backend = new R2Backend(bindings[binding] as R2Bucket, binding);
      if (runtime && runtime.binding === binding) backend = new HidingBackend(backend, runtime.root);
      this.configured.set(name, { name, backend, creationDate: CONFIGURED_CREATION_DATE, origin: "configured" });
    }
    // Buckets on a remote S3 server (S3_ENDPOINT / S3_BACKENDS) replace an R2 mapping of the same name.
    for (const [name, remote] of Object.entries(config.remoteBuckets)) {
      this.configured.set(name, { name, backend: createS3Backend(remote), creationDate: CONFIGURED_CREATION_DATE, origin: "configured" });
    }
    this.runtime = runtime
      ? { backend: new R2Backend(bindings[runtime.binding] as R2Bucket, runtime.binding), root: runtime.root }
      : null;
  }

  /** The bucket, or null when it does not exist. */
  async get(name: string): Promise<BucketEntry | null> {
    const configured = this.configured.get(name);
    if (configured) return configured;
    if (!this.runtime || name.includes("/") || name === "") return null;
    const marker = await this.runtime.backend.head(this.markerKey(name));
    return marker ? this.runtimeEntry(name, marker.lastModified) : null;
  }

  /**
   * The entry a bucket of this name would have, without asking storage whether it exists (the bucket's
   * coordinator builds its backend from this; it learns existence from `get`). null when no such bucket can exist.
   */
  entryFor(name: string): BucketEntry | null {
    const configured = this.configured.get(name);
    if (configured) return configured;
    if (!this.runtime || name.includes("/") || name === "") return null;
    return this.runtimeEntry(name, new Date(0));
  }

  /** The bucket or NoSuchBucket. */
  async require(name: string): Promise<BucketEntry> {
    const entry = await this.get(name);
    if (!entry) throw new S3Error("NoSuchBucket", "The specified bucket does not exist", { BucketName: name });
    return entry;
  }

  async list(): Promise<BucketEntry[]> {
    const entries = [...this.configured.values()];
    if (this.runtime) {
      const prefix = `${this.runtime.root}registry/`;
      let cursor: string | undefined;
      do {
        const page = await this.runtime.backend.list({ prefix, cursor, limit: 1000 });
        for (const object of page.objects) {
          const name = object.key.slice(prefix.length);
          if (!this.configured.has(name)) entries.push(this.runtimeEntry(name, object.lastModified));
        }
        cursor = page.truncated ? page.cursor : undefined;
      } while (cursor);
    }
    return entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** CreateBucket. Conditional create, so two isolates creating the same name agree on one winner. */
  async create(name: string): Promise<BucketEntry> {
    assertValidBucketName(name);
    if (this.configured.has(name)) throw alreadyOwned(name);
    if (!this.runtime) {
      throw new S3Error("AccessDenied", "Creating buckets is switched off (RUNTIME_BUCKETS=off); configure buckets with BUCKETS.", { BucketName: name });
    }
    const body = JSON.stringify({ name, created: new Date().toISOString() });
    const marker = await this.runtime.backend.put(this.markerKey(name), body, new TextEncoder().encode(body).byteLength, {
      onlyIfAbsent: true,
      contentType: "application/json",
    });
    if (!marker) throw alreadyOwned(name);
    return this.runtimeEntry(name, marker.lastModified);
  }

  /** The bucket's existence as its coordinator needs it: whether it exists now, and how to drop it. */
  lifecycleOf(entry: BucketEntry): BucketLifecycle {
    return {
      exists: async () => (await this.get(entry.name)) !== null,
      destroy: () => this.delete(entry),
    };
  }

  /** DeleteBucket is refused for configured buckets (they are R2 bindings / remote buckets, not ours to drop). */
  assertDeletable(entry: BucketEntry): void {
    if (entry.origin === "configured" || !this.runtime) {
      throw new S3Error("AccessDenied", `Bucket ${entry.name} is configured in BUCKETS (an R2 binding) and cannot be deleted through S3.`, { BucketName: entry.name });
    }
  }

  /**
   * DeleteBucket, called by the bucket's coordinator once it holds no user object and no write can start.
   * Internal leftovers under its data prefix are swept first and the marker goes last, so a delete cut short
   * leaves the bucket existing (and retryable) rather than leftovers that a later CreateBucket would inherit.
   */
  async delete(entry: BucketEntry): Promise<void> {
    this.assertDeletable(entry);
    const prefix = this.dataRoot(entry.name);
    for (;;) {
      const page = await this.runtime!.backend.list({ prefix, limit: 1000 });
      if (page.objects.length > 0) await this.runtime!.backend.delete(page.objects.map((o) => o.key));
      if (!page.truncated) break;
    }
    await this.runtime!.backend.delete([this.markerKey(entry.name)]);
  }

  private runtimeEntry(name: string, creationDate: Date): BucketEntry {
    const backend = new PrefixedBackend(this.runtime!.backend, this.dataRoot(name));
    return { name, backend, creationDate, origin: "runtime" };
  }

  private markerKey(name: string): string {
    return `${this.runtime!.root}registry/${name}`;
  }

  private dataRoot(name: string): string {
    return `${this.runtime!.root}data/${name}/`;
  }
}

function alreadyOwned(name: string): S3Error {
  return new S3Error("BucketAlreadyOwnedByYou", "Your previous request to create the named bucket succeeded and you already own it.", { BucketName: name });
}
