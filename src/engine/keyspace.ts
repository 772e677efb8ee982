// The engine's storage rules that the coordinator (src/coordination/) applies while it holds a key's or a
// deltaspace's lock: which stored keys make up a user key, when a reference is garbage, which of two
// variants a GET would pick. Only the coordinator calls these, so no two of them race (docs "Guarantees").
// Also what the savings totals need from storage: what a key or a deltaspace's references occupy, and the
// rebuild scan's pages (which stored name belongs to which key or reference).
import type { Keyspace, ObjectFacts, ReferenceFacts, ScanPage, ScannedName, Variant } from "../coordination/api";
import { factsFromParts } from "../coordination/savings";
import type { Backend, StoredObject } from "../storage/backend";
import {
  DELTA_SUFFIX, INFLATED_REFERENCE_NAME, INTERNAL_PREFIX, SIDECAR_SUFFIX, classifyStoredKey, compareKeys, deltaKey,
  deltaspaceListPrefix, inflatedReferenceKey, inflatedReferenceOwner, isInternalPath, isReferenceName, parseKey, referenceKey,
  sidecarKey,
} from "./deltaspace";
import { decodeMetadata, decodeSidecar } from "./metadata";

/** Past every key under `.dg/` (U+10FFFF sorts after every other character, also in UTF-8 byte order). */
const PAST_INTERNAL = `${INTERNAL_PREFIX}\u{10FFFF}`;
/** Just before the root deltaspace's inflated reference, the one name under the root `.dg/` the scan reads. */
const BEFORE_ROOT_INFLATED = INFLATED_REFERENCE_NAME.slice(0, -1);
/** Backend list calls one scan page may make (R2 lists 100 objects per call with metadata). */
const SCAN_LIST_CALLS = 50;

export function storedVariants(key: string): string[] {
  return [key, sidecarKey(key), deltaKey(key), sidecarKey(deltaKey(key))];
}

export class BackendKeyspace implements Keyspace {
  constructor(private readonly backend: Backend) {}

  deltaspaceOf(key: string): string {
    return parseKey(key).deltaspace;
  }

  removeVariant(key: string, variant: Variant): Promise<void> {
    const stored = variant === "delta" ? deltaKey(key) : key;
    return this.backend.delete([stored, sidecarKey(stored)]);
  }

  removeObjects(keys: string[]): Promise<void> {
    return this.backend.delete(keys.flatMap(storedVariants));
  }

  /** Same rule as a GET (fetch.ts): the plain object wins only when strictly newer than the delta. */
  async settle(key: string): Promise<void> {
    const [plain, delta] = await Promise.all([this.backend.head(key), this.backend.head(deltaKey(key))]);
    if (!plain || !delta) return;
    await this.removeVariant(key, createdAt(plain) > createdAt(delta) ? "delta" : "plain");
  }

  /**
   * Delete `<deltaspace>/reference.bin` (and its sidecar, and the inflated reference derived from it) when no
   * user object remains directly in the deltaspace. Nested keys live in their own deltaspaces and do not depend
   * on it; the deltaspace's `.dg/` folder is a common prefix of this listing, never an object.
   */
  async collectReference(deltaspace: string): Promise<"collected" | "absent" | "kept"> {
    const prefix = deltaspaceListPrefix(deltaspace);
    let sawReference = false;
    let startAfter: string | undefined;
    for (;;) {
      const page = await this.backend.list({ prefix, delimiter: "/", startAfter, limit: 1000 });
      for (const object of page.objects) {
        if (object.key === referenceKey(deltaspace)) sawReference = true;
        else if (classifyStoredKey(object.key).kind !== "internal") return "kept";
      }
      const last = [page.objects[page.objects.length - 1]?.key, page.commonPrefixes[page.commonPrefixes.length - 1]]
        .filter((k): k is string => k !== undefined).sort(compareKeys).pop();
      if (!page.truncated || last === undefined || last === startAfter) break;
      startAfter = last;
    }
    if (!sawReference) return "absent";
    const refKey = referenceKey(deltaspace);
    await this.backend.delete([refKey, sidecarKey(refKey), inflatedReferenceKey(deltaspace)]);
    return "collected";
  }

  /** Delete the deltaspace's reference.bin (its sidecar and inflated reference) when no `.delta` directly in it depends on it. */
  async retireReference(deltaspace: string): Promise<"retired" | "absent" | "in-use"> {
    const prefix = deltaspaceListPrefix(deltaspace);
    let sawReference = false;
    let cursor: string | undefined;
    do {
      const page = await this.backend.list({ prefix, delimiter: "/", cursor, limit: 1000 });
      for (const object of page.objects) {
        if (object.key === referenceKey(deltaspace)) sawReference = true;
        else if (classifyStoredKey(object.key).kind === "delta") return "in-use";
      }
      cursor = page.truncated ? page.cursor : undefined;
    } while (cursor);
    if (!sawReference) return "absent";
    const refKey = referenceKey(deltaspace);
    await this.backend.delete([refKey, sidecarKey(refKey), inflatedReferenceKey(deltaspace)]);
    return "retired";
  }

  async isEmpty(): Promise<boolean> {
    let cursor: string | undefined;
    do {
      const page = await this.backend.list({ cursor, limit: 1000 });
      if (page.objects.some((object) => classifyStoredKey(object.key).kind !== "internal")) return false;
      cursor = page.truncated ? page.cursor : undefined;
    } while (cursor);
    return true;
  }

