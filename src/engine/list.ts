// Listing in user-key space over the stored layout: reference.bin, `.meta` sidecars and `.dg/` folders are hidden,
// `.delta` is stripped, sizes and ETags are the originals' (from metadata, listed with includeMetadata).
//
// Order: S3 clients (aws s3 sync) merge listings by UTF-8 key order on every page, but stripping `.delta`
// reorders keys: `a.zip.delta` sorts after `a.zip.b` in the store while `a.zip` sorts before `a.zip.b` for the
// client. The stored stream is therefore merged with a hold-back: an entry is emitted only once no stored key
// still to come can map to a smaller user key. Only a delta `U.delta` with U a prefix of the stream position P
// and `U.delta` > P can (a "candidate"); it is resolved by the stream passing `U.delta`, or by one HEAD.
// The cursor is the last entry emitted (a user key or common prefix): resuming after it is exact.
//
// Cost: hidden ranges (`.dg/` at the bucket root, a common prefix already listed) are jumped over with one
// start-after instead of being paged through; after callBudget(max-keys) backend lists a page that has something to
// show stops early (S3 allows short truncated pages). A backend that does not advance is an InternalError.
import type { ListInput, ListResult, ListedObject } from "./api";
import { base64UrlToBytes, bytesToBase64Url } from "../encoding";
import { S3Error } from "../errors";
import type { StoredObject } from "../storage/backend";
import { readSidecar, type EngineContext } from "./context";
import {
  classifyStoredKey, compareKeys, DELTA_SUFFIX, INTERNAL_PREFIX, isInternalPath, REFERENCE_NAME, SIDECAR_SUFFIX, sidecarKey,
} from "./deltaspace";
import { clientEtag, decodeMetadata, type DgRecord } from "./metadata";

/** Sorts after every key that continues a given prefix with ordinary characters. */
const MAX_CHAR = "\u{10FFFF}";
/**
 * Backend list calls after which a page with at least one entry is returned (possibly short): room for about
 * three stored keys per entry (sidecars, references) at R2's 100 objects per list with metadata, plus jumps.
 */
export const callBudget = (maxKeys: number) => 4 + Math.ceil((3 * maxKeys) / 100);
/** First backend page: hidden sidecars roughly double the stored entries, so ask for a few times max-keys. */
const firstBackendPage = (maxKeys: number) => Math.min(1000, maxKeys * 3 + 10);

type StoredItem = { type: "object"; object: StoredObject } | { type: "prefix"; prefix: string };

/** One listing entry: a user key (with the stored variants that map to it) or a common prefix. */
interface Entry {
  type: "object" | "prefix";
  key: string;
  variants: StoredObject[];
}

export async function listObjects(ctx: EngineContext, input: ListInput): Promise<ListResult> {
  const maxKeys = Math.max(0, Math.min(1000, Math.floor(input.maxKeys)));
  const prefix = input.prefix ?? "";
  if (maxKeys === 0 || prefix.startsWith(INTERNAL_PREFIX)) return { objects: [], commonPrefixes: [], isTruncated: false };
  // S3 ignores start-after once a continuation token is given.
  const after = input.cursor !== undefined ? decodeCursor(input.cursor) : input.startAfter || undefined;
  const scope = new Scope(prefix, input.delimiter || undefined, after);
  return new Listing(ctx, scope, maxKeys).run();
}

/** Prefix, delimiter and the entry-space position already listed ("after"): which entry a user key lists as. */
class Scope {
  constructor(readonly prefix: string, readonly delimiter: string | undefined, public after: string | undefined) {}

  /** The common prefix that rolls a key up (S3: up to the first delimiter after the prefix), or the key. */
  entryOf(key: string): { key: string; isPrefix: boolean } {
    if (this.delimiter && key.startsWith(this.prefix)) {
      const at = key.indexOf(this.delimiter, this.prefix.length);
      if (at >= 0) return { key: key.slice(0, at + this.delimiter.length), isPrefix: true };
    }
    return { key, isPrefix: false };
  }

  isPast(entryKey: string): boolean {
    return this.after === undefined || compareKeys(entryKey, this.after) > 0;
  }

  /** Where the stored stream starts: after the position, or after the whole common prefix holding it. */
  streamStart(): string | undefined {
    if (this.after === undefined || compareKeys(this.after, this.prefix) < 0) return undefined;
    const entry = this.entryOf(this.after);
    return entry.isPrefix ? entry.key + MAX_CHAR : this.after;
  }
}

