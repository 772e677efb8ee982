// Listing in user-key space over the stored layout: reference.bin, `.meta` sidecars and `.dg/` are hidden,
// `.delta` is stripped, sizes and ETags are the originals' (from metadata, listed with includeMetadata).
//
// Paging: the continuation cursor is the last *stored* key (or common prefix) consumed, used as the
// backend's start-after. Cursors in stored-key space never skip or repeat an entry, even where stripping
// `.delta` reorders keys (`a.zip.b` < `a.zip.delta` in the store, but `a.zip` < `a.zip.b` for the client):
// such a pair may then appear in neighbouring pages in stored order.
import type { ListInput, ListResult, ListedObject } from "./api";
import { base64UrlToBytes, bytesToBase64Url } from "../encoding";
import { S3Error } from "../errors";
import type { StoredObject } from "../storage/backend";
import { readSidecar, type EngineContext } from "./context";
import { classifyStoredKey, compareKeys, INTERNAL_PREFIX, sidecarKey } from "./deltaspace";
import { clientEtag, decodeMetadata, type DgRecord } from "./metadata";

/** Backend page size: hidden sidecars roughly double the stored entries, so ask for a few times max-keys. */
const backendPage = (maxKeys: number) => Math.min(1000, maxKeys * 3 + 10);

type Entry =
  | { type: "object"; userKey: string; position: string; object: ListedObject }
  | { type: "prefix"; userKey: string; position: string };

export async function listObjects(ctx: EngineContext, input: ListInput): Promise<ListResult> {
  const maxKeys = Math.max(0, Math.min(1000, Math.floor(input.maxKeys)));
  const prefix = input.prefix ?? "";
  const delimiter = input.delimiter || undefined;
  const cursor = input.cursor !== undefined ? decodeCursor(input.cursor) : undefined;
  // S3 ignores start-after once a continuation token is given.
  const userAfter = cursor === undefined ? input.startAfter || undefined : undefined;
  if (maxKeys === 0) return { objects: [], commonPrefixes: [], isTruncated: false };

  const taken: Entry[] = [];
  let position = cursor ?? (userAfter && compareKeys(userAfter, prefix) > 0 ? userAfter : undefined);
  let truncated = false;
  for (;;) {
    const page = await ctx.backend.list({ prefix, delimiter, startAfter: position, limit: backendPage(maxKeys), includeMetadata: ctx.listMetadata === "all" });
    const items = await pageEntries(ctx, page.objects, page.commonPrefixes, { prefix, delimiter, userAfter, skipPrefix: position });
    let index = 0;
    for (; index < items.length && taken.length < maxKeys; index++) taken.push(items[index]);
    // Entries sharing a position (a common prefix and the deltas that formed it) go into one page together.
    while (index > 0 && index < items.length && taken.length > 1 && items[index].position === taken[taken.length - 1].position) {
      taken.pop();
      index--;
    }
    while (index < items.length && taken.length > 0 && items[index].position === taken[taken.length - 1].position) {
      taken.push(items[index++]);
    }
    if (taken.length >= maxKeys || index < items.length) {
      // Truncated if a visible entry remains in this page, or the backend has more (possibly all hidden).
      truncated = index < items.length || page.truncated;
      position = taken[taken.length - 1].position;
      break;
    }
    const last = lastPosition(page.objects, page.commonPrefixes);
    if (!page.truncated || last === undefined) break;
    position = last;
  }

  taken.sort((a, b) => compareKeys(a.userKey, b.userKey));
  return {
    objects: dedupe(taken.flatMap((e) => (e.type === "object" ? [e.object] : []))),
    commonPrefixes: taken.flatMap((e) => (e.type === "prefix" ? [e.userKey] : [])),
    isTruncated: truncated,
    nextCursor: truncated && position !== undefined ? encodeCursor(position) : undefined,
  };
}

/** The page's visible entries in stored-key order, each remembering its stored position. */
async function pageEntries(
  ctx: EngineContext,
  objects: StoredObject[],
  commonPrefixes: string[],
  filter: { prefix: string; delimiter?: string; userAfter?: string; skipPrefix?: string },
): Promise<Entry[]> {
  const storedKeys = new Set(objects.map((o) => o.key));
  const entries: Entry[] = [];
  const extraObjects: StoredObject[] = [];
  for (const commonPrefix of commonPrefixes) {
    // Resuming after a common prefix: the backend lists it again (its keys sort after the prefix itself).
    if (commonPrefix === filter.skipPrefix || commonPrefix.startsWith(INTERNAL_PREFIX)) continue;
    let keep = true;
    if (filter.delimiter && delimiterHitsInternalNames(filter.delimiter)) {
      const checked = await checkCommonPrefix(ctx, commonPrefix);
      keep = checked.keep;
      extraObjects.push(...checked.stripped);
    }
    if (!keep) continue;
    if (filter.userAfter && compareKeys(commonPrefix, filter.userAfter) <= 0) continue;
    entries.push({ type: "prefix", userKey: commonPrefix, position: commonPrefix });
  }
  const listed = await Promise.all(objects.map((object) => listedObject(ctx, object, storedKeys)));
  for (const object of await Promise.all(extraObjects.map((o) => listedObject(ctx, o, storedKeys)))) {
    // Listed under their user key, but positioned at the common prefix that held them (the cursor skips it).
    if (object) listed.push({ ...object, position: commonPrefixOf(object.position, commonPrefixes) ?? object.position });
  }
  for (const object of listed) {
    if (!object) continue;
    if (!object.key.startsWith(filter.prefix)) continue; // `a.zip.delta` under prefix `a.zip.d`
    if (filter.userAfter && compareKeys(object.key, filter.userAfter) <= 0) continue;
    entries.push({ type: "object", userKey: object.key, position: object.position, object: object.listed });
  }
  return entries.sort((a, b) => compareKeys(a.position, b.position));
}

