// The coordination protocol itself, independent of where it runs: open write intents per key and deltaspace,
// the rule for removing a key's other variant, reference collection only where no write is open, and the
// bucket's life (live → deleting → deleted). Hosted by the BucketCoordinator Durable Object (persistent
// intents, alarms) and by LocalCoordinator (memory). docs/ARCHITECTURE.md "Guarantees" gives the argument.
import { S3Error } from "../errors";
import type { BucketLifecycle, Keyspace, RetireOutcome, Variant } from "./api";
import { Locks } from "./locks";

/** A crashed request's pin lasts this long; a PUT slower than this between begin and commit fails. */
export const DEFAULT_INTENT_TTL_MS = 3600 * 1000;

/** A conditional write holds its key alone, so a dead one blocks the key only this long. */
export const EXCLUSIVE_TTL_MS = 10 * 60 * 1000;

/** How long a write or delete waits for a conditional write of the same key before answering SlowDown. */
export const EXCLUSIVE_WAIT_MS = 60 * 1000;

export interface Intent {
  ticket: number;
  /** A user key, or for a hold (holdUpload) the upload's state key (`.dg/mpu/uploads/<id>`, never a user key). */
  key: string;
  /** null for a hold: it writes no variant and pins no reference. */
  deltaspace: string | null;
  expiresAt: number;
  /** A conditional write: holds the key alone until it closes. */
  exclusive?: boolean;
  /** This write may create its deltaspace's reference.bin (claimSeed); no other write may until seedDone or its close. */
  seeding?: boolean;
}

export type BucketState = "live" | "deleting" | "deleted";

export interface CoordinatorSnapshot {
  intents: Intent[];
  nextTicket: number;
  state: BucketState;
  /** Deltaspaces whose reference collection waits for their open writes to close. */
  deferredCollections: string[];
}

/** Where the coordinator keeps what must survive a restart (Durable Object storage; nothing in memory use). */
export interface CoordinatorStore {
  saveIntent(intent: Intent, nextTicket: number): Promise<void>;
  deleteIntent(ticket: number): Promise<void>;
  saveState(state: BucketState): Promise<void>;
  saveDeferred(deltaspace: string, deferred: boolean): Promise<void>;
}

export const MEMORY_STORE: CoordinatorStore = {
  saveIntent: async () => {},
  deleteIntent: async () => {},
  saveState: async () => {},
  saveDeferred: async () => {},
};

export class CoordinatorCore {
  private readonly intents = new Map<number, Intent>();
  private readonly openByKey = new Map<string, Set<number>>();
  private readonly openByDeltaspace = new Map<string, Set<number>>();
  private readonly deferred = new Set<string>();
  /** Deltaspace → the open write that may create its reference now (at most one at a time), and its end. */
  private readonly seeders = new Map<string, { ticket: number; done: Promise<void>; release: () => void }>();
  /** Keys held by an open conditional write, with what resolves when it closes. */
  private readonly exclusive = new Map<string, { ticket: number; closed: Promise<void>; release: () => void }>();
  private readonly locks = new Locks();
  private nextTicket = 1;
  private state: BucketState = "live";
  private deletion: Promise<void> | null = null;

  constructor(
    private readonly keyspace: Keyspace,
    private readonly store: CoordinatorStore = MEMORY_STORE,
    private readonly lifecycle?: BucketLifecycle,
    private readonly now: () => number = Date.now,
  ) {}

  /** Start from what a previous instance persisted. A deletion cut short counts as done if the bucket is gone. */
  restore(snapshot: CoordinatorSnapshot): void {
    for (const intent of snapshot.intents) this.track(intent);
    this.nextTicket = Math.max(snapshot.nextTicket, ...snapshot.intents.map((i) => i.ticket + 1), 1);
    this.state = snapshot.state === "deleting" ? "deleted" : snapshot.state;
    for (const deltaspace of snapshot.deferredCollections) this.deferred.add(deltaspace);
  }

  /** The earliest expiry of an open intent (for an alarm), or null. */
  nextExpiry(): number | null {
    let earliest: number | null = null;
    for (const intent of this.intents.values()) if (earliest === null || intent.expiresAt < earliest) earliest = intent.expiresAt;
    return earliest;
  }

  async begin(key: string, ttlMs = DEFAULT_INTENT_TTL_MS, exclusive = false): Promise<number> {
    return this.open(key, this.keyspace.deltaspaceOf(key), ttlMs, exclusive);
  }

