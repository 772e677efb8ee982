// A Backend decorator that counts the storage operations a request causes ("R2 operations per PUT / per GET").
// It changes nothing about the calls: every method forwards to the wrapped backend and only bumps a counter.
import type {
  Backend, BackendMultipart, ByteRange, ListOptions, ListPage, MultipartPart, PutOptions, StoredObject,
  StoredObjectBody,
} from "./backend";

export interface OperationCounts {
  head: number;
  get: number;
  put: number;
  list: number;
  /** Delete calls (one bulk call of many keys is one operation, as R2 bills it). */
  delete: number;
  /** Multipart calls: create, uploadPart, complete, abort. */
  multipart: number;
}

export const emptyCounts = (): OperationCounts => ({ head: 0, get: 0, put: 0, list: 0, delete: 0, multipart: 0 });

/** The counts as one header-friendly string: `head=1,get=2,put=0,list=0,delete=0,multipart=0`. */
export function formatCounts(counts: OperationCounts): string {
  return Object.entries(counts).map(([op, n]) => `${op}=${n}`).join(",");
}

/** Parses what formatCounts wrote; unknown or malformed fields are ignored. */
export function parseCounts(text: string): OperationCounts {
  const counts = emptyCounts();
  for (const field of text.split(",")) {
    const [op, n] = field.trim().split("=");
    if (op in counts && /^\d+$/.test(n ?? "")) counts[op as keyof OperationCounts] = Number(n);
  }
  return counts;
}

/**
 * Totals across the isolate, for benchmarks: `countedBackend()` wraps backends so they all add into this one
 * record, and an operator endpoint can return it (`operationCountsResponse`). A single sequential client
 * reads it before and after a request; the difference is that request's storage operations.
 */
export const isolateCounts: OperationCounts = emptyCounts();

/** Wraps a backend so its operations add into `isolateCounts`. */
export function countedBackend(inner: Backend): CountingBackend {
  return new CountingBackend(inner, isolateCounts);
}

/** JSON body of the isolate's totals (`{"head":1,"get":2,...}`); makes no storage call itself. */
export function operationCountsResponse(): Response {
  return Response.json(isolateCounts, { headers: { "cache-control": "no-store" } });
}

export class CountingBackend implements Backend {
  /** @param counts where to add; pass a shared record to total several backends. */
  constructor(
    private readonly inner: Backend,
    readonly counts: OperationCounts = emptyCounts(),
  ) {}

  get name(): string {
    return this.inner.name;
  }

  /** Total operations of every kind so far. */
  get total(): number {
    return Object.values(this.counts).reduce((a, b) => a + b, 0);
  }

  head(key: string): Promise<StoredObject | null> {
    this.counts.head++;
    return this.inner.head(key);
  }

  get(key: string, range?: ByteRange): Promise<StoredObjectBody | null> {
    this.counts.get++;
    return this.inner.get(key, range);
  }

  put(
    key: string,
    body: ReadableStream<Uint8Array> | Uint8Array | string,
    length: number,
    options?: PutOptions,
  ): Promise<StoredObject | null> {
    this.counts.put++;
    return this.inner.put(key, body, length, options);
  }

  delete(keys: string[]): Promise<void> {
    if (keys.length > 0) this.counts.delete++;
    return this.inner.delete(keys);
  }

  list(options: ListOptions): Promise<ListPage> {
    this.counts.list++;
    return this.inner.list(options);
  }

  async createMultipart(key: string, options?: PutOptions): Promise<BackendMultipart> {
    this.counts.multipart++;
    return this.countParts(await this.inner.createMultipart(key, options));
  }

  resumeMultipart(key: string, uploadId: string): BackendMultipart {
    // Resuming is local bookkeeping (R2's resumeMultipartUpload makes no request), so it is not counted.
    return this.countParts(this.inner.resumeMultipart(key, uploadId));
  }

  private countParts(upload: BackendMultipart): BackendMultipart {
    const counts = this.counts;
    return {
      key: upload.key,
      uploadId: upload.uploadId,
      uploadPart(partNumber: number, body: ReadableStream<Uint8Array> | Uint8Array, length: number): Promise<MultipartPart> {
        counts.multipart++;
        return upload.uploadPart(partNumber, body, length);
      },
      complete(parts: MultipartPart[]): Promise<StoredObject> {
        counts.multipart++;
        return upload.complete(parts);
      },
      abort(): Promise<void> {
        counts.multipart++;
        return upload.abort();
      },
    };
  }
}