/**
 * A delimiter the backend can roll up for us: one that can never end inside `.delta`, `.meta`,
 * `reference.bin` or the root's `.dg` (those would make common prefixes no user key has, like `a.zip.` from
 * `a.zip.delta` for "."). Other delimiters ("e", ".") are rolled up here from an undelimited listing.
 */
export function backendCanRollUp(delimiter: string): boolean {
  const endsInside = (marker: string, lastEnd: number) => {
    for (let end = 1; end <= lastEnd; end++) {
      const piece = marker.slice(0, end);
      if (end >= delimiter.length ? piece.endsWith(delimiter) : delimiter.endsWith(piece)) return true;
    }
    return false;
  };
  const dg = INTERNAL_PREFIX.slice(0, -1);
  return ![DELTA_SUFFIX, SIDECAR_SUFFIX, REFERENCE_NAME].some((m) => endsInside(m, m.length))
    && !(delimiter.length <= dg.length && endsInside(dg, dg.length));
}

class Listing {
  private readonly stream: StoredStream;
  private readonly rollUpHere: boolean;
  /** Entries read but not yet emitted, sorted by key. */
  private readonly held: Entry[] = [];
  private readonly heldByKey = new Map<string, Entry>();
  private readonly emitted: Entry[] = [];
  /** Candidate user keys already settled by a HEAD of their `.delta`, and the stored keys those found. */
  private readonly probed = new Set<string>();
  private readonly probedStored = new Set<string>();
  /** Every stored key read (a plain object's sidecar is read only when it is known to exist). */
  private readonly seen = new Set<string>();

  constructor(private readonly ctx: EngineContext, private readonly scope: Scope, private readonly maxKeys: number) {
    this.rollUpHere = scope.delimiter !== undefined && !backendCanRollUp(scope.delimiter);
    this.stream = new StoredStream(ctx, {
      prefix: scope.prefix,
      delimiter: this.rollUpHere ? undefined : scope.delimiter,
      includeMetadata: ctx.listMetadata === "all",
      firstLimit: firstBackendPage(maxKeys),
    }, scope.streamStart());
  }

  async run(): Promise<ListResult> {
    for (;;) {
      this.emitReady();
      if (this.emitted.length >= this.maxKeys || this.stream.ended) break;
      const item = this.stream.next();
      if (item) {
        this.consume(item);
        continue;
      }
      if (this.stream.calls >= callBudget(this.maxKeys) && this.emitted.length + this.held.length > 0) {
        // Budget spent: settle what still blocks the held entries, show them, and let the client come back.
        await this.probe([...this.candidates()]);
        this.emitReady();
        if (this.emitted.length > 0) break;
      }
      await this.jumpOverListedRange();
      await this.stream.fetch();
    }
    const truncated = this.held.length > 0 || !this.stream.ended;
    const objects = await Promise.all(this.emitted.filter((e) => e.type === "object").map((e) => this.listed(e)));
    return {
      objects,
      commonPrefixes: this.emitted.filter((e) => e.type === "prefix").map((e) => e.key),
      isTruncated: truncated,
      nextCursor: truncated ? encodeCursor(this.emitted[this.emitted.length - 1].key) : undefined,
    };
  }

  private consume(item: StoredItem): void {
    if (item.type === "prefix") {
      // With a delimiter the backend can roll up, its common prefixes are the user's (`.dg/` aside).
      if (!isInternalPath(item.prefix) && this.scope.isPast(item.prefix)) this.hold("prefix", item.prefix);
      return;
    }
    const stored = item.object;
    this.seen.add(stored.key);
    if (this.probedStored.has(stored.key)) return;
    const kind = classifyStoredKey(stored.key);
    if (kind.kind === "internal" || !kind.userKey.startsWith(this.scope.prefix)) return; // `a.zip.delta` under `a.zip.d`
    const entry = this.scope.entryOf(kind.userKey);
    if (!this.scope.isPast(entry.key)) return;
    if (entry.isPrefix) this.hold("prefix", entry.key);
    else this.hold("object", entry.key, stored);
  }

  private hold(type: Entry["type"], key: string, stored?: StoredObject): void {
    let entry = this.heldByKey.get(key);
    if (!entry) {
      entry = { type, key, variants: [] };
      this.heldByKey.set(key, entry);
      let low = 0;
      let high = this.held.length;
      while (low < high) {
        const mid = (low + high) >> 1;
        if (compareKeys(this.held[mid].key, key) < 0) low = mid + 1;
        else high = mid;
      }
      this.held.splice(low, 0, entry);
    }
    // Both variants of one key (`k` and `k.delta`) exist only mid-overwrite; the newer one is shown.
    if (stored) entry.variants.push(stored);
  }

