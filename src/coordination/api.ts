// The coordination layer's contract: what the engine asks of the one place that serializes a bucket's writes
// across isolates (a Durable Object in the Worker, an in-memory stand-in in unit tests), and what that place
// needs from storage to do its part. Protocol and argument: docs/ARCHITECTURE.md "Guarantees".

/** Which stored form of a user key a PUT wrote: `<key>.delta` or `<key>` itself. */
export type Variant = "delta" | "plain";

export interface Coordinator {
  /**
   * Open a write intent for `key` before the PUT touches anything visible (reference, variants). Until it is
   * committed, aborted or expired, the key's deltaspace keeps its reference.bin. Waits while a commit or
   * delete of the key or a reference collection of its deltaspace is running. Throws NoSuchBucket once the
   * bucket is being deleted or gone. Returns the intent's ticket.
   */
  begin(key: string, options?: BeginOptions): Promise<number>;
  /**
   * The PUT wrote `variant` (and its sidecar). Makes it the key's only variant unless another write of the
   * key is still open (then the last one to close removes the other). The PUT is acknowledged only after this
   * resolves; it throws when the ticket is unknown or expired (the PUT must fail).
   */
  commit(ticket: number, variant: Variant, facts?: CommitFacts): Promise<void>;
  /**
   * Before a PUT creates its deltaspace's reference.bin: one open write of the deltaspace at a time may (the
   * others wait until it called seedDone() or closed), so two first uploads never both write a reference,
   * even where the storage server has no conditional PUT. False only when the wait ran out.
   */
  claimSeed(ticket: number): Promise<boolean>;
  /** The claimed create of reference.bin is done (created, or found there): the next claimer may go. */
  seedDone(ticket: number, reference?: ReferenceFacts): Promise<void>;
  /** The PUT failed after begin(): close its intent (what it may have written is settled, newest wins). */
  abort(ticket: number): Promise<void>;
  /** Delete user keys (every stored variant), then collect the references nothing depends on. Returns failed keys. */
  remove(keys: string[]): Promise<string[]>;
  /** DeleteBucket: BucketNotEmpty while a write or hold is open or an object exists; afterwards begin() and hold() are refused. */
  deleteBucket(): Promise<void>;
  /**
   * A multipart call that writes under the bucket holds its upload (`name`: the upload's state key) while it
   * runs; throws NoSuchBucket once the bucket is being deleted or gone. `exclusive` (CompleteMultipartUpload):
   * refused with ConditionalRequestConflict while another call of the upload runs; calls that come meanwhile
   * wait for it (bounded, then SlowDown). Returns a ticket for release().
   */
  hold(name: string, options?: BeginOptions): Promise<number>;
  /** The held multipart call ended (succeeded or failed). */
  release(ticket: number): Promise<void>;
  /** The bucket's savings totals (running, kept by the commits and deletes above; src/coordination/savings.ts). */
  savings(options?: SavingsOptions): Promise<BucketSavings>;
  /**
   * One bounded page of the rebuild scan: recompute the totals from storage. `cursor` null starts a new scan
   * (abandoning one in progress); the last page replaces the totals. docs/ARCHITECTURE.md "Savings totals".
   */
  rebuildSavings(cursor: string | null, limit?: number): Promise<RebuildStep>;
}

/** How a user key is stored, for the savings totals: its `.delta` (with the deltaspace's reference) or as-is. */
export type StoredForm = "delta" | "direct";

/**
 * What one user key occupies in storage. `storedBytes` is every backend object of the key: the variant and its
 * `.meta` sidecar (both variants and sidecars while an overwrite is half done); `variantBytes` the variant alone.
 */
export interface ObjectFacts {
  form: StoredForm;
  /** The original (logical) size the client sees. */
  size: number;
  variantBytes: number;
  storedBytes: number;
}

/** One reference object of a deltaspace (`reference.bin`, or another kept beside it) with its sidecar's bytes. */
export interface ReferenceFacts {
  /** Its stored key, e.g. `releases/reference.bin`. */
  key: string;
  storedBytes: number;
}

/** What a PUT tells the coordinator at commit: the object it stored, the reference it created if any. */
export interface CommitFacts {
  object: ObjectFacts;
  /** As the PUT answered it (x-amz-storage-type): "reference" for the upload that seeded its deltaspace. */
  storageType: "reference" | "delta" | "passthrough";
  reference?: ReferenceFacts;
}

export interface SavingsOptions {
  /** Per-deltaspace rows and recent activity, not only the bucket's totals. */
  detail?: boolean;
}

/** Counts and bytes of one kind of stored object. */
export interface TypeTotals {
  objects: number;
  logicalBytes: number;
  storedBytes: number;
}

