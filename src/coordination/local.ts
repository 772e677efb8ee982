// The in-memory Coordinator: the same protocol (core.ts) within one isolate, for engines built without a
// Durable Object (unit tests, the CLI). It coordinates only the requests of this one engine instance, and keeps
// its savings totals (savings.ts) in memory for the isolate's life.
import type {
  BeginOptions, BucketLifecycle, BucketSavings, CommitFacts, Coordinator, Keyspace, RebuildStep, ReferenceFacts,
  SavingsOptions, Variant,
} from "./api";
import { CoordinatorCore, DEFAULT_INTENT_TTL_MS, MEMORY_STORE } from "./core";
import { SavingsLedger, memoryLedgerStorage } from "./savings";

export class LocalCoordinator implements Coordinator {
  readonly core: CoordinatorCore;

  constructor(keyspace: Keyspace, lifecycle?: BucketLifecycle, private readonly intentTtlMs = DEFAULT_INTENT_TTL_MS, stats = true) {
    const ledger = stats ? new SavingsLedger(memoryLedgerStorage()) : null;
    this.core = new CoordinatorCore(keyspace, MEMORY_STORE, lifecycle, Date.now, ledger);
  }

  begin(key: string, options: BeginOptions = {}): Promise<number> { return this.core.begin(key, this.intentTtlMs, options.exclusive); }
  commit(ticket: number, variant: Variant, facts?: CommitFacts): Promise<void> { return this.core.commit(ticket, variant, facts); }
  abort(ticket: number): Promise<void> { return this.core.abort(ticket); }
  claimSeed(ticket: number): Promise<boolean> { return this.core.claimSeed(ticket); }
  seedDone(ticket: number, reference?: ReferenceFacts): Promise<void> { return this.core.seedDone(ticket, reference); }
  remove(keys: string[]): Promise<string[]> { return this.core.remove(keys); }
  deleteBucket(): Promise<void> { return this.core.deleteBucket(); }
  hold(name: string, options: BeginOptions = {}): Promise<number> { return this.core.hold(name, this.intentTtlMs, options.exclusive); }
  release(ticket: number): Promise<void> { return this.core.release(ticket); }
  savings(options?: SavingsOptions): Promise<BucketSavings> { return this.core.savings(options); }
  rebuildSavings(cursor: string | null, limit?: number): Promise<RebuildStep> { return this.core.rebuildSavings(cursor, limit); }
}
