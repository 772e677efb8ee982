// The savings ledger: a bucket's running totals (objects, logical and stored bytes, by storage form, per
// deltaspace and for the bucket, the worst delta per deltaspace, recent activity), kept by the coordinator on
// every commit, delete, settle, reference seed and collection, so no request ever lists the bucket to show them.
// It keeps one record per user key, so an overwrite or delete subtracts exactly what the key held before. The
// rebuild scan recomputes everything from storage (the source of truth) page by page while writes go on: keys
// and deltaspaces a live event touches during the scan keep their live record (docs/ARCHITECTURE.md
// "Savings totals"). State lives in a small key-value store: Durable Object storage, or memory.
import { ConfigError, S3Error } from "../errors";
import type {
  BucketSavings, CommitFacts, DeltaspaceSavings, ObjectFacts, RebuildStep, RecentActivity, ReferenceFacts,
  SavingsSummary, ScannedName, TypeTotals,
} from "./api";

/** The ledger's storage: Durable Object storage's key-value calls, or a Map (LocalCoordinator). */
export interface LedgerStorage {
  get<T>(keys: string[]): Promise<Map<string, T>>;
  put(entries: Record<string, unknown>): Promise<void>;
  delete(keys: string[]): Promise<void>;
  /** Entries whose key starts with `prefix`, in key order, after `startAfter`, at most `limit`. */
  list<T>(prefix: string, options?: { startAfter?: string; limit?: number }): Promise<Map<string, T>>;
}

export const STATS_VARIABLE = "DG_STATS";

export interface StatsConfig {
  /** Keep savings totals (DG_STATS, default on). Off: commits carry no bookkeeping and /_/stats is refused. */
  enabled: boolean;
}

export function parseStatsConfig(env: Record<string, unknown>): StatsConfig {
  const raw = env[STATS_VARIABLE];
  if (raw === undefined || raw === null || raw === "") return { enabled: true };
  const value = String(raw).trim().toLowerCase();
  if (["on", "true", "1"].includes(value)) return { enabled: true };
  if (["off", "false", "0"].includes(value)) return { enabled: false };
  throw new ConfigError(STATS_VARIABLE, `must be on or off (got ${JSON.stringify(String(raw))}).`);
}

/** How many recent writes and deletes the ledger keeps for the dashboard. */
export const RECENT_LIMIT = 50;
/** A rebuild scan nobody continued for this long is abandoned: a new one may start, its cursor is refused. */
const REBUILD_IDLE_MS = 3600 * 1000;
/** Durable Object storage takes at most 128 keys per get/delete. */
const BATCH = 128;
const LIST_PAGE = 1000;

// Storage layout (all under "s:", beside the coordinator's intents):
const OBJECT = "s:o:"; //        s:o:<hash(deltaspace)>:<key> → ObjectRecord
const DELTASPACE = "s:d:"; //    s:d:<deltaspace> → DeltaspaceRecord
const TOTALS = "s:t"; //         → BucketRecord
const RECENT = "s:r:"; //        s:r:<seq, 12 digits> → RecentActivity
const RECENT_SEQ = "s:rseq";
const DIRTY = "s:dirty:"; //     s:dirty:<key> → true: re-read the key from storage when its last write closes
const REBUILT_AT = "s:rebuiltAt";
const REBUILD = "s:x"; //        → RebuildState
const SHADOW_OBJECT = "s:x:o:"; //   s:x:o:<key> → KeyParts (what the scan found of the key so far)
const SHADOW_REFERENCE = "s:x:r:"; // s:x:r:<stored key> → { deltaspace, bytes, main }
const TOUCHED_OBJECT = "s:x:to:"; //  s:x:to:<key> → true (a live event changed it during the scan)
const TOUCHED_DELTASPACE = "s:x:td:"; // s:x:td:<deltaspace> → true (its references changed during the scan)

interface ObjectRecord extends ObjectFacts {
  key: string;
  deltaspace: string;
}

