// The `?bucket=` of an operator endpoint: the bucket entry and its engine, or a clean JSON error.
import type { BucketEntry } from "../buckets/registry";
import type { DeltaEngine } from "../engine/engine";
import { createEngine } from "../wiring";
import { AdminError, type AdminRequest } from "./router";

export interface AdminBucket {
  name: string;
  entry: BucketEntry;
  engine: DeltaEngine;
}

export async function bucketParam(admin: AdminRequest): Promise<AdminBucket> {
  const name = admin.url.searchParams.get("bucket");
  if (!name) throw new AdminError(400, "InvalidArgument", "Name the bucket: ?bucket=<name>.");
  const entry = await admin.services.buckets.get(name);
  if (!entry) throw new AdminError(404, "NoSuchBucket", `There is no bucket ${JSON.stringify(name)}.`);
  // An engine of its own, without the edge caches: a scrub must read storage, and a re-baseline's reads and
  // writes gain nothing from filling them. Writes still go through the bucket's coordinator.
  const engine = createEngine(entry.backend, admin.services.config.engine, { coordinator: admin.services.coordinators(entry) });
  return { name, entry, engine };
}

/** A positive integer query parameter, or undefined when absent. */
export function positiveParam(admin: AdminRequest, name: string): number | undefined {
  const text = admin.url.searchParams.get(name);
  if (text === null) return undefined;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 1) throw new AdminError(400, "InvalidArgument", `?${name}= must be a positive integer.`);
  return value;
}

/** A boolean flag: `?x`, `?x=1` or `?x=true` is on. */
export function flagParam(admin: AdminRequest, name: string): boolean {
  const text = admin.url.searchParams.get(name);
  return text !== null && text !== "0" && text !== "false";
}
