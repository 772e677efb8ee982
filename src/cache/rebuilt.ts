// Whole rebuilt objects in the Workers Cache API (`caches.default`), for hot downloads of delta objects.
//
// On by default for objects up to 128 MiB (DG_CACHE_REBUILT_MAX_SIZE; 0 turns it off). A full rebuild of a delta object no larger than the limit
// is copied into the cache while it streams to the client, and later GETs of that object read it from the cache
// instead of decoding again. Entries are keyed by the object's SHA-256 and size (content addressed: an overwritten
// key has a new hash, so an entry is never stale) and are checked against that SHA-256 on every use by the
// engine, so a damaged entry fails its request and is evicted; it never serves wrong bytes.
//
// Memory: the copy for the cache moves in lockstep with the client. The client's stream waits whenever the cache
// writer is more than MAX_CACHE_LAG bytes behind, so no request buffers more than that, whatever either side's speed.

export interface RebuiltObjectId {
  sha256: string;
  size: number;
}

export interface RebuiltCacheOptions {
  /** Largest object kept, in bytes (0: nothing is kept). */
  maxObjectSize: number;
  /** Seconds an entry may live in the cache (entries are immutable, so long is safe). */
  ttlSeconds: number;
  /** The cache to use (default `caches.default`). */
  cache?: Cache;
  /** Origin of the synthetic cache-key URLs. Must be http(s); never fetched. */
  keyOrigin?: string;
}

/** Per-request scope: where the cache write may keep running after the response. */
export interface RebuiltScope {
  waitUntil?: (promise: Promise<unknown>) => void;
}

export const MAX_CACHE_LAG = 4 * 1024 * 1024;
const SIZE_HEADER = "x-dg-object-size";
const SHA_HEADER = "x-dg-object-sha256";

export class RebuiltObjectCache {
  readonly maxObjectSize: number;
  private readonly keyOrigin: string;

  constructor(private readonly options: RebuiltCacheOptions) {
    this.maxObjectSize = options.maxObjectSize;
    this.keyOrigin = options.keyOrigin ?? "https://rebuilt-cache.deltaglider.invalid";
    if (!/^https?:\/\/[^/]+$/.test(this.keyOrigin)) throw new RangeError("keyOrigin must be an http(s) origin without a path");
  }

  private get cache(): Cache {
    return this.options.cache ?? caches.default;
  }

  key(object: RebuiltObjectId): string {
    return `${this.keyOrigin}/object/${object.sha256}/${object.size}`;
  }

  /** Whether an object of this size is kept at all. */
  accepts(object: RebuiltObjectId): boolean {
    return object.size > 0 && object.size <= this.maxObjectSize && /^[0-9a-f]{64}$/.test(object.sha256);
  }

  /** The cached bytes of the object, or null. The caller checks them against the object's SHA-256. */
  async match(object: RebuiltObjectId): Promise<ReadableStream<Uint8Array> | null> {
    if (!this.accepts(object)) return null;
    const cached = await this.cache.match(this.key(object));
    if (!cached?.body) return null;
    if (cached.headers.get(SIZE_HEADER) !== String(object.size) || cached.headers.get(SHA_HEADER) !== object.sha256) {
      await cached.body.cancel().catch(() => {});
      await this.evict(object);
      return null;
    }
    return cached.body;
  }

  async evict(object: RebuiltObjectId): Promise<void> {
    await this.cache.delete(this.key(object)).catch(() => false);
  }

  /**
   * Passes `stream` on unchanged and stores what went through once it has ended normally. A stream that errors
   * or is cancelled stores nothing (the entry's body errors, so the cache write fails). The write runs under
   * `scope.waitUntil` when given, else it is awaited by the last read of the returned stream.
   */
  tap(object: RebuiltObjectId, stream: ReadableStream<Uint8Array>, scope: RebuiltScope = {}): ReadableStream<Uint8Array> {
    if (!this.accepts(object)) return stream;
    const copy = new LockstepCopy();
    const written = this.write(object, copy.readable).then(
      () => true,
      async () => {
        await this.evict(object); // whatever a failed write may have left behind
        return false;
      },
    ).finally(() => copy.abandon());
    if (scope.waitUntil) scope.waitUntil(written);
    const reader = stream.getReader();
    return new ReadableStream<Uint8Array>({
      async pull(controller) {
        await copy.roomForMore();
        let next: ReadableStreamReadResult<Uint8Array>;
        try {
          next = await reader.read();
        } catch (error) {
          // A rebuild that fails its check fails at its very end (the hash is known only then), when the cache may
          // already hold every byte: the eviction is awaited, so the next GET cannot find a left-over.
          copy.fail(error);
          await written;
          throw error;
        }
        if (next.done) {
          copy.end();
          if (!scope.waitUntil) await written;
          controller.close();
          return;
        }
        // Copied before the client has it: the client's side may take (detach) the buffer.
        copy.push(next.value);
        controller.enqueue(next.value);
      },
      async cancel(reason) {
        copy.fail(new Error("the client stopped reading"));
        await reader.cancel(reason);
      },
    }, { highWaterMark: 0 });
  }

  private async write(object: RebuiltObjectId, body: ReadableStream<Uint8Array>): Promise<void> {
    // A declared length lets the cache store the entry as a plain (not chunked) response, and errors if the
    // body turns out to be shorter or longer.
    const fixed = new FixedLengthStream(object.size);
    const piped = body.pipeTo(fixed.writable);
    const put = this.cache.put(this.key(object), new Response(fixed.readable, {
      headers: {
        "content-type": "application/octet-stream",
        "cache-control": `public, max-age=${this.options.ttlSeconds}, immutable`,
        [SIZE_HEADER]: String(object.size),
        [SHA_HEADER]: object.sha256,
      },
    }));
    // Both settle before the caller learns the outcome: a put still running when the copy failed could otherwise
    // store its partial body after the failure's eviction.
    const [stored, copied] = await Promise.allSettled([put, piped]);
    if (stored.status === "rejected") throw stored.reason;
    if (copied.status === "rejected") throw copied.reason;
  }
}

/**
 * The cache's copy of a stream: chunks pushed by the client side are queued for the cache writer, and the client
 * side waits (roomForMore) while more than MAX_CACHE_LAG bytes are queued. Once the writer is gone (finished,
 * failed), pushes are dropped and nobody waits.
 */
class LockstepCopy {
  readonly readable: ReadableStream<Uint8Array>;
  private controller!: ReadableStreamDefaultController<Uint8Array>;
  private done = false;
  private wake: (() => void) | undefined;

  constructor() {
    this.readable = new ReadableStream<Uint8Array>({
      start: (controller) => {
        this.controller = controller;
      },
      pull: () => this.release(),
      cancel: () => this.abandon(),
    }, { highWaterMark: MAX_CACHE_LAG, size: (chunk) => chunk.byteLength });
  }

  async roomForMore(): Promise<void> {
    while (!this.done && (this.controller.desiredSize ?? 1) <= 0) {
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  push(chunk: Uint8Array): void {
    if (!this.done) this.controller.enqueue(chunk);
  }

  end(): void {
    if (this.done) return;
    this.done = true;
    this.controller.close();
  }

  fail(reason: unknown): void {
    if (this.done) return;
    this.done = true;
    this.controller.error(reason);
    this.release();
  }

  /** The writer is gone: stop copying and let the client side run free. */
  abandon(): void {
    this.done = true;
    this.release();
  }

  private release(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}
