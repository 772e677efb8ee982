// A scrub run's report, kept outside the bucket (a scrub writes nothing to the storage it checks): pages are
// added one at a time, each only when it starts where the run stands (a page recorded twice, or one of an
// older run, is refused), so every stored key counts exactly once. A background run is continued by the
// Worker's cron: each tick claims the next page with a lease, so two ticks never check the same page, and a
// tick that dies only delays the run until its lease runs out. The BucketCoordinator Durable Object keeps one
// run per bucket (the last one); MemoryScrubRuns keeps it in the isolate (no Durable Object binding, tests).
import type { ScrubFinding, ScrubPage } from "./scrub";

/** Findings kept in a report; more are counted, not listed (a badly damaged bucket must not grow the record without bound). */
export const MAX_REPORTED_FINDINGS = 1000;

export interface ScrubRun {
  id: string;
  prefix: string;
  /** Continued by the cron (background) or by the caller's next page (the CLI's loop). */
  background: boolean;
  startedAt: string;
  updatedAt: string;
  finishedAt: string | null;
  /** The last stored key checked (the next page starts after it); null before the first page. */
  cursor: string | null;
  pages: number;
  checked: number;
  verified: number;
  unverifiable: number;
  bytes: number;
  damagedCount: number;
  damaged: ScrubFinding[];
  /** A background page in progress: its claim and when the claim lapses. */
  lease: { token: string; until: number } | null;
}

export interface ScrubRuns {
  /** Start a new run over `prefix` (it replaces the last report). */
  start(prefix: string, background: boolean): Promise<ScrubRun>;
  /** Add a page that started after `from` to run `runId`; null when the run is elsewhere (refused). */
  record(runId: string, from: string | null, page: ScrubPage): Promise<ScrubRun | null>;
  /** The background run's next page, claimed for `leaseMs`; null when there is none to do now. */
  claim(leaseMs: number): Promise<ScrubRun | null>;
  report(): Promise<ScrubRun | null>;
}

export function newRun(prefix: string, background: boolean, now: number): ScrubRun {
  const at = new Date(now).toISOString();
  return {
    id: crypto.randomUUID(), prefix, background, startedAt: at, updatedAt: at, finishedAt: null, cursor: null,
    pages: 0, checked: 0, verified: 0, unverifiable: 0, bytes: 0, damagedCount: 0, damaged: [], lease: null,
  };
}

export function addPage(run: ScrubRun | null, runId: string, from: string | null, page: ScrubPage, now: number): ScrubRun | null {
  if (!run || run.id !== runId || run.finishedAt !== null || run.cursor !== from) return null;
  const room = Math.max(0, MAX_REPORTED_FINDINGS - run.damaged.length);
  return {
    ...run,
    updatedAt: new Date(now).toISOString(),
    finishedAt: page.next === null ? new Date(now).toISOString() : null,
    cursor: page.next ?? run.cursor,
    pages: run.pages + 1,
    checked: run.checked + page.checked,
    verified: run.verified + page.verified,
    unverifiable: run.unverifiable + page.unverifiable,
    bytes: run.bytes + page.bytes,
    damagedCount: run.damagedCount + page.damaged.length,
    damaged: [...run.damaged, ...page.damaged.slice(0, room)],
    lease: null,
  };
}

export function claimPage(run: ScrubRun | null, now: number, leaseMs: number): ScrubRun | null {
  if (!run || !run.background || run.finishedAt !== null) return null;
  if (run.lease && run.lease.until > now) return null;
  return { ...run, lease: { token: crypto.randomUUID(), until: now + leaseMs } };
}

export class MemoryScrubRuns implements ScrubRuns {
  private run: ScrubRun | null = null;

  constructor(private readonly now: () => number = Date.now) {}

  async start(prefix: string, background: boolean): Promise<ScrubRun> {
    return (this.run = newRun(prefix, background, this.now()));
  }

  async record(runId: string, from: string | null, page: ScrubPage): Promise<ScrubRun | null> {
    const next = addPage(this.run, runId, from, page, this.now());
    if (next) this.run = next;
    return next;
  }

  async claim(leaseMs: number): Promise<ScrubRun | null> {
    const claimed = claimPage(this.run, this.now(), leaseMs);
    if (claimed) this.run = claimed;
    return claimed;
  }

  async report(): Promise<ScrubRun | null> {
    return this.run;
  }
}
