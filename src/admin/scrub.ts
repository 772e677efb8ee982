// `POST /_/scrub` and `GET /_/scrub`: prove that a bucket's (or a prefix's) stored objects rebuild to their
// recorded SHA-256, reading only (src/engine/scrub.ts). POST checks one bounded page and answers with its
// findings and a cursor for the next page (`npm run scrub` loops it); `&background=1` starts a run the
// Worker's cron continues a page per minute. Either way the run's report is kept by the bucket's coordinator
// (outside the bucket: the scrub writes nothing there) and GET shows the last run's report.
import { base64UrlToBytes, bytesToBase64Url } from "../encoding";
import type { ScrubLimits } from "../engine/scrub";
import type { ScrubRun } from "../engine/scrub-run";
import { bucketParam, flagParam, positiveParam } from "./bucket-param";
import { AdminError, type AdminRequest } from "./router";
import { createEngine } from "../wiring";

const NO_STORE = { "cache-control": "no-store" };

/** Where a paged run stands: which run, over which prefix, after which stored key. Opaque to the caller. */
interface ScrubCursor {
  run: string;
  prefix: string;
  after: string;
}

export async function postScrub(admin: AdminRequest): Promise<Response> {
  const { name, entry, engine } = await bucketParam(admin);
  const runs = admin.services.scrubRuns(entry);
  if (flagParam(admin, "background")) {
    const run = await runs.start(admin.url.searchParams.get("prefix") ?? "", true);
    return Response.json({ bucket: name, run: summary(run) }, { status: 202, headers: NO_STORE });
  }
  const cursorText = admin.url.searchParams.get("cursor");
  const cursor = cursorText ? parseCursor(cursorText) : null;
  const prefix = cursor?.prefix ?? admin.url.searchParams.get("prefix") ?? "";
  const runId = cursor?.run ?? (await runs.start(prefix, false)).id;
  const page = await engine.scrub({ prefix, after: cursor?.after, limits: limitsOf(admin) });
  const run = await runs.record(runId, cursor?.after ?? null, page);
  return Response.json({
    bucket: name,
    prefix,
    page,
    done: page.next === null,
    cursor: page.next === null ? null : formatCursor({ run: runId, prefix, after: page.next }),
    /** false: this page was not added to the report (another run started since, or the page was repeated). */
    recorded: run !== null,
    run: run && summary(run),
  }, { headers: NO_STORE });
}

export async function getScrub(admin: AdminRequest): Promise<Response> {
  const { name, entry } = await bucketParam(admin);
  const run = await admin.services.scrubRuns(entry).report();
  return Response.json({ bucket: name, run: run && summary(run) }, { headers: NO_STORE });
}

function limitsOf(admin: AdminRequest): Partial<ScrubLimits> {
  const limits: Partial<ScrubLimits> = {};
  const objects = positiveParam(admin, "limit");
  if (objects !== undefined) limits.maxObjects = Math.min(objects, 10_000);
  return limits;
}

/** The report as the caller sees it (the lease is bookkeeping). */
function summary(run: ScrubRun): Omit<ScrubRun, "lease"> & { state: "running" | "done" } {
  const { lease: _lease, ...rest } = run;
  return { ...rest, state: run.finishedAt ? "done" : "running" };
}

function formatCursor(cursor: ScrubCursor): string {
  return bytesToBase64Url(new TextEncoder().encode(JSON.stringify(cursor)));
}

function parseCursor(text: string): ScrubCursor {
  try {
    const value = JSON.parse(new TextDecoder().decode(base64UrlToBytes(text))) as Partial<ScrubCursor>;
    if (typeof value.run === "string" && typeof value.prefix === "string" && typeof value.after === "string") {
      return { run: value.run, prefix: value.prefix, after: value.after };
    }
  } catch {
    // falls through to the refusal
  }
  throw new AdminError(400, "InvalidArgument", "The scrub cursor is not one this endpoint returned.");
}

/** A background page may take this long before another cron tick may claim it again. */
const BACKGROUND_LEASE_MS = 5 * 60 * 1000;

/**
 * The cron's part (src/index.ts `scheduled`, every minute): one page of every bucket's running background
 * scrub. The page is claimed first, so overlapping ticks never check a page twice; a tick that dies leaves the
 * claim to lapse and the page is done again by a later one.
 */
export async function continueBackgroundScrubs(services: AdminRequest["services"]): Promise<Record<string, string>> {
  const outcome: Record<string, string> = {};
  for (const entry of await services.buckets.list()) {
    try {
      const runs = services.scrubRuns(entry);
      const run = await runs.claim(BACKGROUND_LEASE_MS);
      if (!run) continue;
      const engine = createEngine(entry.backend, services.config.engine, { coordinator: services.coordinators(entry) });
      const page = await engine.scrub({ prefix: run.prefix, after: run.cursor ?? undefined });
      const recorded = await runs.record(run.id, run.cursor, page);
      outcome[entry.name] = recorded ? `${recorded.checked} checked, ${recorded.damagedCount} damaged${recorded.finishedAt ? ", done" : ""}` : "page not recorded";
    } catch (error) {
      console.error(`background scrub of bucket ${entry.name} failed:`, error);
      outcome[entry.name] = `failed: ${(error as Error).message}`;
    }
  }
  return outcome;
}
