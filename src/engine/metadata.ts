// DeltaGlider `dg-*` metadata: written as the superset both DeltaGlider readers accept (format doc §1.2/§2),
// read with every legacy alias (dashed, bare, underscored). Also the `.meta` JSON sidecar, which carries the
// same record in the seed's field names and is the fallback when object metadata was stripped.
import type { ChecksumAlgorithm, ObjectHttpHeaders, StorageType } from "./api";
import { REFERENCE_NAME } from "./deltaspace";

/** One stored object's DeltaGlider record (what we write, and what a reader understood). */
export interface DgRecord {
  kind: StorageType;
  tool: string;
  /** Last key segment of the user object; `__reference__` for a reference. */
  originalName: string;
  /** Lower-hex SHA-256 of the original bytes. */
  sha256: string;
  /** Original size in bytes (absent on Python references). */
  size?: number;
  /** Lower-hex MD5 of the original bytes (Python never writes it). */
  md5?: string;
  /** `"<hex>-<n>"` for multipart objects (stored quoted, as DeltaGlider does). */
  multipartEtag?: string;
  /** Multipart objects: each part's size in order (`dg-part-sizes`, run-length encoded; absent when too long). */
  partSizes?: number[];
  createdAt?: Date;
  note?: string;
  /** Reference only: the user key that seeded it. */
  sourceName?: string;
  /** Delta only: bucket-relative reference key (`<deltaspace>/reference.bin`). */
  refKey?: string;
  refSha256?: string;
  deltaSize?: number;
  deltaCmd?: string;
  /**
   * Delta only: a compressed-aware delta (recompressed.ts). Its delta rebuilds the object's inflated form (of
   * `formSize` bytes) from the inflated form of the deltaspace's reference; recompressing that gives the object.
   * `reference`: that reference form's size and the SHA-256 of the reference.bin it is made from (its own
   * SHA-256 is refSha256); absent on deltas made while the form was stored (reference-form.ts).
   */
  recompress?: { formSize: number; formVersion: InflatedFormVersion; reference?: { size: number; from: string } };
  http: ObjectHttpHeaders;
  userMetadata: Record<string, string>;
  checksums: Partial<Record<ChecksumAlgorithm, string>>;
}

export const REFERENCE_ORIGINAL_NAME = "__reference__";

/**
 * `dg-recompress` of a compressed-aware delta (docs/STORAGE_FORMAT.md "Compressed artifacts"): `v<N>`, the
 * layout of the inflated forms (the object's and the reference's) its delta was made between.
 */
export type InflatedFormVersion = 1 | 2;
const RECOMPRESS_VERSIONS: Readonly<Record<string, InflatedFormVersion>> = { v1: 1, v2: 2 };

const HTTP_KEYS: Array<[keyof ObjectHttpHeaders, string]> = [
  ["contentType", "content-type"],
  ["contentEncoding", "content-encoding"],
  ["contentDisposition", "content-disposition"],
  ["contentLanguage", "content-language"],
  ["cacheControl", "cache-control"],
  ["expires", "expires"],
];

const CHECKSUM_ALGORITHMS: ChecksumAlgorithm[] = ["crc32", "crc32c", "crc64nvme", "sha1", "sha256"];

const USER_PREFIX = "user-";
const CHECKSUM_PREFIX = "dg-checksum-";

// ---------------------------------------------------------------------------------------------- writing

