// Key → deltaspace mapping and the names DeltaGlider reserves inside a bucket.
//
// Deltaspace = everything before the key's last "/" (root keys: ""). One `reference.bin` per deltaspace;
// a delta of `<prefix>/<name>` is stored at `<prefix>/<name>.delta`, anything else at its own key; every
// stored object may have a `<stored key>.meta` JSON sidecar. `.dg/` at the bucket root is ours (staging), and so
// is a `.dg/` folder inside any deltaspace (`<prefix>/.dg/reference.inflated.bin`, which earlier builds wrote for
// compressed-aware deltas; now made on demand and never stored, reference-form.ts).
import { S3Error } from "../errors";

export const REFERENCE_NAME = "reference.bin";
export const DELTA_SUFFIX = ".delta";
export const SIDECAR_SUFFIX = ".meta";
export const INTERNAL_PREFIX = ".dg/";
export const STAGING_PREFIX = ".dg/tmp/";
/**
 * Where earlier builds stored a deltaspace's inflated reference, inside its own `.dg/` folder. No longer
 * written (reference-form.ts makes it on demand); a left-over is still counted, scrubbed and collected.
 */
export const INFLATED_REFERENCE_NAME = `${INTERNAL_PREFIX}reference.inflated.bin`;

/** S3's key limit (UTF-8 bytes). */
const MAX_KEY_BYTES = 1024;

export interface ParsedKey {
  /** The user's key. */
  key: string;
  /** Deltaspace prefix without the trailing "/" ("" at the bucket root). */
  deltaspace: string;
  /** The last segment ("" for a "dir/" marker key). */
  name: string;
}

export function parseKey(key: string): ParsedKey {
  const slash = key.lastIndexOf("/");
  return { key, deltaspace: slash < 0 ? "" : key.slice(0, slash), name: key.slice(slash + 1) };
}

/** Parse a user key for a write or delete; keys that would clobber internal data are refused. */
export function parseUserKey(key: string): ParsedKey {
  if (key.length === 0) throw new S3Error("InvalidArgument", "The object key must not be empty.");
  if (new TextEncoder().encode(key).length > MAX_KEY_BYTES) {
    throw new S3Error("KeyTooLongError", "Your key is too long.", { Key: key });
  }
  const reason = reservedReason(key);
  if (reason) throw new S3Error("InvalidArgument", `The key ${JSON.stringify(key)} is reserved: ${reason}.`, { Key: key });
  return parseKey(key);
}

/** Why a user key is reserved for internal data, or null when it is an ordinary key. */
export function reservedReason(key: string): string | null {
  const { name } = parseKey(key);
  if (isInternalPath(key)) return `"${INTERNAL_PREFIX}" folders hold the proxy's internal data`;
  if (name === REFERENCE_NAME) return `"${REFERENCE_NAME}" is the deltaspace's baseline`;
  if (name.endsWith(DELTA_SUFFIX)) return `names ending "${DELTA_SUFFIX}" hold stored deltas`;
  if (name.endsWith(SIDECAR_SUFFIX)) return `names ending "${SIDECAR_SUFFIX}" hold metadata sidecars`;
  return null;
}

/**
 * Names of a deltaspace's reference objects (not user data; counted as the deltaspace's reference bytes):
 * reference.bin directly in it. An inflated reference an earlier build stored, the other reference object, lives
 * in the deltaspace's `.dg/` folder instead (so no user key can name it): see inflatedReferenceOwner.
 */
export function isReferenceName(name: string): boolean {
  return name === REFERENCE_NAME;
}

/** The deltaspace whose inflated reference this stored key is, or null when it is not one. */
export function inflatedReferenceOwner(storedKey: string): string | null {
  if (storedKey === INFLATED_REFERENCE_NAME) return "";
  return storedKey.endsWith(`/${INFLATED_REFERENCE_NAME}`) ? storedKey.slice(0, -INFLATED_REFERENCE_NAME.length - 1) : null;
}

export function referenceKey(deltaspace: string): string {
  return deltaspace ? `${deltaspace}/${REFERENCE_NAME}` : REFERENCE_NAME;
}

export function inflatedReferenceKey(deltaspace: string): string {
  return deltaspace ? `${deltaspace}/${INFLATED_REFERENCE_NAME}` : INFLATED_REFERENCE_NAME;
}

/** Keys (and common prefixes) under a `.dg/` folder, at the bucket root or inside a deltaspace. */
export function isInternalPath(key: string): boolean {
  return key.startsWith(INTERNAL_PREFIX) || key.includes(`/${INTERNAL_PREFIX}`);
}

export function deltaKey(key: string): string {
  return key + DELTA_SUFFIX;
}

export function sidecarKey(storedKey: string): string {
  return storedKey + SIDECAR_SUFFIX;
}

/** The list prefix that holds a deltaspace's direct children. */
export function deltaspaceListPrefix(deltaspace: string): string {
  return deltaspace ? `${deltaspace}/` : "";
}

export function isEligibleName(name: string, extensions: readonly string[]): boolean {
  const lower = name.toLowerCase();
  return extensions.some((ext) => lower.length > ext.length + 1 && lower.endsWith(`.${ext}`));
}

/** What a stored (backend) key is, seen from the listing side. */
export type StoredKeyKind =
  | { kind: "internal" }
  | { kind: "delta"; userKey: string }
  | { kind: "object"; userKey: string };

export function classifyStoredKey(storedKey: string): StoredKeyKind {
  if (isInternalPath(storedKey)) return { kind: "internal" };
  const { name } = parseKey(storedKey);
  if (name === REFERENCE_NAME || name.endsWith(SIDECAR_SUFFIX)) return { kind: "internal" };
  if (name.endsWith(DELTA_SUFFIX)) return { kind: "delta", userKey: storedKey.slice(0, -DELTA_SUFFIX.length) };
  return { kind: "object", userKey: storedKey };
}

/** Compare keys in S3 order (UTF-8 byte order = code point order), not JS UTF-16 order. */
export function compareKeys(a: string, b: string): number {
  const ia = a[Symbol.iterator]();
  const ib = b[Symbol.iterator]();
  for (;;) {
    const ca = ia.next();
    const cb = ib.next();
    if (ca.done || cb.done) return ca.done && cb.done ? 0 : ca.done ? -1 : 1;
    const diff = ca.value.codePointAt(0)! - cb.value.codePointAt(0)!;
    if (diff !== 0) return diff;
  }
}