interface FormTotals {
  objects: number;
  logicalBytes: number;
  storedBytes: number;
}

interface DeltaspaceRecord {
  deltaspace: string;
  delta: FormTotals;
  direct: FormTotals;
  /** Reference objects by stored key → bytes (with sidecar). */
  references: Record<string, number>;
  worst: { key: string; ratio: number } | null;
}

interface BucketRecord {
  delta: FormTotals;
  direct: FormTotals;
  referenceObjects: number;
  referenceBytes: number;
  deltaspaces: number;
}

interface RebuildState {
  generation: string;
  startedAt: number;
  lastPageAt: number;
  scanned: number;
}

/** What a scan found of one user key so far (its names may be spread over several pages). */
interface KeyParts {
  deltaspace: string;
  plain?: { bytes: number; size: number };
  delta?: { bytes: number; size: number };
  sidecarBytes: number;
}

export class SavingsLedger {
  private tail: Promise<unknown> = Promise.resolve();

  constructor(private readonly storage: LedgerStorage, private readonly now: () => number = Date.now) {}

  /** Ledger updates are read-modify-write over several records: one at a time. */
  private serial<T>(work: () => Promise<T>): Promise<T> {
    const run = this.tail.then(work, work);
    this.tail = run.catch(() => {});
    return run;
  }

  /** The key now holds `facts` (null: nothing). Subtracts its previous record, adds the new one. */
  setObject(key: string, deltaspace: string, facts: ObjectFacts | null, activity?: Activity | { op: "delete" }): Promise<void> {
    return this.serial(async () => {
      await this.markTouched(TOUCHED_OBJECT + key);
      const recordKey = objectKey(deltaspace, key);
      const [old, ds, bucket] = await this.records(recordKey, deltaspace);
      const next: ObjectRecord | null = facts && { ...facts, key, deltaspace };
      const entries: Record<string, unknown> = {};
      const before = isEmptyDeltaspace(ds);
      if (old) apply(ds, bucket, old, -1);
      if (next) apply(ds, bucket, next, +1);
      await this.updateWorst(ds, key, next);
      if (next) entries[recordKey] = next;
      else if (old) await this.storage.delete([recordKey]);
      if (activity) {
        const done: Activity = activity.op === "delete"
          ? { op: "delete", storageType: old ? (old.form === "delta" ? "delta" : "passthrough") : null, size: old?.size ?? 0, storedBytes: old?.storedBytes ?? 0 }
          : activity;
        Object.assign(entries, await this.recentEntry({ ...done, key, at: new Date(this.now()).toISOString() }));
      }
      await this.saveAggregates(entries, ds, bucket, before);
    });
  }

  /** Record activity without changing a key's record (a commit that another open write of the key will settle). */
  note(activity: Omit<RecentActivity, "at">): Promise<void> {
    return this.serial(async () => this.storage.put(await this.recentEntry({ ...activity, at: new Date(this.now()).toISOString() })));
  }

  /** A reference object of the deltaspace exists with these bytes (seeded by a PUT, or found by a HEAD). */
  setReference(deltaspace: string, reference: ReferenceFacts): Promise<void> {
    return this.serial(async () => {
      await this.markTouched(TOUCHED_DELTASPACE + deltaspace);
      const [, ds, bucket] = await this.records(null, deltaspace);
      const before = isEmptyDeltaspace(ds);
      const old = ds.references[reference.key];
      if (old !== undefined) { bucket.referenceBytes -= old; bucket.referenceObjects -= 1; }
      ds.references[reference.key] = reference.storedBytes;
      bucket.referenceBytes += reference.storedBytes;
      bucket.referenceObjects += 1;
      await this.saveAggregates({}, ds, bucket, before);
    });
  }

