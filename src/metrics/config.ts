// How often an isolate sends its counts to the aggregating Durable Object: the `metrics` section of the one Config
// (called from src/config.ts). The two settings trade freshness and the counts an isolate can lose when it dies
// against Durable Object calls (docs/CONFIGURATION.md "Metrics", measured in docs/PERFORMANCE.md "Metrics: cost").
import { ConfigError } from "../errors";

export const FLUSH_SECONDS_VARIABLE = "DG_METRICS_FLUSH_SECONDS";
export const FLUSH_REQUESTS_VARIABLE = "DG_METRICS_FLUSH_REQUESTS";

/**
 * A flush waits in the request's ctx.waitUntil, which the platform keeps alive for 30 s after the response and
 * then cancels (workerd does the same: a 30 s timer's Durable Object call never completed). 20 s leaves the call time.
 */
const MAX_FLUSH_SECONDS = 20;

export interface MetricsConfig {
  /** Counts are sent at most this long after the request that made them (0: after every request). */
  flushMs: number;
  /** …or at once when this many requests' counts are waiting. */
  flushRequests: number;
}

export const METRICS_DEFAULTS: MetricsConfig = { flushMs: 5_000, flushRequests: 500 };

export function parseMetricsConfig(env: Record<string, unknown>): MetricsConfig {
  const seconds = numberVar(env, FLUSH_SECONDS_VARIABLE, METRICS_DEFAULTS.flushMs / 1000, { min: 0, max: MAX_FLUSH_SECONDS, integer: false });
  const requests = numberVar(env, FLUSH_REQUESTS_VARIABLE, METRICS_DEFAULTS.flushRequests, { min: 1, max: 1_000_000, integer: true });
  return { flushMs: Math.round(seconds * 1000), flushRequests: requests };
}

function numberVar(env: Record<string, unknown>, name: string, fallback: number,
  range: { min: number; max: number; integer: boolean }): number {
  const raw = env[name];
  if (raw === undefined || raw === null || raw === "") return fallback;
  const text = String(raw).trim();
  const value = /^\d+(\.\d+)?$/.test(text) ? Number(text) : NaN;
  if (!Number.isFinite(value) || value < range.min || value > range.max || (range.integer && !Number.isInteger(value))) {
    const kind = range.integer ? "a whole number" : "a number";
    throw new ConfigError(name, `must be ${kind} from ${range.min} to ${range.max}, got ${JSON.stringify(String(raw))}`);
  }
  return value;
}
