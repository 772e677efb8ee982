// Typed engine configuration. The protocol layer parses env/vars into a Partial<EngineConfig> and calls
// resolveEngineConfig once per isolate; a bad value throws an Error naming the field.
import type { CodecOptions } from "../codec/api";

export interface EngineConfig {
  /** Delta compression on/off for this bucket (off: everything is stored passthrough). */
  compression: boolean;
  /**
   * Compressed-aware deltas of gzip/zip content (docs/STORAGE_FORMAT.md "Compressed artifacts"). On by default:
   * nothing is stored beside the deltas (the reference's inflated form is made on demand), so every one kept
   * pays. Off keeps the bucket strictly DeltaGlider-readable, and the default extension list is DeltaGlider's.
   */
  compressedDeltas: boolean;
  /** File extensions (lower-case, no dot) that are tried as deltas. Matched on the key's last segment. */
  deltaExtensions: string[];
  /** Keep a delta only when delta size / original size < this (0 < r ≤ 1). */
  maxDeltaRatio: number;
  /** Objects larger than this are never delta-encoded (stored passthrough). */
  maxDeltaObjectSize: number;
  /** Bodies up to this size are hashed in memory; larger ones are staged under `.dg/tmp/` first. */
  bodyBufferLimit: number;
  /** Delta output is held in memory up to this size; beyond it, it spills into temporary objects. */
  deltaBufferLimit: number;
  /** Write `<stored key>.meta` JSON sidecars (off for buckets shared with DeltaGlider tools). */
  sidecars: boolean;
  /** Written as `dg-tool`. */
  tool: string;
  /** Options passed to the codec for encode and decode. */
  codec: CodecOptions;
}

/** DeltaGlider proxy's current eligible list. `.tgz`/`.tar.gz` deltas are 87–99.7 % of the original: not worth the CPU. */
export const DELTAGLIDER_DELTA_EXTENSIONS = ["zip", "tar", "jar", "war", "ear", "dmg", "iso", "sql", "dump", "bak", "backup"];

/** Compressed artifact types that pay once deltas are taken of their inflated content (`gz` covers `.tar.gz`). */
export const COMPRESSED_DELTA_EXTENSIONS = ["tgz", "gz", "whl", "nupkg", "crate"];

/** The default with compressed-aware deltas on: DeltaGlider's list plus the compressed artifact types. */
export const DEFAULT_DELTA_EXTENSIONS = [...DELTAGLIDER_DELTA_EXTENSIONS, ...COMPRESSED_DELTA_EXTENSIONS];

const MiB = 1024 * 1024;

export const DEFAULT_ENGINE_CONFIG: EngineConfig = {
  compression: true,
  compressedDeltas: true,
  deltaExtensions: DELTAGLIDER_DELTA_EXTENSIONS,
  maxDeltaRatio: 0.75, // DeltaGlider's default since proxy v0.5.4 (0.5 before; the seed README and the Python CLI say 0.5)
  maxDeltaObjectSize: 100 * MiB,
  bodyBufferLimit: 8 * MiB,
  deltaBufferLimit: 2 * MiB,
  sidecars: true,
  tool: "deltaglider_worker/0.1.0",
  codec: {},
};

/** Fill defaults and validate. Throws `Error("engine config: <field> …")` on a bad value. */
export function resolveEngineConfig(partial: Partial<EngineConfig> = {}): EngineConfig {
  const config: EngineConfig = { ...DEFAULT_ENGINE_CONFIG, ...dropUndefined(partial) };
  if (partial.deltaExtensions === undefined) {
    config.deltaExtensions = config.compressedDeltas ? DEFAULT_DELTA_EXTENSIONS : DELTAGLIDER_DELTA_EXTENSIONS;
  }
  config.deltaExtensions = config.deltaExtensions.map(normaliseExtension);
  for (const ext of config.deltaExtensions) {
    if (!ext || /[/\s]/.test(ext)) fail("deltaExtensions", `invalid extension ${JSON.stringify(ext)}`);
  }
  if (!(config.maxDeltaRatio > 0 && config.maxDeltaRatio <= 1)) fail("maxDeltaRatio", "must be in (0, 1]");
  positiveInteger("maxDeltaObjectSize", config.maxDeltaObjectSize);
  positiveInteger("bodyBufferLimit", config.bodyBufferLimit);
  positiveInteger("deltaBufferLimit", config.deltaBufferLimit);
  if (!config.tool) fail("tool", "must not be empty");
  return config;
}

function normaliseExtension(ext: string): string {
  return ext.trim().replace(/^\./, "").toLowerCase();
}

function positiveInteger(field: string, value: number): void {
  if (!Number.isSafeInteger(value) || value <= 0) fail(field, "must be a positive integer (bytes)");
}

function fail(field: string, message: string): never {
  throw new Error(`engine config: ${field} ${message}`);
}

function dropUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