  /** The deltaspace's reference objects are exactly these (collected: none). */
  replaceReferences(deltaspace: string, references: ReferenceFacts[]): Promise<void> {
    return this.serial(async () => {
      await this.markTouched(TOUCHED_DELTASPACE + deltaspace);
      const [, ds, bucket] = await this.records(null, deltaspace);
      const before = isEmptyDeltaspace(ds);
      for (const bytes of Object.values(ds.references)) { bucket.referenceBytes -= bytes; bucket.referenceObjects -= 1; }
      ds.references = {};
      for (const reference of references) {
        ds.references[reference.key] = reference.storedBytes;
        bucket.referenceBytes += reference.storedBytes;
        bucket.referenceObjects += 1;
      }
      await this.saveAggregates({}, ds, bucket, before);
    });
  }

  /** Keys whose record must be re-read from storage when their last open write closes (see core.ts). */
  async isDirty(key: string): Promise<boolean> {
    return (await this.storage.get([DIRTY + key])).has(DIRTY + key);
  }

  async setDirty(key: string, dirty: boolean): Promise<void> {
    if (dirty) await this.storage.put({ [DIRTY + key]: true });
    else await this.storage.delete([DIRTY + key]);
  }

  /** DeleteBucket: the bucket is gone with everything in it. */
  clear(): Promise<void> {
    return this.serial(async () => {
      for (const prefix of ["s:"]) await this.deletePrefix(prefix);
    });
  }

  async summary(detail: boolean): Promise<BucketSavings> {
    const [bucketMap, rebuiltMap, rebuildMap] = await Promise.all([
      this.storage.get<BucketRecord>([TOTALS]), this.storage.get<number>([REBUILT_AT]), this.storage.get<RebuildState>([REBUILD]),
    ]);
    const rebuiltAt = rebuiltMap.get(REBUILT_AT);
    const rebuild = rebuildMap.get(REBUILD);
    const result: BucketSavings = {
      totals: bucketSummary(bucketMap.get(TOTALS) ?? emptyBucket()),
      rebuiltAt: rebuiltAt === undefined ? null : new Date(rebuiltAt).toISOString(),
      rebuilding: rebuild && this.now() - rebuild.lastPageAt < REBUILD_IDLE_MS
        ? { startedAt: new Date(rebuild.startedAt).toISOString(), scanned: rebuild.scanned } : null,
    };
    if (!detail) return result;
    const deltaspaces: DeltaspaceSavings[] = [];
    for await (const [, ds] of this.entries<DeltaspaceRecord>(DELTASPACE)) deltaspaces.push(deltaspaceSummary(ds));
    const recent: RecentActivity[] = [];
    for await (const [, entry] of this.entries<RecentActivity>(RECENT)) recent.push(entry);
    return { ...result, deltaspaces, recent: recent.reverse() };
  }

  // ---- rebuild scan ----

  /** Begin a rebuild scan (abandoning one in progress); returns its generation for the cursor. */
  startRebuild(): Promise<string> {
    return this.serial(async () => {
      await this.deletePrefix(REBUILD);
      const now = this.now();
      const state: RebuildState = { generation: `${now.toString(36)}${Math.random().toString(36).slice(2, 8)}`, startedAt: now, lastPageAt: now, scanned: 0 };
      await this.storage.put({ [REBUILD]: state });
      return state.generation;
    });
  }

  /** The scan in progress must be `generation` (else it was restarted or abandoned: the caller starts over). */
  async requireRebuild(generation: string): Promise<void> {
    const state = (await this.storage.get<RebuildState>([REBUILD])).get(REBUILD);
    if (!state || state.generation !== generation || this.now() - state.lastPageAt >= REBUILD_IDLE_MS) {
      throw new S3Error("InvalidArgument", "This rebuild scan was restarted or abandoned; start again without a cursor.");
    }
  }

