// `GET /_/buckets`: the buckets this Worker serves and where each lives, for the dashboard and the operator CLIs.
import type { AdminRequest } from "./router";

export interface BucketSummary {
  name: string;
  /** Configured (DG_BUCKETS / S3_*) or made by CreateBucket. */
  origin: "configured" | "runtime";
  /** An R2 binding, or a remote S3 server. */
  storage: "r2" | "s3";
  created: string;
}

export async function listBuckets({ services }: AdminRequest): Promise<Response> {
  const remote = services.config.remoteBuckets;
  const buckets: BucketSummary[] = (await services.buckets.list()).map((bucket) => ({
    name: bucket.name,
    origin: bucket.origin,
    storage: bucket.origin === "configured" && Object.hasOwn(remote, bucket.name) ? "s3" : "r2",
    created: bucket.creationDate.toISOString(),
  }));
  return Response.json({ buckets }, { headers: { "cache-control": "no-store" } });
}
