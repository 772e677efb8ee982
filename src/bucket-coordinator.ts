// The Durable Object that coordinates one S3 bucket's writes across isolates (one instance per bucket name),
// and the Coordinator the engine uses to call it. It hosts the protocol of src/coordination/core.ts with its
// intents in Durable Object storage (they survive a restart) and an alarm that expires intents of requests
// that died. It acts on the bucket's storage itself (deleting other variants, collecting references, sweeping
// a deleted bucket) through the same registry and engine rules the Worker uses. The bucket's savings totals
// (src/coordination/savings.ts) live in the same storage, updated by the same calls.
import { DurableObject } from "cloudflare:workers";
import type {
  BeginOptions, BucketSavings, CommitFacts, Coordinator, RebuildStep, ReferenceFacts, SavingsOptions, Variant,
} from "./coordination/api";
import {
  CoordinatorCore, DEFAULT_INTENT_TTL_MS, type BucketState, type CoordinatorSnapshot, type CoordinatorStore, type Intent,
} from "./coordination/core";
import { SavingsLedger, type LedgerStorage } from "./coordination/savings";
import { BucketRegistry } from "./buckets/registry";
import { configFrom } from "./config";
import { BackendKeyspace } from "./engine/keyspace";
import { S3Error, type S3ErrorCode } from "./errors";

/** An RPC answer: S3Error does not survive the trip as its class, so errors travel as code + message. */
type Outcome<T> = { ok: true; value: T } | { ok: false; code: S3ErrorCode; message: string };

const INTENT_PREFIX = "intent:";
const DEFERRED_PREFIX = "deferred:";

export class BucketCoordinator extends DurableObject<Record<string, unknown>> {
  private core: CoordinatorCore | null = null;
  private bucket: string | null = null;
  private snapshot: CoordinatorSnapshot | null = null;

  constructor(ctx: DurableObjectState, env: Record<string, unknown>) {
    super(ctx, env);
    ctx.blockConcurrencyWhile(async () => {
      this.bucket = (await ctx.storage.get<string>("bucket")) ?? null;
      this.snapshot = await this.loadSnapshot();
    });
  }

  begin(bucket: string, key: string, ttlMs: number, exclusive = false): Promise<Outcome<number>> {
    return this.run(bucket, (core) => core.begin(key, ttlMs, exclusive));
  }

  commit(bucket: string, ticket: number, variant: Variant, facts?: CommitFacts): Promise<Outcome<void>> {
    return this.run(bucket, (core) => core.commit(ticket, variant, facts));
  }

  claimSeed(bucket: string, ticket: number): Promise<Outcome<boolean>> {
    return this.run(bucket, (core) => core.claimSeed(ticket));
  }

  seedDone(bucket: string, ticket: number, reference?: ReferenceFacts): Promise<Outcome<void>> {
    return this.run(bucket, (core) => core.seedDone(ticket, reference));
  }

  abort(bucket: string, ticket: number): Promise<Outcome<void>> {
    return this.run(bucket, (core) => core.abort(ticket));
  }

  remove(bucket: string, keys: string[]): Promise<Outcome<string[]>> {
    return this.run(bucket, (core) => core.remove(keys));
  }

  deleteBucket(bucket: string): Promise<Outcome<void>> {
    return this.run(bucket, (core) => core.deleteBucket());
  }

  hold(bucket: string, name: string, ttlMs: number, exclusive = false): Promise<Outcome<number>> {
    return this.run(bucket, (core) => core.hold(name, ttlMs, exclusive));
  }

  release(bucket: string, ticket: number): Promise<Outcome<void>> {
    return this.run(bucket, (core) => core.release(ticket));
  }

  savings(bucket: string, options?: SavingsOptions): Promise<Outcome<BucketSavings>> {
    return this.run(bucket, (core) => core.savings(options));
  }

  rebuildSavings(bucket: string, cursor: string | null, limit?: number): Promise<Outcome<RebuildStep>> {
    return this.run(bucket, (core) => core.rebuildSavings(cursor, limit));
  }

  /** Intents of requests that died: close them (settle their key, collect their deltaspace's reference). */
  async alarm(): Promise<void> {
    if (!this.bucket) return;
    const core = this.coreFor(this.bucket);
    await core.expire();
    await this.scheduleExpiry(core);
  }

  private async run<T>(bucket: string, work: (core: CoordinatorCore) => Promise<T>): Promise<Outcome<T>> {
    try {
      if (this.bucket === null) {
        this.bucket = bucket;
        await this.ctx.storage.put("bucket", bucket);
      } else if (this.bucket !== bucket) {
        throw new Error(`coordinator of bucket ${this.bucket} called for bucket ${bucket}`);
      }
      return { ok: true, value: await work(this.coreFor(bucket)) };
    } catch (error) {
      if (error instanceof S3Error) return { ok: false, code: error.code, message: error.message };
      console.error(`coordinator ${bucket}:`, error);
      return { ok: false, code: "InternalError", message: `The bucket's coordinator failed: ${(error as Error).message}` };
    }
  }