  /** Add one page of scanned names to the scan's shadow totals. */
  addScanned(generation: string, names: ScannedName[]): Promise<void> {
    return this.serial(async () => {
      await this.requireRebuild(generation);
      const objectKeys = [...new Set(names.filter((n) => n.owner === "object").map((n) => SHADOW_OBJECT + n.key))];
      const parts = await this.getMany<KeyParts>(objectKeys);
      const references: Record<string, { deltaspace: string; bytes: number; main: boolean }> = {};
      const existingRefs = await this.getMany<{ deltaspace: string; bytes: number; main: boolean }>(
        [...new Set(names.filter((n) => n.owner === "reference").map((n) => SHADOW_REFERENCE + n.key))]);
      for (const name of names) {
        if (name.owner === "object") {
          const id = SHADOW_OBJECT + name.key;
          const part = parts.get(id) ?? { deltaspace: name.deltaspace, sidecarBytes: 0 };
          if (name.role === "sidecar") part.sidecarBytes += name.bytes;
          else part[name.role] = { bytes: name.bytes, size: name.size ?? name.bytes };
          parts.set(id, part);
        } else {
          const id = SHADOW_REFERENCE + name.key;
          const ref = references[id] ?? existingRefs.get(id) ?? { deltaspace: name.deltaspace, bytes: 0, main: false };
          ref.bytes += name.bytes;
          if (name.role === "reference") ref.main = true;
          references[id] = ref;
        }
      }
      const state = (await this.storage.get<RebuildState>([REBUILD])).get(REBUILD)!;
      state.scanned += names.length;
      state.lastPageAt = this.now();
      await this.putMany({ ...Object.fromEntries(parts), ...references, [REBUILD]: state });
    });
  }

  /**
   * The scan reached the end: the shadow totals become the totals, except for keys and deltaspaces a live event
   * touched meanwhile, which keep their live records (they are newer than what the scan read).
   */
  finishRebuild(generation: string): Promise<Pick<RebuildStep, "totals" | "ignored">> {
    return this.serial(async () => {
      await this.requireRebuild(generation);
      const touched = async (id: string) => (await this.storage.get([id])).has(id);
      // Objects: untouched live records go, the scan's records of untouched keys come in.
      for await (const [id, record] of this.entries<ObjectRecord>(OBJECT)) {
        if (!(await touched(TOUCHED_OBJECT + record.key))) await this.storage.delete([id]);
      }
      const ignored = { objects: 0, bytes: 0 };
      for await (const [id, parts] of this.entries<KeyParts>(SHADOW_OBJECT)) {
        const key = id.slice(SHADOW_OBJECT.length);
        if (await touched(TOUCHED_OBJECT + key)) continue;
        const facts = factsFromParts(parts);
        if (facts) await this.storage.put({ [objectKey(parts.deltaspace, key)]: { ...facts, key, deltaspace: parts.deltaspace } });
        else { ignored.objects += 1; ignored.bytes += parts.sidecarBytes; }
      }
      // References: touched deltaspaces keep the live ones, the others get what the scan found.
      const references = new Map<string, Record<string, number>>();
      for await (const [, ds] of this.entries<DeltaspaceRecord>(DELTASPACE)) {
        if (await touched(TOUCHED_DELTASPACE + ds.deltaspace)) references.set(ds.deltaspace, ds.references);
      }
      for await (const [id, ref] of this.entries<{ deltaspace: string; bytes: number; main: boolean }>(SHADOW_REFERENCE)) {
        if (await touched(TOUCHED_DELTASPACE + ref.deltaspace)) continue;
        if (!ref.main) { ignored.objects += 1; ignored.bytes += ref.bytes; continue; }
        const map = references.get(ref.deltaspace) ?? {};
        map[id.slice(SHADOW_REFERENCE.length)] = ref.bytes;
        references.set(ref.deltaspace, map);
      }
      await this.recomputeAggregates(references);
      await this.deletePrefix(REBUILD);
      await this.storage.put({ [REBUILT_AT]: this.now() });
      const bucket = (await this.storage.get<BucketRecord>([TOTALS])).get(TOTALS) ?? emptyBucket();
      return { totals: bucketSummary(bucket), ignored };
    });
  }

