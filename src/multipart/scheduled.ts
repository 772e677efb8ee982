// The Worker's scheduled maintenance for multipart staging: every bucket (configured and runtime) is swept
// by cleanupMultipart. Wired as the `scheduled` export of src/index.ts, run by the cron trigger in
// wrangler.toml. The stale age comes from DG_MULTIPART_STALE_DAYS (default 7).
import type { BucketEntry } from "../buckets/registry";
import { cleanupMultipart, type CleanupReport, parseStaleUploadAge } from "./cleanup";

export const STALE_DAYS_VARIABLE = "DG_MULTIPART_STALE_DAYS";

export interface BucketSource {
  list(): Promise<BucketEntry[]>;
}

export async function cleanupAllBuckets(
  buckets: BucketSource, vars: Record<string, unknown>, now = new Date(),
): Promise<Record<string, CleanupReport>> {
  const raw = vars[STALE_DAYS_VARIABLE];
  const staleAfterMs = parseStaleUploadAge(raw === undefined ? undefined : String(raw), STALE_DAYS_VARIABLE);
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
