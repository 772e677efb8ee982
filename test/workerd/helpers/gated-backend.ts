// A Backend wrapper for interleaving tests: a chosen call can be held until the test releases it (to drive
// two requests' storage calls in a racy order), or performed and then made to fail (a request that dies
// right after that write). Everything else forwards unchanged.
import type {
  Backend, BackendMultipart, ByteRange, ListOptions, ListPage, PutOptions, StoredObject, StoredObjectBody,
} from "../../../src/storage/backend";

export type Call = { op: "head" | "get" | "put" | "delete" | "list"; key: string };

export interface Hold {
  /** Resolves when the matching call has arrived (and is being held). */
  reached: Promise<void>;
  release(): void;
}

export class GatedBackend implements Backend {
  readonly calls: Call[] = [];
  private holds: Array<{ match: (call: Call) => boolean; arrive: () => void; gate: Promise<void> }> = [];
  private failures: Array<(call: Call) => boolean> = [];

  constructor(private readonly inner: Backend) {}

  get name(): string {
    return this.inner.name;
  }

  /** Hold the first call that matches until `release()`. */
  hold(match: (call: Call) => boolean): Hold {
    let arrive!: () => void;
    let release!: () => void;
    const reached = new Promise<void>((resolve) => { arrive = resolve; });
    const gate = new Promise<void>((resolve) => { release = resolve; });
    this.holds.push({ match, arrive, gate });
    return { reached, release };
  }

  /** Perform the first matching call, then throw as if the request died right after it. */
  failAfter(match: (call: Call) => boolean): void {
    this.failures.push(match);
  }

  head(key: string): Promise<StoredObject | null> {
    return this.through({ op: "head", key }, () => this.inner.head(key));
  }

  get(key: string, range?: ByteRange): Promise<StoredObjectBody | null> {
    return this.through({ op: "get", key }, () => this.inner.get(key, range));
  }

  put(key: string, body: ReadableStream<Uint8Array> | Uint8Array | string, length: number, options?: PutOptions) {
    return this.through({ op: "put", key }, () => this.inner.put(key, body, length, options));
  }

  delete(keys: string[]): Promise<void> {
    return this.through({ op: "delete", key: keys.join(",") }, () => this.inner.delete(keys));
  }

  list(options: ListOptions): Promise<ListPage> {
    return this.through({ op: "list", key: options.prefix ?? "" }, () => this.inner.list(options));
  }

  createMultipart(key: string, options?: PutOptions): Promise<BackendMultipart> {
    return this.inner.createMultipart(key, options);
  }

  resumeMultipart(key: string, uploadId: string): BackendMultipart {
    return this.inner.resumeMultipart(key, uploadId);
  }

  private async through<T>(call: Call, forward: () => Promise<T>): Promise<T> {
    this.calls.push(call);
    const hold = this.holds.findIndex((h) => h.match(call));
    if (hold >= 0) {
      const [{ arrive, gate }] = this.holds.splice(hold, 1);
      arrive();
      await gate;
    }
    const result = await forward();
    const failure = this.failures.findIndex((match) => match(call));
    if (failure >= 0) {
      this.failures.splice(failure, 1);
      throw new Error(`injected failure after ${call.op} ${call.key}`);
    }
    return result;
  }
}
