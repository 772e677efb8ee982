// A runtime bucket's savings totals through the S3 API (GET /_/stats) next to what its R2 binding really holds
// (stored-totals.ts): the checks the savings-totals tests make after every write.
import { env } from "cloudflare:workers";
import { expect } from "vitest";
import { s3 } from "../s3-support";
import { expectTotalsEqual, storedTotals } from "./stored-totals";

/** Where a runtime bucket's objects live in the BUCKET binding (DG_RUNTIME_BUCKETS default `BUCKET:.dg/buckets/`). */
export const dataRoot = (bucket: string) => `.dg/buckets/data/${bucket}/`;

export async function logicalSize(bucket: string, key: string): Promise<number> {
  const head = await s3("HEAD", `/${bucket}/${key}`);
  expect(head.status).toBe(200);
  return Number(head.headers.get("content-length"));
}

export async function stats(bucket: string): Promise<any> {
  const response = await s3("GET", `/_/stats?bucket=${bucket}`);
  expect(response.status).toBe(200);
  return response.json();
}

/** /_/stats for the bucket equals what is stored: totals, by type, and every deltaspace. */
export async function expectTotalsMatchStorage(bucket: string): Promise<any> {
  const [expected, shown] = await Promise.all([storedTotals(env.BUCKET, dataRoot(bucket), (key) => logicalSize(bucket, key)), stats(bucket)]);
  expectTotalsEqual(shown, expected);
  return shown;
}

/** PUT through the S3 API; the storage type it answered (x-amz-storage-type). */
export async function put(bucket: string, key: string, body: Uint8Array): Promise<string> {
  const response = await s3("PUT", `/${bucket}/${key}`, { body });
  expect(response.status).toBe(200);
  return response.headers.get("x-amz-storage-type")!;
}
