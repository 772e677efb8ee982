// The in-memory Coordinator: the same protocol (core.ts) within one isolate, for engines built without a
// Durable Object (unit tests, the CLI). It coordinates only the requests of this one engine instance.
import type { BeginOptions, BucketLifecycle, Coordinator, Keyspace, RetireOutcome, Variant } from "./api";
import { CoordinatorCore, DEFAULT_INTENT_TTL_MS, MEMORY_STORE } from "./core";

export class LocalCoordinator implements Coordinator {
  readonly core: CoordinatorCore;

  constructor(keyspace: Keyspace, lifecycle?: BucketLifecycle, private readonly intentTtlMs = DEFAULT_INTENT_TTL_MS) {
    this.core = new CoordinatorCore(keyspace, MEMORY_STORE, lifecycle);
  }

  begin(key: string, options: BeginOptions = {}): Promise<number> { return this.core.begin(key, this.intentTtlMs, options.exclusive); }
  commit(ticket: number, variant: Variant): Promise<void> { return this.core.commit(ticket, variant); }
  abort(ticket: number): Promise<void> { return this.core.abort(ticket); }
  claimSeed(ticket: number): Promise<boolean> { return this.core.claimSeed(ticket); }
  seedDone(ticket: number): Promise<void> { return this.core.seedDone(ticket); }
  remove(keys: string[]): Promise<string[]> { return this.core.remove(keys); }
  deleteBucket(): Promise<void> { return this.core.deleteBucket(); }
  retireReference(deltaspace: string): Promise<RetireOutcome> { return this.core.retireReference(deltaspace); }
  hold(name: string, options: BeginOptions = {}): Promise<number> { return this.core.hold(name, this.intentTtlMs, options.exclusive); }
  release(ticket: number): Promise<void> { return this.core.release(ticket); }
}
