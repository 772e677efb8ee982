// The Worker's scheduled maintenance for multipart staging: every bucket (configured and runtime) is swept
// by cleanupMultipart. Wired as the `scheduled` export of src/index.ts, run by the cron trigger in
// wrangler.toml. The stale age is the configuration's `multipart.staleUploadAgeMs` (DG_MULTIPART_STALE_DAYS).
import type { Backend } from "../storage/backend";
import { cleanupMultipart, type CleanupReport } from "./cleanup";

/** The buckets to sweep (src/buckets BucketRegistry fits). */
export interface BucketSource {
  list(): Promise<{ name: string; backend: Backend }[]>;
}

export async function cleanupAllBuckets(
  buckets: BucketSource, staleAfterMs: number, now = new Date(),
): Promise<Record<string, CleanupReport>> {
  const reports: Record<string, CleanupReport> = {};
  for (const entry of await buckets.list()) {
    try {
      reports[entry.name] = await cleanupMultipart(entry.backend, staleAfterMs, now);
    } catch (error) {
      // One unreachable bucket must not stop the others from being cleaned.
      console.error(`multipart cleanup of bucket ${entry.name} failed:`, error);
    }
  }
  return reports;
}