  /**
   * A multipart call that writes under the bucket (CreateMultipartUpload, UploadPart, Complete, Abort) holds
   * its upload's name for its duration: DeleteBucket is refused meanwhile and no hold starts once it ran, so no
   * part or state lands under a deleted bucket. Complete holds it exclusively: an Abort (or a late part) waits
   * for it to end, and a Complete that finds the upload held answers ConditionalRequestConflict (as S3 does).
   * An exclusive hold lasts the full ttl (a Complete may run long), not EXCLUSIVE_TTL_MS.
   */
  hold(name: string, ttlMs = DEFAULT_INTENT_TTL_MS, exclusive = false): Promise<number> {
    return this.open(name, null, ttlMs, exclusive);
  }

  /** The multipart call ended (done or failed): its hold closes; it wrote no variant to settle. */
  async release(ticket: number): Promise<void> {
    const intent = this.intents.get(ticket);
    if (intent) await this.close(intent);
  }

  private async open(key: string, deltaspace: string | null, ttlMs: number, exclusive: boolean): Promise<number> {
    const names = deltaspace === null ? [`k:${key}`] : [`k:${key}`, `d:${deltaspace}`];
    for (;;) {
      await this.requireLive();
      if (!exclusive) await this.waitForExclusive(key);
      const ticket = await this.locks.with(names, async () => {
        if (this.state !== "live") return null; // DeleteBucket started while we waited: ask again
        if (exclusive && this.openByKey.has(key)) throw conflict();
        if (this.exclusive.has(key)) {
          if (exclusive) throw conflict();
          return null; // a conditional write took the key while we waited: wait for it
        }
        const life = exclusive && deltaspace !== null ? Math.min(ttlMs, EXCLUSIVE_TTL_MS) : ttlMs;
        const intent: Intent = { ticket: this.nextTicket++, key, deltaspace, expiresAt: this.now() + life, exclusive };
        this.track(intent);
        await this.store.saveIntent(intent, this.nextTicket);
        return intent.ticket;
      });
      if (ticket !== null) return ticket;
    }
  }

  async commit(ticket: number, variant: Variant): Promise<void> {
    const intent = this.openIntent(ticket);
    if (intent.deltaspace === null) throw new Error("a multipart hold is released, not committed");
    const deltaspace = intent.deltaspace;
    await this.locks.with([`k:${intent.key}`], async () => {
      this.openIntent(ticket); // it may have expired while we waited
      this.untrack(intent);
      try {
        // The last write of the key to close decides; earlier ones leave the other variant to it.
        if (!this.openByKey.has(intent.key)) await this.keyspace.removeVariant(intent.key, variant === "delta" ? "plain" : "delta");
      } finally {
        await this.store.deleteIntent(ticket);
      }
    });
    await this.collectIfDeferred(deltaspace);
  }

  /**
   * May this open write create its deltaspace's reference.bin now? One write of the deltaspace at a time:
   * the others wait (bounded) until it called seedDone() or closed, then get their turn, by which time its
   * reference is stored (their create-if-absent finds it) or it failed (one of them seeds instead). Without
   * this, a storage server with no conditional PUT (create-if-absent emulated by HEAD then PUT) lets two
   * first uploads both write a reference, the later replacing the one the earlier's delta was encoded
   * against. False only when the wait ran out (the caller stores passthrough unless the reference appeared).
   */
  async claimSeed(ticket: number): Promise<boolean> {
    const intent = this.openIntent(ticket);
    const deltaspace = intent.deltaspace;
    if (deltaspace === null) return false;
    const deadline = this.now() + EXCLUSIVE_WAIT_MS;
    for (;;) {
      const holder = await this.locks.with([`d:${deltaspace}`], async () => {
        const current = this.seeders.get(deltaspace);
        if (current && current.ticket !== ticket) return current;
        this.openIntent(ticket);
        if (!current) this.trackSeeder(deltaspace, ticket);
        intent.seeding = true;
        await this.store.saveIntent(intent, this.nextTicket);
        return null;
      });
      if (!holder) return true;
      const left = deadline - this.now();
      if (left <= 0) return false;
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([holder.done, new Promise((resolve) => { timer = setTimeout(resolve, left); })]);
      clearTimeout(timer);
    }
  }

