// Shared pieces of the property-based fuzz tests (test/workerd/fuzz-*.test.ts, fast-check): how many cases
// to run, and the one outcome every fuzzed entry point may have besides success -- an S3Error.
import { env } from "cloudflare:workers";
import { S3Error } from "../../../src/errors";

/**
 * Generated cases per property: `base` by default (the suite stays quick), or DG_FUZZ_RUNS from the test
 * run's environment (vitest.config.ts passes it in), e.g. `DG_FUZZ_RUNS=5000 npx vitest run … fuzz-xml`.
 */
export function fuzzRuns(base: number): number {
  const raised = Number((env as unknown as Record<string, unknown>).DG_FUZZ_RUNS || 0);
  return raised > 0 ? raised : base;
}

/** A test timeout that grows with the runs (raised runs must not hit vitest's default timeout). */
export function fuzzTimeout(base: number, msPerRun: number): number {
  return Math.max(120_000, fuzzRuns(base) * msPerRun);
}

export type Outcome<T> = { ok: true; value: T } | { ok: false; error: S3Error };

/** Runs `fn`; an S3Error is an outcome, any other exception is rethrown (and fails the property). */
export async function outcomeOf<T>(fn: () => T | Promise<T>): Promise<Outcome<T>> {
  try {
    return { ok: true, value: await fn() };
  } catch (error) {
    if (error instanceof S3Error) return { ok: false, error };
    throw error;
  }
}

/** An S3Error a client caused: a 4xx (never a 500 InternalError, which would mean we crashed on its input). */
export function isClientError(error: S3Error): boolean {
  return error.status >= 400 && error.status < 500;
}