  /** Every deltaspace and the bucket's totals from the object records (after a rebuild). */
  private async recomputeAggregates(references: Map<string, Record<string, number>>): Promise<void> {
    await this.deletePrefix(DELTASPACE);
    const spaces = new Map<string, DeltaspaceRecord>();
    const bucket = emptyBucket();
    const spaceOf = (name: string) => {
      let ds = spaces.get(name);
      if (!ds) spaces.set(name, (ds = emptyDeltaspace(name)));
      return ds;
    };
    for await (const [, record] of this.entries<ObjectRecord>(OBJECT)) {
      const ds = spaceOf(record.deltaspace);
      apply(ds, bucket, record, +1);
      const ratio = deltaRatio(record);
      if (ratio !== null && (ds.worst === null || ratio > ds.worst.ratio)) ds.worst = { key: record.key, ratio };
    }
    for (const [name, refs] of references) {
      if (Object.keys(refs).length === 0) continue;
      const ds = spaceOf(name);
      ds.references = refs;
      for (const bytes of Object.values(refs)) { bucket.referenceBytes += bytes; bucket.referenceObjects += 1; }
    }
    bucket.deltaspaces = spaces.size;
    await this.putMany({ ...Object.fromEntries([...spaces].map(([name, ds]) => [DELTASPACE + name, ds])), [TOTALS]: bucket });
  }

  // ---- helpers ----

  private async markTouched(id: string): Promise<void> {
    if ((await this.storage.get([REBUILD])).has(REBUILD)) await this.storage.put({ [id]: true });
  }

  private async records(recordKey: string | null, deltaspace: string): Promise<[ObjectRecord | null, DeltaspaceRecord, BucketRecord]> {
    const keys = [DELTASPACE + deltaspace, TOTALS, ...(recordKey ? [recordKey] : [])];
    const found = await this.storage.get<unknown>(keys);
    return [
      (recordKey && (found.get(recordKey) as ObjectRecord | undefined)) || null,
      (found.get(DELTASPACE + deltaspace) as DeltaspaceRecord | undefined) ?? emptyDeltaspace(deltaspace),
      (found.get(TOTALS) as BucketRecord | undefined) ?? emptyBucket(),
    ];
  }

  /** Keep the deltaspace's worst delta right after `key` changed to `next`. */
  private async updateWorst(ds: DeltaspaceRecord, key: string, next: ObjectRecord | null): Promise<void> {
    const ratio = next && deltaRatio(next);
    if (ratio !== null && ratio !== undefined && (ds.worst === null || ratio >= ds.worst.ratio)) {
      ds.worst = { key, ratio };
      return;
    }
    if (ds.worst?.key !== key) return;
    // The worst one got better or went away: find the next worst among the deltaspace's records.
    ds.worst = next && ratio !== null && ratio !== undefined ? { key, ratio } : null;
    for await (const [, record] of this.entries<ObjectRecord>(objectPrefix(ds.deltaspace))) {
      if (record.deltaspace !== ds.deltaspace || record.key === key) continue;
      const r = deltaRatio(record);
      if (r !== null && (ds.worst === null || r > ds.worst.ratio)) ds.worst = { key: record.key, ratio: r };
    }
  }

  private async saveAggregates(entries: Record<string, unknown>, ds: DeltaspaceRecord, bucket: BucketRecord, wasEmptyBefore: boolean): Promise<void> {
    const emptyNow = isEmptyDeltaspace(ds);
    if (wasEmptyBefore && !emptyNow) bucket.deltaspaces += 1;
    if (!wasEmptyBefore && emptyNow) bucket.deltaspaces -= 1;
    if (emptyNow) await this.storage.delete([DELTASPACE + ds.deltaspace]);
    else entries[DELTASPACE + ds.deltaspace] = ds;
    entries[TOTALS] = bucket;
    await this.storage.put(entries);
  }