/**
 * Totals of a set of objects (a deltaspace, a bucket, all buckets). objects/logicalBytes count user objects
 * (byType.delta + byType.direct); storedBytes adds the reference objects (byType.reference: objects = how
 * many, logicalBytes 0); savedBytes = logicalBytes − storedBytes (negative when storing costs more).
 */
export interface SavingsSummary {
  objects: number;
  logicalBytes: number;
  storedBytes: number;
  savedBytes: number;
  savedPercent: number;
  referenceBytes: number;
  /** Deltaspaces holding an object or a reference. */
  deltaspaceCount: number;
  byType: { reference: TypeTotals; delta: TypeTotals; direct: TypeTotals };
}

export interface DeltaspaceSavings extends Omit<SavingsSummary, "deltaspaceCount"> {
  deltaspace: string;
  /** Its reference objects by stored key. */
  references: ReferenceFacts[];
  /** The delta object with the highest delta size / original size, or null when it holds no delta. */
  worst: { key: string; ratio: number } | null;
}

export interface RecentActivity {
  at: string;
  op: "put" | "delete";
  key: string;
  /** null for a delete of a key the totals did not know. */
  storageType: "reference" | "delta" | "passthrough" | null;
  size: number;
  storedBytes: number;
}

export interface BucketSavings {
  totals: SavingsSummary;
  /** When the totals were last rebuilt from storage (null: only kept by writes since the bucket's coordinator began). */
  rebuiltAt: string | null;
  /** A rebuild scan in progress: when it started and how many stored names it has read. */
  rebuilding: { startedAt: string; scanned: number } | null;
  deltaspaces?: DeltaspaceSavings[];
  recent?: RecentActivity[];
}

/** One stored name a rebuild scan read, attributed to what it belongs to. */
export type ScannedName =
  | { owner: "object"; key: string; deltaspace: string; role: "plain" | "delta" | "sidecar"; bytes: number; size?: number }
  | { owner: "reference"; key: string; deltaspace: string; role: "reference" | "sidecar"; bytes: number };

export interface ScanPage {
  names: ScannedName[];
  /** The last stored key read (resume after it), null when the listing is exhausted. */
  next: string | null;
  /** Names skipped (the proxy's `.dg/` internals are jumped, not counted). */
  skipped: number;
}

export interface RebuildStep {
  /** Pass to the next call; null when the scan is done and the totals were replaced. */
  cursor: string | null;
  scanned: number;
  /** On the last page: the rebuilt totals. */
  totals?: SavingsSummary;
  /** On the last page: sidecars whose object is gone (not counted in storedBytes). */
  ignored?: { objects: number; bytes: number };
}

export interface BeginOptions {
  /**
   * A conditional write (If-None-Match / If-Match): no other write or delete of the key may run until this one
   * closes, so the condition the engine checks after begin() still holds at commit. Refused with
   * ConditionalRequestConflict while another write of the key is open; writes and deletes of the key that come
   * meanwhile wait for it (bounded, then SlowDown).
   */
  exclusive?: boolean;
}

/** The storage side of the protocol, implemented by the engine over a bucket's Backend (src/engine/keyspace.ts). */
export interface Keyspace {
  deltaspaceOf(key: string): string;
  /** Delete one stored variant of a key and its sidecar. */
  removeVariant(key: string, variant: Variant): Promise<void>;
  /** Delete every stored variant and sidecar of these user keys (at most 250 keys). */
  removeObjects(keys: string[]): Promise<void>;
  /**
   * Delete the deltaspace's reference objects when no object is left in it: "collected" when it did,
   * "absent" when there was none and no object, "kept" when an object is left.
   */
  collectReference(deltaspace: string): Promise<"collected" | "absent" | "kept">;
  /** When both variants of a key exist, delete the one a GET would not pick (the older). */
  settle(key: string): Promise<void>;
  /** True when the bucket holds no user object. */
  isEmpty(): Promise<boolean>;
  /** What a user key occupies in storage now (HEADs of its four stored names), null when nothing. */
  describeKey(key: string): Promise<ObjectFacts | null>;
  /** The deltaspace's reference objects as stored now. */
  describeReferences(deltaspace: string): Promise<ReferenceFacts[]>;
  /** One page of the rebuild scan: up to `limit` stored names after `startAfter`, `.dg/` internals skipped. */
  scan(startAfter: string | null, limit: number): Promise<ScanPage>;
}

/** A runtime bucket's existence, as the bucket registry keeps it. */
export interface BucketLifecycle {
  exists(): Promise<boolean>;
  /** Remove every internal leftover under the bucket, then the bucket itself (it stops existing last). */
  destroy(): Promise<void>;
}
