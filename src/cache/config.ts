// Cache settings from Worker vars (wrangler.toml [vars] or the dashboard): the `cache` section of the one Config
// (called from src/config.ts); a bad value is a ConfigError naming its variable.
import { ConfigError } from "../errors";
import { DEFAULT_BLOCK_SIZE, DEFAULT_TTL_SECONDS } from "./blocks";

/**
 * Rebuilt objects up to this size are kept by default: a request copying one into the cache holds at most 4 MiB
 * more (src/cache/rebuilt.ts), so it costs edge-cache space, not memory, and makes repeat downloads of a delta
 * object as fast as of a plain one (docs/PERFORMANCE.md). Bigger objects (ISOs, dumps) are decoded every time.
 */
export const DEFAULT_REBUILT_MAX_SIZE = 128 * 1024 * 1024;

export interface CacheConfig {
  /** DG_CACHE_ENABLED: "true" (default) | "false". Off: references are read from the backend on every use. */
  enabled: boolean;
  /** DG_CACHE_BLOCK_SIZE: bytes per cached reference block, 64 KiB..64 MiB (default 4 MiB). Suffixes K/M allowed. */
  blockSize: number;
  /** DG_CACHE_TTL_SECONDS: max-age of a cached block or rebuilt object (default 2592000 = 30 days). */
  ttlSeconds: number;
  /**
   * DG_CACHE_REBUILT_MAX_SIZE: keep whole rebuilt delta objects up to this size in the cache for hot downloads
   * (default 128 MiB; 0 = off; at most 512 MiB, the Cache API's object limit). Suffixes K/M allowed.
   */
  rebuiltMaxSize: number;
}

export interface CacheVars {
  DG_CACHE_ENABLED?: string;
  DG_CACHE_BLOCK_SIZE?: string;
  DG_CACHE_TTL_SECONDS?: string;
  DG_CACHE_REBUILT_MAX_SIZE?: string;
}

export function parseCacheConfig(vars: CacheVars): CacheConfig {
  return {
    enabled: parseBoolean("DG_CACHE_ENABLED", vars.DG_CACHE_ENABLED, true),
    blockSize: parseSize("DG_CACHE_BLOCK_SIZE", vars.DG_CACHE_BLOCK_SIZE, DEFAULT_BLOCK_SIZE, 64 * 1024, 64 * 1024 * 1024),
    ttlSeconds: parseInteger("DG_CACHE_TTL_SECONDS", vars.DG_CACHE_TTL_SECONDS, DEFAULT_TTL_SECONDS, 60, 365 * 24 * 3600),
    rebuiltMaxSize: parseSize("DG_CACHE_REBUILT_MAX_SIZE", vars.DG_CACHE_REBUILT_MAX_SIZE, DEFAULT_REBUILT_MAX_SIZE, 0, 512 * 1024 * 1024),
  };
}

function parseBoolean(name: string, value: string | undefined, fallback: boolean): boolean {
  if (value === undefined || value === "") return fallback;
  const v = value.trim().toLowerCase();
  if (["true", "1", "yes", "on"].includes(v)) return true;
  if (["false", "0", "no", "off"].includes(v)) return false;
  throw new ConfigError(name, `must be true or false, got "${value}"`);
}

function parseSize(name: string, value: string | undefined, fallback: number, min: number, max: number): number {
  if (value === undefined || value === "") return fallback;
  const m = /^\s*(\d+)\s*([kKmM]i?[bB]?)?\s*$/.exec(value);
  if (!m) throw new ConfigError(name, `must be a byte count like 4194304 or 4M, got "${value}"`);
  const unit = m[2]?.[0]?.toLowerCase();
  const bytes = Number(m[1]) * (unit === "k" ? 1024 : unit === "m" ? 1024 * 1024 : 1);
  if (bytes < min || bytes > max) throw new ConfigError(name, `must be between ${min} and ${max} bytes, got ${bytes}`);
  return bytes;
}

function parseInteger(name: string, value: string | undefined, fallback: number, min: number, max: number): number {
  if (value === undefined || value === "") return fallback;
  if (!/^\s*\d+\s*$/.test(value)) throw new ConfigError(name, `must be a whole number, got "${value}"`);
  const n = Number(value);
  if (n < min || n > max) throw new ConfigError(name, `must be between ${min} and ${max}, got ${n}`);
  return n;
}