  private async recentEntry(activity: RecentActivity): Promise<Record<string, unknown>> {
    const seq = ((await this.storage.get<number>([RECENT_SEQ])).get(RECENT_SEQ) ?? 0) + 1;
    if (seq > RECENT_LIMIT) await this.storage.delete([recentKey(seq - RECENT_LIMIT)]);
    return { [RECENT_SEQ]: seq, [recentKey(seq)]: activity };
  }

  private async *entries<T>(prefix: string): AsyncGenerator<[string, T]> {
    let startAfter: string | undefined;
    for (;;) {
      const page = await this.storage.list<T>(prefix, { startAfter, limit: LIST_PAGE });
      for (const entry of page) yield entry;
      if (page.size < LIST_PAGE) return;
      startAfter = [...page.keys()].pop();
    }
  }

  private async deletePrefix(prefix: string): Promise<void> {
    for (;;) {
      const keys = [...(await this.storage.list(prefix, { limit: LIST_PAGE })).keys()];
      if (keys.length === 0) return;
      for (let i = 0; i < keys.length; i += BATCH) await this.storage.delete(keys.slice(i, i + BATCH));
    }
  }

  private async getMany<T>(keys: string[]): Promise<Map<string, T>> {
    const found = new Map<string, T>();
    for (let i = 0; i < keys.length; i += BATCH) for (const [k, v] of await this.storage.get<T>(keys.slice(i, i + BATCH))) found.set(k, v);
    return found;
  }

  private async putMany(entries: Record<string, unknown>): Promise<void> {
    const all = Object.entries(entries);
    for (let i = 0; i < all.length; i += BATCH) await this.storage.put(Object.fromEntries(all.slice(i, i + BATCH)));
  }
}

type Activity = Omit<RecentActivity, "at" | "key">;

/** A commit's facts as the activity the ledger records. */
export function putActivity(facts: CommitFacts): Activity {
  return { op: "put", storageType: facts.storageType, size: facts.object.size, storedBytes: facts.object.storedBytes };
}

/** What a user key occupies, from its stored names (a delta wins over a plain object left by a half-done overwrite). */
export function factsFromParts(parts: Omit<KeyParts, "deltaspace">): ObjectFacts | null {
  const variant = parts.delta ?? parts.plain;
  if (!variant) return null;
  return {
    form: parts.delta ? "delta" : "direct",
    size: variant.size,
    variantBytes: variant.bytes,
    storedBytes: (parts.plain?.bytes ?? 0) + (parts.delta?.bytes ?? 0) + parts.sidecarBytes,
  };
}

function deltaRatio(record: ObjectFacts): number | null {
  return record.form === "delta" && record.size > 0 ? record.variantBytes / record.size : null;
}

function apply(ds: DeltaspaceRecord, bucket: BucketRecord, record: ObjectRecord, sign: 1 | -1): void {
  for (const totals of [ds[record.form], bucket[record.form]]) {
    totals.objects += sign;
    totals.logicalBytes += sign * record.size;
    totals.storedBytes += sign * record.storedBytes;
  }
}

function isEmptyDeltaspace(ds: DeltaspaceRecord): boolean {
  return ds.delta.objects === 0 && ds.direct.objects === 0 && Object.keys(ds.references).length === 0;
}

function objectPrefix(deltaspace: string): string {
  return `${OBJECT}${fnv1a(deltaspace)}:`;
}

/** The record's storage key: grouped by deltaspace (so its worst delta can be found again) within DO key limits. */
function objectKey(deltaspace: string, key: string): string {
  return objectPrefix(deltaspace) + key;
}

function recentKey(seq: number): string {
  return RECENT + String(seq).padStart(12, "0");
}

/** 32-bit FNV-1a as 8 hex digits: a short, stable group name for a deltaspace (collisions only widen a scan). */
function fnv1a(text: string): string {
  let hash = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(text)) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash.toString(16).padStart(8, "0");
}

