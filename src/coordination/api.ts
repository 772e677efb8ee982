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
  commit(ticket: number, variant: Variant): Promise<void>;
  /**
   * Before a PUT creates its deltaspace's reference.bin: one open write of the deltaspace at a time may (the
   * others wait until it called seedDone() or closed), so two first uploads never both write a reference,
   * even where the storage server has no conditional PUT. False only when the wait ran out.
   */
  claimSeed(ticket: number): Promise<boolean>;
  /** The claimed create of reference.bin is done (created, or found there): the next claimer may go. */
  seedDone(ticket: number): Promise<void>;
  /** The PUT failed after begin(): close its intent (what it may have written is settled, newest wins). */
  abort(ticket: number): Promise<void>;
  /** Delete user keys (every stored variant), then collect the references nothing depends on. Returns failed keys. */
  remove(keys: string[]): Promise<string[]>;
  /**
   * Re-baseline: delete the deltaspace's reference.bin now that no `.delta` depends on it (its objects were
   * rewritten as plain ones), under the same rule as collection: only while no write is open in the deltaspace
   * ("busy" otherwise; the caller tries again). "in-use" when a delta is still stored there.
   */
  retireReference(deltaspace: string): Promise<RetireOutcome>;
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

export type RetireOutcome = "retired" | "absent" | "in-use" | "busy";

/** The storage side of the protocol, implemented by the engine over a bucket's Backend (src/engine/keyspace.ts). */
export interface Keyspace {
  deltaspaceOf(key: string): string;
  /** Delete one stored variant of a key and its sidecar. */
  removeVariant(key: string, variant: Variant): Promise<void>;
  /** Delete every stored variant and sidecar of these user keys (at most 250 keys). */
  removeObjects(keys: string[]): Promise<void>;
  /** Delete the deltaspace's reference.bin when no object is left in it. True when it did. */
  collectReference(deltaspace: string): Promise<boolean>;
  /** Delete the deltaspace's reference.bin when no `.delta` is stored directly in it (plain objects do not need it). */
  retireReference(deltaspace: string): Promise<Exclude<RetireOutcome, "busy">>;
  /** When both variants of a key exist, delete the one a GET would not pick (the older). */
  settle(key: string): Promise<void>;
  /** True when the bucket holds no user object. */
  isEmpty(): Promise<boolean>;
}

/** A runtime bucket's existence, as the bucket registry keeps it. */
export interface BucketLifecycle {
  exists(): Promise<boolean>;
  /** Remove every internal leftover under the bucket, then the bucket itself (it stops existing last). */
  destroy(): Promise<void>;
}