/** The customMetadata map for a stored object. Superset: dg-ref-path AND dg-ref-key, dg-md5, dg-file-size. */
export function encodeMetadata(record: DgRecord): Record<string, string> {
  const meta: Record<string, string> = {
    "dg-tool": record.tool,
    "dg-original-name": record.originalName,
    "dg-file-sha256": record.sha256,
    "dg-file-size": String(record.size ?? 0),
    "dg-created-at": formatCreatedAt(record.createdAt ?? new Date()),
    "dg-note": record.note ?? defaultNote(record.kind),
  };
  if (record.md5) meta["dg-md5"] = record.md5;
  if (record.multipartEtag) meta["dg-multipart-etag"] = `"${record.multipartEtag}"`;
  const partSizes = encodePartSizes(record.partSizes);
  if (partSizes) meta["dg-part-sizes"] = partSizes;
  if (record.kind === "reference" && record.sourceName !== undefined) meta["dg-source-name"] = record.sourceName;
  if (record.kind === "delta") {
    meta["dg-ref-path"] = REFERENCE_NAME;
    meta["dg-ref-key"] = record.refKey ?? REFERENCE_NAME;
    meta["dg-ref-sha256"] = record.refSha256 ?? "";
    meta["dg-delta-size"] = String(record.deltaSize ?? 0);
    if (record.deltaCmd) meta["dg-delta-cmd"] = record.deltaCmd;
    if (record.recompress) {
      meta["dg-recompress"] = `v${record.recompress.formVersion}`;
      meta["dg-inflated-size"] = String(record.recompress.formSize);
      if (record.recompress.reference) {
        meta["dg-ref-inflated-size"] = String(record.recompress.reference.size);
        meta["dg-ref-inflated-from"] = record.recompress.reference.from;
      }
    }
  }
  // Python CLI routes objects without this to its delta parser.
  if (record.kind === "passthrough") meta["dg-compression"] = "none";
  for (const [field, key] of HTTP_KEYS) {
    const value = record.http[field];
    if (value) meta[key] = value;
  }
  for (const algorithm of CHECKSUM_ALGORITHMS) {
    const value = record.checksums[algorithm];
    if (value) meta[CHECKSUM_PREFIX + algorithm] = value;
  }
  for (const [key, value] of Object.entries(record.userMetadata)) meta[USER_PREFIX + key.toLowerCase()] = value;
  return meta;
}

function defaultNote(kind: StorageType): string {
  return kind;
}

/** DeltaGlider proxy format: `YYYY-MM-DDTHH:MM:SS.ffffffZ` (microseconds). */
export function formatCreatedAt(date: Date): string {
  return date.toISOString().replace(/Z$/, "000Z");
}

/** `xdelta3 -e -9 -s reference.bin X X.delta` — informational only, as in DeltaGlider. */
export function deltaCommand(name: string): string {
  return `xdelta3 -e -9 -s ${REFERENCE_NAME} ${name} ${name}.delta`;
}

/** Total bytes of the user-visible metadata, counted as AWS counts it (keys + values, UTF-8). */
export function userMetadataBytes(userMetadata: Record<string, string>): number {
  const encoder = new TextEncoder();
  let total = 0;
  for (const [key, value] of Object.entries(userMetadata)) total += encoder.encode(key).length + encoder.encode(value).length;
  return total;
}

/**
 * Longest `dg-part-sizes` value we write. Object metadata shares S3's 2 KB limit with the client's own
 * metadata; uniform part sizes (what every SDK and CLI uploads) take one or two runs, a few dozen bytes.
 */
export const MAX_PART_SIZES_LENGTH = 256;

/**
 * Part sizes as runs `<size>x<count>` joined by `,` (`8388608x12,1048576x1` = twelve 8 MiB parts and a 1 MiB
 * one). undefined when there is nothing to record or the runs would exceed MAX_PART_SIZES_LENGTH.
 */
export function encodePartSizes(sizes: readonly number[] | undefined): string | undefined {
  if (!sizes || sizes.length === 0) return undefined;
  const runs: Array<[number, number]> = [];
  for (const size of sizes) {
    const last = runs.at(-1);
    if (last && last[0] === size) last[1]++;
    else runs.push([size, 1]);
  }
  const text = runs.map(([size, count]) => `${size}x${count}`).join(",");
  return text.length <= MAX_PART_SIZES_LENGTH ? text : undefined;
}

/** The inverse of encodePartSizes; undefined for anything malformed (never a guessed layout). */
export function decodePartSizes(text: string | undefined): number[] | undefined {
  if (!text) return undefined;
  const sizes: number[] = [];
  for (const run of text.split(",")) {
    const match = /^(\d{1,16})x(\d{1,5})$/.exec(run.trim());
    if (!match) return undefined;
    const count = Number(match[2]);
    if (count < 1 || sizes.length + count > 10_000) return undefined;
    for (let i = 0; i < count; i++) sizes.push(Number(match[1]));
  }
  return sizes;
}

// ---------------------------------------------------------------------------------------------- reading

/**
 * Understand a stored object's metadata. Returns null for "unmanaged" (no usable dg-* record: tool,
 * original name and SHA-256 are required, as in DeltaGlider).
 */