  async describeKey(key: string): Promise<ObjectFacts | null> {
    const dk = deltaKey(key);
    const [plain, plainSidecar, delta, deltaSidecar] = await Promise.all(
      [key, sidecarKey(key), dk, sidecarKey(dk)].map((name) => this.backend.head(name)));
    return factsFromParts({
      plain: plain ? { bytes: plain.size, size: plain.size } : undefined,
      delta: delta ? { bytes: delta.size, size: await this.deltaSize(delta) } : undefined,
      sidecarBytes: (plainSidecar?.size ?? 0) + (deltaSidecar?.size ?? 0),
    });
  }

  /** reference.bin (with its sidecar) and an inflated reference an earlier build stored beside it (compressed-aware deltas). */
  async describeReferences(deltaspace: string): Promise<ReferenceFacts[]> {
    const refKey = referenceKey(deltaspace);
    const inflatedKey = inflatedReferenceKey(deltaspace);
    const [reference, sidecar, inflated] = await Promise.all(
      [this.backend.head(refKey), this.backend.head(sidecarKey(refKey)), this.backend.head(inflatedKey)]);
    const facts: ReferenceFacts[] = reference ? [{ key: refKey, storedBytes: reference.size + (sidecar?.size ?? 0) }] : [];
    if (inflated) facts.push({ key: inflatedKey, storedBytes: inflated.size });
    return facts;
  }

  /**
   * Up to `limit` stored names from `from` on (a position an earlier page returned; null: the start), each
   * attributed to its user key or reference; `.dg/` is jumped. The position is "k<key>" (list after that key)
   * or "c<cursor>" (the backend's own cursor, which also carries a jump over a hidden range).
   */
  async scan(from: string | null, limit: number): Promise<ScanPage> {
    const names: ScannedName[] = [];
    let skipped = 0;
    let position = from ?? "k";
    for (let calls = 0; calls < SCAN_LIST_CALLS && names.length < limit; calls++) {
      const page = await this.backend.list({
        ...(position.startsWith("c") ? { cursor: position.slice(1) } : { startAfter: position.slice(1) || undefined }),
        limit: Math.min(1000, limit - names.length),
        includeMetadata: true,
      });
      let jumped = false;
      for (const object of page.objects) {
        if (object.key.startsWith(INTERNAL_PREFIX) && object.key !== INFLATED_REFERENCE_NAME) {
          skipped += 1;
          // Jump the root `.dg/`, but not past the root deltaspace's inflated reference (always forward).
          const before = compareKeys(object.key, INFLATED_REFERENCE_NAME) < 0;
          position = `k${before ? (compareKeys(object.key, BEFORE_ROOT_INFLATED) < 0 ? BEFORE_ROOT_INFLATED : object.key) : PAST_INTERNAL}`;
          jumped = true;
          break;
        }
        const name = await this.scanned(object);
        if (name) names.push(name);
        else skipped += 1;
        position = `k${object.key}`;
      }
      if (jumped) continue;
      if (!page.truncated) return { names, next: null, skipped };
      if (page.cursor !== undefined) position = `c${page.cursor}`;
    }
    return { names, next: position, skipped };
  }

  /** Which key or reference a stored name belongs to, and what it adds; null for a deltaspace's other internals. */
  private async scanned(object: StoredObject): Promise<ScannedName | null> {
    const inflatedOf = inflatedReferenceOwner(object.key);
    if (inflatedOf !== null) return { owner: "reference", key: object.key, deltaspace: inflatedOf, role: "reference", bytes: object.size };
    if (isInternalPath(object.key)) return null;
    const isSidecar = object.key.endsWith(SIDECAR_SUFFIX);
    const owner = isSidecar ? object.key.slice(0, -SIDECAR_SUFFIX.length) : object.key;
    const { deltaspace, name } = parseKey(owner);
    if (isReferenceName(name)) return { owner: "reference", key: owner, deltaspace, role: isSidecar ? "sidecar" : "reference", bytes: object.size };
    if (owner.endsWith(DELTA_SUFFIX)) {
      const key = owner.slice(0, -DELTA_SUFFIX.length);
      if (isSidecar) return { owner: "object", key, deltaspace, role: "deltaSidecar", bytes: object.size };
      return { owner: "object", key, deltaspace, role: "delta", bytes: object.size, size: await this.deltaSize(object) };
    }
    if (isSidecar) return { owner: "object", key: owner, deltaspace, role: "plainSidecar", bytes: object.size };
    return { owner: "object", key: owner, deltaspace, role: "plain", bytes: object.size, size: object.size };
  }

  /** A delta's original size: from its metadata, else its sidecar; its own size when neither says. */
  private async deltaSize(delta: StoredObject): Promise<number> {
    const recorded = decodeMetadata(delta.metadata)?.size;
    if (recorded !== undefined) return recorded;
    const sidecar = await this.backend.get(sidecarKey(delta.key));
    if (sidecar && sidecar.size <= 64 * 1024) {
      const size = decodeSidecar(await new Response(sidecar.body).text())?.size;
      if (size !== undefined) return size;
    } else await sidecar?.body.cancel().catch(() => {});
    return delta.size;
  }
}

function createdAt(object: StoredObject): number {
  return (decodeMetadata(object.metadata)?.createdAt ?? object.lastModified).getTime();
}
