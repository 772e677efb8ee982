// The coordination protocol itself, independent of where it runs: open write intents per key and deltaspace,
// the rule for removing a key's other variant, reference collection only where no write is open, and the
// bucket's life (live → deleting → deleted). Hosted by the BucketCoordinator Durable Object (persistent
// intents, alarms) and by LocalCoordinator (memory). docs/ARCHITECTURE.md "Guarantees" gives the argument.
// Every change it makes or learns of a user key (commit, settle, remove) and of a reference (seed, collect) is
// also booked in the savings ledger (savings.ts), under the same locks, so the totals need no extra call.
import { S3Error } from "../errors";
import type {
  BucketLifecycle, BucketSavings, CommitFacts, Keyspace, RebuildStep, ReferenceFacts, SavingsOptions, Variant,
} from "./api";
import { Locks } from "./locks";
import { putActivity, type SavingsLedger } from "./savings";

/** Stored names one rebuild page reads by default (each a list entry; R2 lists 100 with metadata per call). */
export const REBUILD_PAGE = 1000;

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
  /** It held the seeding turn at some point: if it fails, what it may have created is read back for the totals. */
  claimedSeed?: boolean;
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
    /** The savings totals; null when DG_STATS is off. */
    private readonly ledger: SavingsLedger | null = null,
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

  async commit(ticket: number, variant: Variant, facts?: CommitFacts): Promise<void> {
    const intent = this.openIntent(ticket);
    if (intent.deltaspace === null) throw new Error("a multipart hold is released, not committed");
    const deltaspace = intent.deltaspace;
    await this.locks.with([`k:${intent.key}`], async () => {
      this.openIntent(ticket); // it may have expired while we waited
      // Booked while the intent still pins the deltaspace, so no collection can clear it before it is booked.
      const reference = facts?.reference;
      if (reference) await this.book(`reference of ${deltaspace}`, (ledger) => ledger.setReference(deltaspace, reference));
      this.untrack(intent);
      try {
        // The last write of the key to close decides; earlier ones leave the other variant to it.
        const othersOpen = this.openByKey.has(intent.key);
        if (!othersOpen) await this.keyspace.removeVariant(intent.key, variant === "delta" ? "plain" : "delta");
        await this.book(`commit of ${intent.key}`, (ledger) => this.bookWrite(ledger, intent.key, deltaspace, othersOpen, facts));
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
        intent.claimedSeed = true;
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
  async seedDone(ticket: number, reference?: ReferenceFacts): Promise<void> {
    const intent = this.intents.get(ticket);
    if (!intent?.seeding || intent.deltaspace === null) return;
    const deltaspace = intent.deltaspace;
    if (reference) await this.book(`reference of ${deltaspace}`, (ledger) => ledger.setReference(deltaspace, reference));
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
        // Part of the batch may be gone: book what storage holds now.
        for (const key of batch) await this.book(`failed delete of ${key}`, (ledger) => this.refreshKey(ledger, key));
        continue;
      }
      for (const key of batch) {
        await this.book(`delete of ${key}`, async (ledger) => {
          await ledger.setObject(key, this.keyspace.deltaspaceOf(key), null, { op: "delete" });
          // A write of the key still open may store its variant after this delete or before it: its close re-reads.
          if (this.openByKey.has(key)) await ledger.setDirty(key, true);
        });
      }
    }
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
      await this.book("bucket deletion", (ledger) => ledger.clear());
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
      // A failed seeder may have created a reference it could not report: book what is stored (while pinned).
      if (intent.claimedSeed && deltaspace !== null) {
        await this.book(`references of ${deltaspace}`, async (ledger) => ledger.replaceReferences(deltaspace, await this.keyspace.describeReferences(deltaspace)));
      }
      this.untrack(intent);
      try {
        if (deltaspace !== null && !this.openByKey.has(intent.key)) {
          await this.keyspace.settle(intent.key);
          // The failed write may have stored its variant (the newest, so settle kept it): book what is there.
          await this.book(`settle of ${intent.key}`, (ledger) => this.refreshKey(ledger, intent.key));
        } else if (deltaspace !== null) {
          await this.book(`close of ${intent.key}`, (ledger) => ledger.setDirty(intent.key, true));
        }
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
      const outcome = await this.keyspace.collectReference(deltaspace);
      if (outcome !== "kept") await this.book(`collection in ${deltaspace}`, (ledger) => ledger.replaceReferences(deltaspace, []));
      if (this.deferred.delete(deltaspace)) await this.store.saveDeferred(deltaspace, false);
    });
  }

  // ---- savings totals ----

  async savings(options: SavingsOptions = {}): Promise<BucketSavings> {
    return this.requireLedger().summary(options.detail ?? false);
  }

  /**
   * One page of the rebuild scan. Reads storage outside every lock: writes go on meanwhile, and the ledger
   * keeps the live record of whatever they touch until the scan ends (savings.ts finishRebuild).
   */
  async rebuildSavings(cursor: string | null, limit = REBUILD_PAGE): Promise<RebuildStep> {
    const ledger = this.requireLedger();
    let generation: string;
    let startAfter: string | null = null;
    if (cursor === null) {
      generation = await ledger.startRebuild();
    } else {
      const colon = cursor.indexOf(":");
      if (colon <= 0) throw new S3Error("InvalidArgument", "The rebuild cursor is not one this endpoint returned.");
      generation = cursor.slice(0, colon);
      startAfter = cursor.slice(colon + 1);
      await ledger.requireRebuild(generation);
    }
    const page = await this.keyspace.scan(startAfter, limit);
    await ledger.addScanned(generation, page.names);
    if (page.next !== null) return { cursor: `${generation}:${page.next}`, scanned: page.names.length };
    return { cursor: null, scanned: page.names.length, ...(await ledger.finishRebuild(generation)) };
  }

  private requireLedger(): SavingsLedger {
    if (!this.ledger) throw new S3Error("NotImplemented", "Savings totals are not kept (DG_STATS=off).");
    return this.ledger;
  }

  /**
   * Book a change in the savings totals. A failure there never fails the write (it already took effect): it
   * is logged, and the key is re-read from storage at its next write (or by a rebuild scan).
   */
  private async book(what: string, work: (ledger: SavingsLedger) => Promise<void>): Promise<void> {
    if (!this.ledger) return;
    try {
      await work(this.ledger);
    } catch (error) {
      console.error(`coordinator: savings totals not updated for ${what}: ${error}`);
    }
  }

  /**
   * A committed write's record. With another write of the key still open, which of them R2 keeps is not known
   * here (the later R2 write wins, not the later commit): the key is marked, and the last one to close reads it
   * back from storage. The same when a delete or failed write touched the key while this one was open.
   */
  private async bookWrite(ledger: SavingsLedger, key: string, deltaspace: string, othersOpen: boolean, facts?: CommitFacts): Promise<void> {
    if (othersOpen) {
      await ledger.setDirty(key, true);
      if (facts) await ledger.note({ ...putActivity(facts), key });
      return;
    }
    if (facts && !(await ledger.isDirty(key))) {
      await ledger.setObject(key, deltaspace, facts.object, putActivity(facts));
      return;
    }
    await ledger.setObject(key, deltaspace, await this.keyspace.describeKey(key), facts && putActivity(facts));
    await ledger.setDirty(key, false);
  }

  /** Book what storage holds of the key now. */
  private async refreshKey(ledger: SavingsLedger, key: string): Promise<void> {
    await ledger.setObject(key, this.keyspace.deltaspaceOf(key), await this.keyspace.describeKey(key));
    await ledger.setDirty(key, false);
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