export function decodeMetadata(meta: Record<string, string>): DgRecord | null {
  const lower = lowerKeys(meta);
  const tool = pick(lower, "tool");
  const originalName = pick(lower, "original-name") ?? pick(lower, "source-name");
  const sha256 = pick(lower, "file-sha256")?.toLowerCase();
  if (!tool || !originalName || !sha256) return null;

  const note = pick(lower, "note");
  const refPath = pick(lower, "ref-path") ?? pick(lower, "ref-key");
  const kind = classify(note, refPath);
  const record: DgRecord = {
    kind,
    tool,
    originalName,
    sha256,
    size: parseSize(pick(lower, "file-size")),
    md5: pick(lower, "md5")?.toLowerCase() || undefined,
    multipartEtag: unquote(pick(lower, "multipart-etag")),
    partSizes: decodePartSizes(pick(lower, "part-sizes")),
    createdAt: parseCreatedAt(pick(lower, "created-at")),
    note,
    sourceName: pick(lower, "source-name"),
    refKey: refPath,
    refSha256: pick(lower, "ref-sha256")?.toLowerCase() || undefined,
    deltaSize: parseSize(pick(lower, "delta-size")),
    deltaCmd: pick(lower, "delta-cmd"),
    http: readHttp(lower),
    userMetadata: {},
    checksums: {},
  };
  const recompress = readRecompress(pick(lower, "recompress"), pick(lower, "inflated-size"));
  if (recompress) record.recompress = withReferenceForm(recompress, pick(lower, "ref-inflated-size"), pick(lower, "ref-inflated-from"));
  for (const [key, value] of Object.entries(lower)) {
    if (key.startsWith(USER_PREFIX)) record.userMetadata[key.slice(USER_PREFIX.length)] = value;
    else if (key.startsWith(CHECKSUM_PREFIX)) {
      const algorithm = key.slice(CHECKSUM_PREFIX.length) as ChecksumAlgorithm;
      if (CHECKSUM_ALGORITHMS.includes(algorithm)) record.checksums[algorithm] = value;
    }
  }
  return record;
}

/**
 * A compressed-aware delta's marker. A version this build does not know is kept as a marker anyway (size -1),
 * so such a delta is refused on GET instead of being decoded as a plain delta.
 */
function readRecompress(version: string | undefined, formSize: string | undefined): DgRecord["recompress"] {
  if (version === undefined) return undefined;
  const size = parseSize(formSize);
  const formVersion = RECOMPRESS_VERSIONS[version];
  return formVersion && size !== undefined ? { formSize: size, formVersion } : { formSize: -1, formVersion: 1 };
}

/** The reference form a compressed-aware delta records; both fields or none (a partial record is not used). */
function withReferenceForm(recompress: NonNullable<DgRecord["recompress"]>, size: string | undefined, from: string | undefined): DgRecord["recompress"] {
  const formSize = parseSize(size);
  const sha256 = from?.toLowerCase();
  if (formSize === undefined || !sha256 || !/^[0-9a-f]{64}$/.test(sha256)) return recompress;
  return { ...recompress, reference: { size: formSize, from: sha256 } };
}

/** Format doc §1.2: note=reference → reference; any ref path/key, note delta or zero-diff… → delta; else passthrough. */
function classify(note: string | undefined, refPath: string | undefined): StorageType {
  if (note === "reference") return "reference";
  if (refPath || note === "delta" || note?.startsWith("zero-diff")) return "delta";
  return "passthrough";
}

/** HTTP headers of an object the proxy did not write (or any metadata map). */
export function readHttp(meta: Record<string, string>): ObjectHttpHeaders {
  const http: ObjectHttpHeaders = {};
  for (const [field, key] of HTTP_KEYS) {
    if (meta[key]) http[field] = meta[key];
  }
  return http;
}

/** A field under any of the names DeltaGlider versions used: dg-x-y, x-y, dg_x_y, x_y. */
function pick(meta: Record<string, string>, field: string): string | undefined {
  const underscored = field.replace(/-/g, "_");
  for (const name of [`dg-${field}`, field, `dg_${underscored}`, underscored]) {
    const value = meta[name];
    if (value !== undefined && value !== "") return value;
  }
  return undefined;
}

function lowerKeys(meta: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(meta)) out[key.toLowerCase()] = value;
  return out;
}