  /** The write that claimed the seed has created the reference (or found it there): the next may go. */
  async seedDone(ticket: number): Promise<void> {
    const intent = this.intents.get(ticket);
    if (!intent?.seeding || intent.deltaspace === null) return;
    intent.seeding = false;
    this.releaseSeeder(intent.deltaspace, ticket);
    await this.store.saveIntent(intent, this.nextTicket);
  }

  async abort(ticket: number): Promise<void> {
    const intent = this.intents.get(ticket);
    if (intent) await this.close(intent);
  }

  /** Close every intent past its expiry (the request behind it died): settle its key, collect its reference. */
  async expire(): Promise<void> {
    const now = this.now();
    for (const intent of [...this.intents.values()]) {
      if (intent.expiresAt <= now) await this.close(intent).catch((error) => console.error(`coordinator: expiring ${intent.key}: ${error}`));
    }
  }

  async remove(keys: string[]): Promise<string[]> {
    const unique = [...new Set(keys)].sort();
    const failed: string[] = [];
    for (;;) {
      for (const key of unique) await this.waitForExclusive(key);
      const removed = await this.locks.with(unique.map((key) => `k:${key}`), async () => {
        if (unique.some((key) => this.exclusive.has(key))) return false; // taken while we waited
        await this.removeHeld(unique, failed);
        return true;
      });
      if (removed) break;
    }
    for (const deltaspace of new Set(unique.map((key) => this.keyspace.deltaspaceOf(key)))) {
      await this.collect(deltaspace).catch((error) => console.error(`coordinator: reference collection failed: ${error}`));
    }
    return failed;
  }

  private async removeHeld(unique: string[], failed: string[]): Promise<void> {
    for (let i = 0; i < unique.length; i += REMOVE_BATCH) {
      const batch = unique.slice(i, i + REMOVE_BATCH);
      try {
        await this.keyspace.removeObjects(batch);
      } catch (error) {
        console.error(`coordinator: batch delete failed: ${error}`);
        failed.push(...batch);
      }
    }
  }

  /**
   * A re-baseline retires the deltaspace's reference once no delta depends on it. Same rule as collect(): under
   * `d:ds`, and only while no write is open there (begin registers under that lock, so a PUT either began
   * before — "busy", try again — or begins after and finds no reference, seeding a new one).
   */
  async retireReference(deltaspace: string): Promise<RetireOutcome> {
    return this.locks.with([`d:${deltaspace}`], async () => {
      if (this.openByDeltaspace.has(deltaspace)) return "busy";
      return this.keyspace.retireReference(deltaspace);
    });
  }

  /** Wait (bounded) until no conditional write holds the key. */
  private async waitForExclusive(key: string): Promise<void> {
    const deadline = this.now() + EXCLUSIVE_WAIT_MS;
    for (let held = this.exclusive.get(key); held; held = this.exclusive.get(key)) {
      const left = deadline - this.now();
      if (left <= 0) throw new S3Error("SlowDown", "A conditional write of this key is in progress; please retry.");
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([held.closed, new Promise((resolve) => { timer = setTimeout(resolve, left); })]);
      clearTimeout(timer);
    }
  }

  async deleteBucket(): Promise<void> {
    await this.requireLive();
    await this.expire();
    if (this.intents.size > 0) throw notEmpty("A write to the bucket is in progress.");
    this.state = "deleting"; // from here on begin() waits, then is refused
    const run = this.runDeletion();
    this.deletion = run.catch(() => {}).finally(() => { this.deletion = null; });
    await run;
  }

  private async runDeletion(): Promise<void> {
    try {
      await this.store.saveState("deleting");
      if (!(await this.keyspace.isEmpty())) throw notEmpty("The bucket you tried to delete is not empty");
      await this.lifecycle?.destroy();
      this.state = "deleted";
      await this.store.saveState("deleted");
    } catch (error) {
      if (this.state === "deleting") {
        this.state = "live";
        await this.store.saveState("live");
      }
      throw error;
    }
  }

  /** Wait out a running DeleteBucket; after one, the bucket is live again only if it was created anew. */
  private async requireLive(): Promise<void> {
    while (this.deletion) await this.deletion;
    if (this.state === "deleted") {
      if (!this.lifecycle || !(await this.lifecycle.exists())) {
        throw new S3Error("NoSuchBucket", "The specified bucket does not exist");
      }
      if (this.state === "deleted") {
        this.state = "live";
        await this.store.saveState("live");
      }
    }
  }

