// Scheduled cleanup of multipart staging (run from the Worker's `scheduled` handler on a cron trigger):
// - open uploads initiated longer ago than the configured age are aborted (state + parts deleted);
// - completion records (kept so a retried Complete gets the same answer) are dropped after an hour;
// - parts whose upload state is gone (a part that raced an abort, an abort cut short) are deleted once they
//   are older than that same hour, so a part still being written is never touched.
import { ConfigError } from "../errors";
import type { Backend } from "../storage/backend";
import { PARTS_PREFIX, stateKey, UPLOADS_PREFIX } from "./layout";
import { deleteStagedParts } from "./parts";
import { summaryFromMetadata } from "./state";

export const DEFAULT_STALE_UPLOAD_AGE_MS = 7 * 24 * 3600 * 1000;
const COMPLETED_RECORD_AGE_MS = 3600 * 1000;
const ORPHAN_PART_AGE_MS = 3600 * 1000;

export interface CleanupReport {
  abortedUploads: number;
  droppedCompletionRecords: number;
  deletedOrphanParts: number;
}

export async function cleanupMultipart(
  backend: Backend, staleAfterMs = DEFAULT_STALE_UPLOAD_AGE_MS, now = new Date(),
): Promise<CleanupReport> {
  const report: CleanupReport = { abortedUploads: 0, droppedCompletionRecords: 0, deletedOrphanParts: 0 };
  for await (const object of listAll(backend, UPLOADS_PREFIX)) {
    const uploadId = object.key.slice(UPLOADS_PREFIX.length);
    const summary = summaryFromMetadata(uploadId, object.metadata);
    const age = now.getTime() - (summary ? Date.parse(summary.initiated) : object.lastModified.getTime());
    const recordAge = now.getTime() - object.lastModified.getTime();
    if (summary?.completed && recordAge > COMPLETED_RECORD_AGE_MS) {
      await backend.delete([object.key]);
      await deleteStagedParts(backend, uploadId);
      report.droppedCompletionRecords++;
    } else if (!summary?.completed && age > staleAfterMs) {
      await backend.delete([object.key]);
      await deleteStagedParts(backend, uploadId);
      report.abortedUploads++;
    }
  }
  report.deletedOrphanParts = await deleteOrphanParts(backend, new Date(now.getTime() - ORPHAN_PART_AGE_MS));
  return report;
}

async function deleteOrphanParts(backend: Backend, olderThan: Date): Promise<number> {
  let deleted = 0;
  let cursor: string | undefined;
  do {
    const page = await backend.list({ prefix: PARTS_PREFIX, delimiter: "/", cursor, limit: 1000 });
    for (const prefix of page.commonPrefixes) {
      const uploadId = prefix.slice(PARTS_PREFIX.length, -1);
      if (await backend.head(stateKey(uploadId))) continue;
      deleted += await deleteStagedParts(backend, uploadId, olderThan);
    }
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor);
  return deleted;
}

async function* listAll(backend: Backend, prefix: string) {
  let cursor: string | undefined;
  do {
    const page = await backend.list({ prefix, cursor, limit: 1000, includeMetadata: true });
    yield* page.objects;
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor);
}

/** The variable that sets how old an open upload must be before the cron aborts it. */
export const STALE_DAYS_VARIABLE = "DG_MULTIPART_STALE_DAYS";

/**
 * The stale-upload age from DG_MULTIPART_STALE_DAYS: a number of days (e.g. "7", "0.5"). Unset → 7 days.
 * Parsed with the rest of the configuration (src/config.ts), so a bad value shows at start, not when the cron fires.
 */
export function parseStaleUploadAge(value: unknown): number {
  if (value === undefined || value === null || String(value).trim() === "") return DEFAULT_STALE_UPLOAD_AGE_MS;
  const days = Number(value);
  if (!Number.isFinite(days) || days <= 0) {
    throw new ConfigError(STALE_DAYS_VARIABLE, `must be a positive number of days (got "${String(value)}")`);
  }
  return days * 24 * 3600 * 1000;
}
