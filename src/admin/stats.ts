// `GET /_/stats` and `POST /_/stats/rebuild`: the savings totals each bucket's coordinator keeps (running totals,
// src/coordination/savings.ts), for the dashboard and `npm run stats`. Reading them costs one coordinator call per
// bucket and never lists storage; the rebuild scan recomputes one bucket's totals from storage, one bounded page
// per request, resumable with the cursor each answer returns (docs/ARCHITECTURE.md "Savings totals").
import type { BucketEntry } from "../buckets/registry";
import type { BucketSavings, DeltaspaceSavings, RecentActivity, SavingsSummary } from "../coordination/api";
import { REBUILD_PAGE } from "../coordination/core";
import { addSummaries } from "../coordination/savings";
import { S3Error } from "../errors";
import { storageTypeName } from "../s3/ops/headers";
import { AdminError, type AdminRequest } from "./router";

/** One bucket's line of the overview. */
export type BucketStats = SavingsSummary & Pick<BucketSavings, "rebuiltAt" | "rebuilding"> & { bucket: string };

/** `?bucket=B`: the bucket's totals with its deltaspaces and recent activity (storage types as x-amz-storage-type names them). */
export type BucketDetail = BucketStats & {
  generatedAt: string;
  deltaspaces: DeltaspaceSavings[];
  recent: Array<Omit<RecentActivity, "storageType"> & { storageType: string | null }>;
};

export interface StatsOverview {
  generatedAt: string;
  totals: SavingsSummary;
  buckets: BucketStats[];
}

const NO_STORE = { "cache-control": "no-store" };

export async function getStats(admin: AdminRequest): Promise<Response> {
  requireEnabled(admin);
  const name = admin.url.searchParams.get("bucket");
  if (name !== null) return Response.json(await bucketDetail(admin, await bucketNamed(admin, name)), { headers: NO_STORE });
  const buckets = await Promise.all((await admin.services.buckets.list()).map(async (entry) => {
    const savings = await coordinatorCall(() => admin.services.coordinators(entry).savings());
    return bucketLine(entry.name, savings);
  }));
  const overview: StatsOverview = { generatedAt: new Date().toISOString(), totals: addSummaries(buckets), buckets };
  return Response.json(overview, { headers: NO_STORE });
}

/**
 * One page of the rebuild scan of `?bucket=B`: without `cursor` a new scan starts; pass each answer's `cursor`
 * back until it is null, when the bucket's totals have been replaced by what the scan counted.
 */
export async function rebuildStats(admin: AdminRequest): Promise<Response> {
  requireEnabled(admin);
  const name = admin.url.searchParams.get("bucket");
  if (name === null) throw new AdminError(400, "InvalidArgument", "Name the bucket to rebuild: POST /_/stats/rebuild?bucket=NAME.");
  const entry = await bucketNamed(admin, name);
  const cursor = admin.url.searchParams.get("cursor") || null;
  const limit = pageLimit(admin.url.searchParams.get("limit"));
  await admin.body?.cancel().catch(() => {});
  const step = await coordinatorCall(() => admin.services.coordinators(entry).rebuildSavings(cursor, limit));
  return Response.json({ bucket: entry.name, done: step.cursor === null, ...step }, { headers: NO_STORE });
}

async function bucketDetail(admin: AdminRequest, entry: BucketEntry): Promise<BucketDetail> {
  const savings = await coordinatorCall(() => admin.services.coordinators(entry).savings({ detail: true }));
  return {
    generatedAt: new Date().toISOString(),
    ...bucketLine(entry.name, savings),
    deltaspaces: savings.deltaspaces ?? [],
    recent: (savings.recent ?? []).map((entry) => ({ ...entry, storageType: entry.storageType && storageTypeName(entry.storageType) })),
  };
}

function bucketLine(bucket: string, savings: BucketSavings): BucketStats {
  return { bucket, ...savings.totals, rebuiltAt: savings.rebuiltAt, rebuilding: savings.rebuilding };
}

async function bucketNamed(admin: AdminRequest, name: string): Promise<BucketEntry> {
  const entry = await admin.services.buckets.get(name);
  if (!entry) throw new AdminError(404, "NoSuchBucket", `There is no bucket ${JSON.stringify(name)}.`);
  return entry;
}

function pageLimit(raw: string | null): number {
  if (raw === null || raw === "") return REBUILD_PAGE;
  const limit = Number(raw);
  if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) {
    throw new AdminError(400, "InvalidArgument", "limit must be a whole number of stored names from 1 to 10000.");
  }
  return limit;
}

function requireEnabled(admin: AdminRequest): void {
  if (!admin.services.config.stats.enabled) {
    throw new AdminError(409, "StatsDisabled", "Savings totals are not kept: DG_STATS is off.");
  }
}

/** The coordinator's refusals as clean JSON errors (a restarted scan's cursor, a bucket deleted meanwhile). */
async function coordinatorCall<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (!(error instanceof S3Error)) throw error;
    if (error.code === "NoSuchBucket") throw new AdminError(404, error.code, error.message);
    if (error.code === "InvalidArgument") throw new AdminError(409, "RebuildRestarted", error.message);
    throw new AdminError(error.status >= 500 ? 503 : error.status, error.code, error.message);
  }
}