  /** Move held entries that nothing still unread can precede into the page, in key order. */
  private emitReady(): void {
    const bound = this.frontier();
    while (this.held.length > 0 && this.emitted.length < this.maxKeys) {
      const first = this.held[0];
      if (bound) {
        const order = compareKeys(first.key, bound.key);
        if (order > 0 || (order === 0 && bound.pendingKey && first.type === "object")) break;
      }
      this.held.shift();
      this.heldByKey.delete(first.key);
      this.emitted.push(first);
      this.scope.after = first.key;
    }
  }

  /**
   * The smallest entry a stored key still to come can produce: that of the first unsettled candidate, else
   * that of the stream position (everything later maps to a larger key). Undefined once the stream ended.
   */
  private frontier(): { key: string; pendingKey: boolean } | undefined {
    if (this.stream.ended) return undefined;
    const position = this.stream.position;
    if (position === undefined) return { key: "", pendingKey: false };
    for (const candidate of this.candidates()) return { key: this.scope.entryOf(candidate).key, pendingKey: true };
    return { key: this.scope.entryOf(position).key, pendingKey: false };
  }

  /**
   * User keys U, shortest first, whose `U.delta` may still come: U is a prefix of the stream position P with
   * `U.delta` > P (any key between U and `U.delta` starts with U), not yet listed, absorbed or looked up.
   */
  private *candidates(): Generator<string> {
    const position = this.stream.position;
    if (position === undefined) return;
    for (let i = Math.max(this.scope.prefix.length, 1); i <= position.length; i++) {
      // The rest must sort before ".delta": it starts with a character up to "." (surrogate halves never do).
      if (i < position.length && position.charCodeAt(i) > 0x2e) continue;
      if (compareKeys(position.slice(i), DELTA_SUFFIX) >= 0) continue;
      const user = position.slice(0, i);
      // (A jump position ends with MAX_CHAR; nothing continues it.)
      if (this.probed.has(user) || !user.startsWith(this.scope.prefix) || user.includes(MAX_CHAR)) continue;
      if (classifyStoredKey(user + DELTA_SUFFIX).kind !== "delta") continue;
      const entry = this.scope.entryOf(user);
      if (!this.scope.isPast(entry.key) || (entry.isPrefix && this.heldByKey.has(entry.key))) continue;
      yield user;
    }
  }

  /** Settle candidates with one HEAD each (in parallel): a found delta is held like a listed one. */
  private async probe(users: string[]): Promise<void> {
    const found = await Promise.all(users.map((user) => this.ctx.backend.head(user + DELTA_SUFFIX)));
    users.forEach((user, i) => {
      this.probed.add(user);
      const stored = found[i];
      if (!stored) return;
      this.probedStored.add(stored.key);
      const entry = this.scope.entryOf(user);
      this.hold(entry.isPrefix ? "prefix" : "object", entry.key, entry.isPrefix ? undefined : stored);
    });
  }

  /**
   * Before reading on from a position inside a range that can add nothing, continue after the range: `.dg/`
   * at the root, or (delimiter rolled up here) a common prefix already held or listed — once the deltas in it
   * whose user key lies outside it (`a.delta` inside `a.` for ".") are looked up.
   */
  private async jumpOverListedRange(): Promise<void> {
    const position = this.stream.position;
    if (position === undefined) return;
    if (position.startsWith(INTERNAL_PREFIX)) return this.stream.jumpTo(INTERNAL_PREFIX + MAX_CHAR);
    if (!this.rollUpHere) return;
    const entry = this.scope.entryOf(position);
    if (!entry.isPrefix || (this.scope.isPast(entry.key) && !this.heldByKey.has(entry.key))) return;
    await this.probe([...this.candidates()].filter((user) => (user + DELTA_SUFFIX).startsWith(entry.key)));
    this.stream.jumpTo(entry.key + MAX_CHAR);
  }

  private async listed(entry: Entry): Promise<ListedObject> {
    const variants = await Promise.all(entry.variants.map((stored) => listedObject(this.ctx, stored, this.seen)));
    return variants.reduce((newest, v) => (v.lastModified > newest.lastModified ? v : newest));
  }
}

/**
 * The backend's keys (and common prefixes) under a prefix in stored order, page by page: continues with the
 * backend's cursor, or after a position when told to jump. `position` is the last key consumed.
 */
class StoredStream {
  calls = 0;
  position: string | undefined;
  private items: StoredItem[] = [];
  private index = 0;
  private more = true;
  private startAfter: string | undefined;
  private cursor: string | undefined;