function emptyForm(): FormTotals {
  return { objects: 0, logicalBytes: 0, storedBytes: 0 };
}

function emptyDeltaspace(deltaspace: string): DeltaspaceRecord {
  return { deltaspace, delta: emptyForm(), direct: emptyForm(), references: {}, worst: null };
}

function emptyBucket(): BucketRecord {
  return { delta: emptyForm(), direct: emptyForm(), referenceObjects: 0, referenceBytes: 0, deltaspaces: 0 };
}

function summarize(delta: FormTotals, direct: FormTotals, referenceObjects: number, referenceBytes: number): Omit<SavingsSummary, "deltaspaceCount"> {
  const logicalBytes = delta.logicalBytes + direct.logicalBytes;
  const storedBytes = delta.storedBytes + direct.storedBytes + referenceBytes;
  const savedBytes = logicalBytes - storedBytes;
  const reference: TypeTotals = { objects: referenceObjects, logicalBytes: 0, storedBytes: referenceBytes };
  return {
    objects: delta.objects + direct.objects,
    logicalBytes,
    storedBytes,
    savedBytes,
    savedPercent: logicalBytes > 0 ? Math.round((savedBytes / logicalBytes) * 10000) / 100 : 0,
    referenceBytes,
    byType: { reference, delta: { ...delta }, direct: { ...direct } },
  };
}

export function bucketSummary(bucket: BucketRecord): SavingsSummary {
  return { ...summarize(bucket.delta, bucket.direct, bucket.referenceObjects, bucket.referenceBytes), deltaspaceCount: bucket.deltaspaces };
}

function deltaspaceSummary(ds: DeltaspaceRecord): DeltaspaceSavings {
  const refs = Object.entries(ds.references);
  const referenceBytes = refs.reduce((sum, [, bytes]) => sum + bytes, 0);
  return {
    deltaspace: ds.deltaspace,
    ...summarize(ds.delta, ds.direct, refs.length, referenceBytes),
    references: refs.map(([key, storedBytes]) => ({ key, storedBytes })),
    worst: ds.worst,
  };
}

/** Sum summaries (all buckets' totals). */
export function addSummaries(summaries: SavingsSummary[]): SavingsSummary {
  const add = (a: TypeTotals, b: TypeTotals): TypeTotals => ({
    objects: a.objects + b.objects, logicalBytes: a.logicalBytes + b.logicalBytes, storedBytes: a.storedBytes + b.storedBytes,
  });
  let delta = emptyForm();
  let direct = emptyForm();
  let reference = emptyForm();
  let deltaspaceCount = 0;
  for (const s of summaries) {
    delta = add(delta, s.byType.delta);
    direct = add(direct, s.byType.direct);
    reference = add(reference, s.byType.reference);
    deltaspaceCount += s.deltaspaceCount;
  }
  return { ...summarize(delta, direct, reference.objects, reference.storedBytes), deltaspaceCount };
}

/** The ledger over a Map (LocalCoordinator, one isolate). */
export function memoryLedgerStorage(): LedgerStorage {
  const map = new Map<string, unknown>();
  return {
    get: async <T>(keys: string[]) => new Map(keys.filter((k) => map.has(k)).map((k) => [k, structuredClone(map.get(k)) as T])),
    put: async (entries) => { for (const [k, v] of Object.entries(entries)) map.set(k, structuredClone(v)); },
    delete: async (keys) => { for (const k of keys) map.delete(k); },
    list: async <T>(prefix: string, options: { startAfter?: string; limit?: number } = {}) => {
      const keys = [...map.keys()].filter((k) => k.startsWith(prefix) && (options.startAfter === undefined || k > options.startAfter)).sort();
      return new Map(keys.slice(0, options.limit ?? keys.length).map((k) => [k, structuredClone(map.get(k)) as T]));
    },
  };
}