function parseSize(value: string | undefined): number | undefined {
  if (value === undefined || !/^\d+$/.test(value)) return undefined;
  const size = Number(value);
  return Number.isSafeInteger(size) ? size : undefined;
}

function unquote(value: string | undefined): string | undefined {
  return value ? value.replace(/^"|"$/g, "") : undefined;
}

/** Accepts the proxy's microsecond form, Python's naive isoformat (+ optional Z), and plain ISO dates. */
export function parseCreatedAt(value: string | undefined): Date | undefined {
  if (!value) return undefined;
  const match = /^(\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:?\d{2})?$/.exec(value.trim());
  if (!match) return undefined;
  const millis = (match[2] ?? "").padEnd(3, "0").slice(0, 3);
  const date = new Date(`${match[1].replace(" ", "T")}.${millis}${match[3] ?? "Z"}`);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

// ---------------------------------------------------------------------------------------------- sidecars

/** The `.meta` sidecar JSON: the seed's fields first, then what else we need to rebuild object metadata. */
export function encodeSidecar(record: DgRecord): string {
  const json: Record<string, unknown> = {
    tool: record.tool,
    original_name: record.originalName,
    file_sha256: record.sha256,
    file_size: record.size ?? 0,
    md5: record.md5 ?? null,
    created_at: formatCreatedAt(record.createdAt ?? new Date()),
    content_type: record.http.contentType ?? null,
    note: record.note ?? defaultNote(record.kind),
  };
  if (record.kind === "reference") json.source_name = record.sourceName ?? null;
  if (record.kind === "delta") {
    json.ref_key = record.refKey ?? REFERENCE_NAME;
    json.ref_path = REFERENCE_NAME;
    json.ref_sha256 = record.refSha256 ?? null;
    json.delta_size = record.deltaSize ?? 0;
    json.delta_cmd = record.deltaCmd ?? null;
    if (record.recompress) {
      json.recompress = `v${record.recompress.formVersion}`;
      json.inflated_size = record.recompress.formSize;
      if (record.recompress.reference) {
        json.ref_inflated_size = record.recompress.reference.size;
        json.ref_inflated_from = record.recompress.reference.from;
      }
    }
  }
  if (record.multipartEtag) json.multipart_etag = record.multipartEtag;
  const partSizes = encodePartSizes(record.partSizes);
  if (partSizes) json.part_sizes = partSizes;
  const http = Object.fromEntries(HTTP_KEYS.filter(([f]) => f !== "contentType" && record.http[f]).map(([f, k]) => [k, record.http[f]]));
  if (Object.keys(http).length) json.http = http;
  if (Object.keys(record.userMetadata).length) json.user_metadata = record.userMetadata;
  if (Object.keys(record.checksums).length) json.checksums = record.checksums;
  return JSON.stringify(json, null, 2) + "\n";
}

/** Parse a sidecar; null when it is not valid JSON or lacks the required fields. */
export function decodeSidecar(text: string): DgRecord | null {
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(text);
  } catch {
    return null;
  }
  if (!json || typeof json !== "object" || Array.isArray(json)) return null;
  const flat: Record<string, string> = {};
  for (const [key, value] of Object.entries(json)) {
    if (value === null || value === undefined) continue;
    if (typeof value === "string" || typeof value === "number") flat[key] = String(value);
  }
  if (typeof flat.content_type === "string") flat["content-type"] = flat.content_type;
  for (const [key, value] of objectEntries(json.http)) flat[key.toLowerCase()] = value;
  for (const [key, value] of objectEntries(json.user_metadata)) flat[USER_PREFIX + key.toLowerCase()] = value;
  for (const [key, value] of objectEntries(json.checksums)) flat[CHECKSUM_PREFIX + key] = value;
  return decodeMetadata(flat);
}

function objectEntries(value: unknown): Array<[string, string]> {
  if (!value || typeof value !== "object") return [];
  return Object.entries(value as Record<string, unknown>).filter((e): e is [string, string] => typeof e[1] === "string");
}

/** The ETag a client sees (unquoted): multipart ETag, else MD5, else a stable stand-in from the SHA-256. */
export function clientEtag(record: DgRecord, fallback?: string): string {
  return record.multipartEtag ?? record.md5 ?? fallback ?? record.sha256.slice(0, 32);
}