  private openIntent(ticket: number): Intent {
    const intent = this.intents.get(ticket);
    if (!intent || intent.expiresAt <= this.now()) {
      throw new S3Error("InternalError", "The write's coordination intent expired or is unknown (it took too long); the object was not stored.");
    }
    return intent;
  }

  /** Close an intent that will not commit; whatever it wrote is settled (newest variant kept), and its
   *  deltaspace's reference collected if nothing uses it (a failed seeding upload leaves one behind). */
  private async close(intent: Intent): Promise<void> {
    const deltaspace = intent.deltaspace;
    await this.locks.with([`k:${intent.key}`], async () => {
      if (!this.intents.has(intent.ticket)) return;
      this.untrack(intent);
      try {
        if (deltaspace !== null && !this.openByKey.has(intent.key)) await this.keyspace.settle(intent.key);
      } finally {
        await this.store.deleteIntent(intent.ticket);
      }
    });
    if (deltaspace !== null) await this.collect(deltaspace);
  }

  private async collectIfDeferred(deltaspace: string): Promise<void> {
    if (this.deferred.has(deltaspace) && !this.openByDeltaspace.has(deltaspace)) await this.collect(deltaspace);
  }

  /** Reference GC, only while no write is open in the deltaspace (else deferred to the last one's close). */
  private async collect(deltaspace: string): Promise<void> {
    await this.locks.with([`d:${deltaspace}`], async () => {
      if (this.openByDeltaspace.has(deltaspace)) {
        if (!this.deferred.has(deltaspace)) {
          this.deferred.add(deltaspace);
          await this.store.saveDeferred(deltaspace, true);
        }
        return;
      }
      await this.keyspace.collectReference(deltaspace);
      if (this.deferred.delete(deltaspace)) await this.store.saveDeferred(deltaspace, false);
    });
  }

  private track(intent: Intent): void {
    this.intents.set(intent.ticket, intent);
    if (intent.exclusive) {
      let release!: () => void;
      const closed = new Promise<void>((resolve) => { release = resolve; });
      this.exclusive.set(intent.key, { ticket: intent.ticket, closed, release });
    }
    addTo(this.openByKey, intent.key, intent.ticket);
    if (intent.deltaspace !== null) addTo(this.openByDeltaspace, intent.deltaspace, intent.ticket);
    if (intent.seeding && intent.deltaspace !== null) this.trackSeeder(intent.deltaspace, intent.ticket);
  }

  private untrack(intent: Intent): void {
    this.intents.delete(intent.ticket);
    const held = this.exclusive.get(intent.key);
    if (held?.ticket === intent.ticket) {
      this.exclusive.delete(intent.key);
      held.release();
    }
    removeFrom(this.openByKey, intent.key, intent.ticket);
    if (intent.deltaspace !== null) removeFrom(this.openByDeltaspace, intent.deltaspace, intent.ticket);
    if (intent.deltaspace !== null) this.releaseSeeder(intent.deltaspace, intent.ticket);
  }

  private trackSeeder(deltaspace: string, ticket: number): void {
    let release!: () => void;
    const done = new Promise<void>((resolve) => { release = resolve; });
    this.seeders.set(deltaspace, { ticket, done, release });
  }

  private releaseSeeder(deltaspace: string, ticket: number): void {
    const seeder = this.seeders.get(deltaspace);
    if (seeder?.ticket !== ticket) return;
    this.seeders.delete(deltaspace);
    seeder.release();
  }
}

/** User keys per storage delete (4 stored keys each: variant, delta, two sidecars; R2 takes 1000 per call). */
const REMOVE_BATCH = 250;

function conflict(): S3Error {
  return new S3Error("ConditionalRequestConflict", "A conflicting operation occurred. If using PutObject you can retry the request. If using multipart upload you should initiate another CreateMultipartUpload request and re-upload each part.");
}

function notEmpty(message: string): S3Error {
  return new S3Error("BucketNotEmpty", message);
}

function addTo(index: Map<string, Set<number>>, name: string, ticket: number): void {
  let set = index.get(name);
  if (!set) index.set(name, (set = new Set()));
  set.add(ticket);
}

function removeFrom(index: Map<string, Set<number>>, name: string, ticket: number): void {
  const set = index.get(name);
  if (!set) return;
  set.delete(ticket);
  if (set.size === 0) index.delete(name);
}