/**
 * A delimiter that occurs inside `.delta`, `.meta` or `reference.bin` (e.g. ".") makes the backend roll stored
 * names into common prefixes no user key has: `a.zip.delta` under prefix `a.zip` becomes `a.zip.`.
 */
function delimiterHitsInternalNames(delimiter: string): boolean {
  return [".delta", ".meta", "reference.bin"].some((name) => name.includes(delimiter));
}

/**
 * Look inside a backend common prefix (first page only): keep it when a user key really has it; return the
 * stored deltas whose user key lies outside it (their `.delta` suffix formed it) to be listed as objects.
 */
async function checkCommonPrefix(ctx: EngineContext, commonPrefix: string): Promise<{ keep: boolean; stripped: StoredObject[] }> {
  const page = await ctx.backend.list({ prefix: commonPrefix, limit: 1000, includeMetadata: ctx.listMetadata === "all" });
  let keep = page.truncated;
  const stripped: StoredObject[] = [];
  for (const object of page.objects) {
    const kind = classifyStoredKey(object.key);
    if (kind.kind === "internal") continue;
    if (kind.userKey.startsWith(commonPrefix)) keep = true;
    else stripped.push(object);
  }
  return { keep, stripped };
}

function commonPrefixOf(key: string, commonPrefixes: string[]): string | undefined {
  return commonPrefixes.find((prefix) => key.startsWith(prefix));
}

async function listedObject(
  ctx: EngineContext, stored: StoredObject, storedKeys: Set<string>,
): Promise<{ key: string; position: string; listed: ListedObject } | null> {
  const kind = classifyStoredKey(stored.key);
  if (kind.kind === "internal") return null;
  const isDelta = kind.kind === "delta";
  if (isDelta && ctx.listMetadata === "deltas") stored = (await ctx.backend.head(stored.key)) ?? stored;
  let record: DgRecord | null = decodeMetadata(stored.metadata);
  // Stripped metadata: the sidecar, when there is one (for plain objects only if it is in this page).
  const metadataListed = isDelta || ctx.listMetadata === "all";
  if (!record && (isDelta || (metadataListed && ctx.config.sidecars && storedKeys.has(sidecarKey(stored.key))))) {
    record = await readSidecar(ctx, stored.key);
  }
  if (record && !isDelta && record.size && record.size !== stored.size) record = null;
  const listed: ListedObject = record
    ? {
        key: kind.userKey,
        size: isDelta && record.size !== undefined ? record.size : stored.size,
        etag: clientEtag(record, isDelta ? undefined : stored.etag),
        lastModified: record.createdAt ?? stored.lastModified,
        storageType: isDelta ? "delta" : "passthrough",
      }
    : { key: kind.userKey, size: stored.size, etag: stored.etag, lastModified: stored.lastModified, storageType: isDelta ? "delta" : "passthrough" };
  return { key: kind.userKey, position: stored.key, listed };
}

/** Both variants of one key exist only mid-overwrite; keep the newer. Input is sorted by key. */
function dedupe(objects: ListedObject[]): ListedObject[] {
  const out: ListedObject[] = [];
  for (const object of objects) {
    const previous = out[out.length - 1];
    if (previous && previous.key === object.key) {
      if (object.lastModified > previous.lastModified) out[out.length - 1] = object;
    } else out.push(object);
  }
  return out;
}

function lastPosition(objects: StoredObject[], commonPrefixes: string[]): string | undefined {
  const candidates = [objects[objects.length - 1]?.key, commonPrefixes[commonPrefixes.length - 1]].filter((k): k is string => k !== undefined);
  return candidates.sort(compareKeys).pop();
}

const CURSOR_VERSION = "1:";

function encodeCursor(position: string): string {
  return bytesToBase64Url(new TextEncoder().encode(CURSOR_VERSION + position));
}

function decodeCursor(cursor: string): string {
  try {
    const text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(base64UrlToBytes(cursor));
    if (!text.startsWith(CURSOR_VERSION)) throw new Error("version");
    return text.slice(CURSOR_VERSION.length);
  } catch {
    throw new S3Error("InvalidArgument", "The continuation token provided is incorrect.");
  }
}