  private coreFor(bucket: string): CoordinatorCore {
    if (this.core) return this.core;
    const registry = new BucketRegistry(configFrom(this.env), this.env);
    const entry = registry.entryFor(bucket);
    if (!entry) throw new S3Error("NoSuchBucket", "The specified bucket does not exist");
    const ledger = configFrom(this.env).stats.enabled ? new SavingsLedger(this.ledgerStorage()) : null;
    this.core = new CoordinatorCore(new BackendKeyspace(entry.backend), this.storeFor(), registry.lifecycleOf(entry), Date.now, ledger);
    if (this.snapshot) this.core.restore(this.snapshot);
    return this.core;
  }

  private storeFor(): CoordinatorStore {
    const storage = this.ctx.storage;
    return {
      saveIntent: async (intent, nextTicket) => {
        await storage.put({ [INTENT_PREFIX + intent.ticket]: intent, nextTicket });
        const alarm = await storage.getAlarm();
        if (alarm === null || alarm > intent.expiresAt) await storage.setAlarm(intent.expiresAt);
      },
      deleteIntent: async (ticket) => { await storage.delete(INTENT_PREFIX + ticket); },
      saveState: async (state) => { await storage.put("state", state); },
      saveDeferred: async (deltaspace, deferred) => {
        if (deferred) await storage.put(DEFERRED_PREFIX + deltaspace, true);
        else await storage.delete(DEFERRED_PREFIX + deltaspace);
      },
    };
  }

  /** The savings ledger's records, beside the intents in the same storage (keys under "s:"). */
  private ledgerStorage(): LedgerStorage {
    const storage = this.ctx.storage;
    return {
      get: <T>(keys: string[]) => storage.get<T>(keys),
      put: (entries) => storage.put(entries),
      delete: async (keys) => { await storage.delete(keys); },
      list: <T>(prefix: string, options: { startAfter?: string; limit?: number } = {}) =>
        storage.list<T>({ prefix, startAfter: options.startAfter, limit: options.limit }),
    };
  }

  private async loadSnapshot(): Promise<CoordinatorSnapshot> {
    const storage = this.ctx.storage;
    const intents = [...(await storage.list<Intent>({ prefix: INTENT_PREFIX })).values()];
    const deferred = [...(await storage.list({ prefix: DEFERRED_PREFIX })).keys()].map((k) => k.slice(DEFERRED_PREFIX.length));
    return {
      intents,
      nextTicket: (await storage.get<number>("nextTicket")) ?? 1,
      state: (await storage.get<BucketState>("state")) ?? "live",
      deferredCollections: deferred,
    };
  }

  private async scheduleExpiry(core: CoordinatorCore): Promise<void> {
    const next = core.nextExpiry();
    if (next !== null) await this.ctx.storage.setAlarm(next);
  }
}

/**
 * The engine's Coordinator for one bucket, backed by that bucket's BucketCoordinator. Every call takes a fresh
 * stub (cheap): a stub that saw its object reset (a deploy, an eviction after an error) stays broken, and a
 * PUT's commit must still reach the object's next instance, which reloads the PUT's intent from storage.
 */
export class DurableCoordinator implements Coordinator {
  constructor(
    private readonly namespace: DurableObjectNamespace<BucketCoordinator>,
    private readonly bucket: string,
    private readonly intentTtlMs = DEFAULT_INTENT_TTL_MS,
  ) {}

  /** The coordinator of `bucket` in this namespace (one object per bucket name). */
  static of(namespace: DurableObjectNamespace<BucketCoordinator>, bucket: string, intentTtlMs?: number): DurableCoordinator {
    return new DurableCoordinator(namespace, bucket, intentTtlMs);
  }

  async begin(key: string, options: BeginOptions = {}): Promise<number> {
    return unwrap(await this.stub().begin(this.bucket, key, this.intentTtlMs, options.exclusive ?? false));
  }
  async commit(ticket: number, variant: Variant, facts?: CommitFacts): Promise<void> {
    unwrap(await this.stub().commit(this.bucket, ticket, variant, facts));
  }
  async abort(ticket: number): Promise<void> { unwrap(await this.stub().abort(this.bucket, ticket)); }
  async claimSeed(ticket: number): Promise<boolean> { return unwrap(await this.stub().claimSeed(this.bucket, ticket)); }
  async seedDone(ticket: number, reference?: ReferenceFacts): Promise<void> { unwrap(await this.stub().seedDone(this.bucket, ticket, reference)); }
  async remove(keys: string[]): Promise<string[]> { return unwrap(await this.stub().remove(this.bucket, keys)); }
  async deleteBucket(): Promise<void> { unwrap(await this.stub().deleteBucket(this.bucket)); }
  async hold(name: string, options: BeginOptions = {}): Promise<number> {
    return unwrap(await this.stub().hold(this.bucket, name, this.intentTtlMs, options.exclusive ?? false));
  }
  async release(ticket: number): Promise<void> { unwrap(await this.stub().release(this.bucket, ticket)); }
  async savings(options?: SavingsOptions): Promise<BucketSavings> { return unwrap(await this.stub().savings(this.bucket, options)); }
  async rebuildSavings(cursor: string | null, limit?: number): Promise<RebuildStep> {
    return unwrap(await this.stub().rebuildSavings(this.bucket, cursor, limit));
  }

  private stub(): DurableObjectStub<BucketCoordinator> {
    return this.namespace.get(this.namespace.idFromName(this.bucket));
  }
}

function unwrap<T>(outcome: Outcome<T>): T {
  if (outcome.ok) return outcome.value;
  throw new S3Error(outcome.code, outcome.message);
}
