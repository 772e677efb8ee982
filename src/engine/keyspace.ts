// The engine's storage rules that the coordinator (src/coordination/) applies while it holds a key's or a
// deltaspace's lock: which stored keys make up a user key, when a reference is garbage, which of two
// variants a GET would pick. Only the coordinator calls these, so no two of them race (docs "Guarantees").
import type { Keyspace, Variant } from "../coordination/api";
import type { Backend, StoredObject } from "../storage/backend";
import {
  REFERENCE_NAME, classifyStoredKey, compareKeys, deltaKey, deltaspaceListPrefix, inflatedReferenceKey, parseKey, referenceKey,
  sidecarKey,
} from "./deltaspace";
import { decodeMetadata } from "./metadata";

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
  async collectReference(deltaspace: string): Promise<boolean> {
    const prefix = deltaspaceListPrefix(deltaspace);
    let sawReference = false;
    let startAfter: string | undefined;
    for (;;) {
      const page = await this.backend.list({ prefix, delimiter: "/", startAfter, limit: 1000 });
      for (const object of page.objects) {
        if (object.key === prefix + REFERENCE_NAME) sawReference = true;
        else if (classifyStoredKey(object.key).kind !== "internal") return false;
      }
      const last = [page.objects[page.objects.length - 1]?.key, page.commonPrefixes[page.commonPrefixes.length - 1]]
        .filter((k): k is string => k !== undefined).sort(compareKeys).pop();
      if (!page.truncated || last === undefined || last === startAfter) break;
      startAfter = last;
    }
    if (!sawReference) return false;
    const refKey = referenceKey(deltaspace);
    await this.backend.delete([refKey, sidecarKey(refKey), inflatedReferenceKey(deltaspace)]);
    return true;
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
}

function createdAt(object: StoredObject): number {
  return (decodeMetadata(object.metadata)?.createdAt ?? object.lastModified).getTime();
}