  constructor(
    private readonly ctx: EngineContext,
    private readonly options: { prefix: string; delimiter?: string; includeMetadata: boolean; firstLimit: number },
    startAfter: string | undefined,
  ) {
    this.startAfter = startAfter;
    this.position = startAfter;
  }

  get ended(): boolean {
    return !this.more && this.index >= this.items.length;
  }

  next(): StoredItem | undefined {
    if (this.index >= this.items.length) return undefined;
    const item = this.items[this.index++];
    this.position = itemPosition(item);
    return item;
  }

  /** Skip everything up to `key` (only between pages). */
  jumpTo(key: string): void {
    if (this.position !== undefined && compareKeys(key, this.position) <= 0) return;
    this.startAfter = key;
    this.cursor = undefined;
    this.position = key;
  }

  async fetch(): Promise<void> {
    const from = this.position;
    const page = await this.ctx.backend.list({
      prefix: this.options.prefix || undefined,
      delimiter: this.options.delimiter,
      startAfter: this.cursor === undefined ? this.startAfter : undefined,
      cursor: this.cursor,
      limit: this.calls === 0 ? this.options.firstLimit : 1000,
      includeMetadata: this.options.includeMetadata,
    });
    this.calls++;
    const items: StoredItem[] = [
      ...page.objects.map((object): StoredItem => ({ type: "object", object })),
      ...page.commonPrefixes.map((prefix): StoredItem => ({ type: "prefix", prefix })),
    ].sort((a, b) => compareKeys(itemPosition(a), itemPosition(b)));
    // Progress guard: a backend that lists the position we resumed from again would make us loop forever.
    if (from !== undefined && items.some((item) => compareKeys(itemPosition(item), from) <= 0)) {
      throw new S3Error("InternalError", `The storage backend listed ${JSON.stringify(from)} again after resuming from it.`);
    }
    if (page.truncated && items.length === 0 && page.cursor === undefined) {
      throw new S3Error("InternalError", "The storage backend returned an empty truncated page without a cursor.");
    }
    this.items = items;
    this.index = 0;
    this.more = page.truncated;
    this.cursor = page.truncated ? page.cursor : undefined;
    if (items.length > 0) this.startAfter = itemPosition(items[items.length - 1]);
  }
}

/** A common prefix stands for every key under it. */
function itemPosition(item: StoredItem): string {
  return item.type === "object" ? item.object.key : item.prefix + MAX_CHAR;
}

async function listedObject(ctx: EngineContext, stored: StoredObject, seen: Set<string>): Promise<ListedObject> {
  const kind = classifyStoredKey(stored.key);
  const userKey = kind.kind === "internal" ? stored.key : kind.userKey;
  const isDelta = kind.kind === "delta";
  if (isDelta && ctx.listMetadata === "deltas") stored = (await ctx.backend.head(stored.key)) ?? stored;
  let record: DgRecord | null = decodeMetadata(stored.metadata);
  // Stripped metadata: the sidecar, when there is one (for plain objects only if the listing read it).
  const metadataListed = isDelta || ctx.listMetadata === "all";
  if (!record && (isDelta || (metadataListed && ctx.config.sidecars && seen.has(sidecarKey(stored.key))))) {
    record = await readSidecar(ctx, stored.key);
  }
  if (record && !isDelta && record.size && record.size !== stored.size) record = null;
  const storageType = isDelta ? "delta" : "passthrough";
  if (!record) return { key: userKey, size: stored.size, etag: stored.etag, lastModified: stored.lastModified, storageType };
  return {
    key: userKey,
    size: isDelta && record.size !== undefined ? record.size : stored.size,
    etag: clientEtag(record, isDelta ? undefined : stored.etag),
    lastModified: record.createdAt ?? stored.lastModified,
    storageType,
  };
}

/** "2:" + the last entry listed; "1:" tokens (a stored key) from older versions resume after that key. */
const CURSOR_VERSION = "2:";
const OLD_CURSOR_VERSION = "1:";

function encodeCursor(position: string): string {
  return bytesToBase64Url(new TextEncoder().encode(CURSOR_VERSION + position));
}

function decodeCursor(cursor: string): string {
  try {
    const text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(base64UrlToBytes(cursor));
    const version = [CURSOR_VERSION, OLD_CURSOR_VERSION].find((v) => text.startsWith(v));
    if (!version) throw new Error("version");
    return text.slice(version.length);
  } catch {
    throw new S3Error("InvalidArgument", "The continuation token provided is incorrect.");
  }
}
