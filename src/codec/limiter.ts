// Per-isolate admission control for codec jobs. A Worker isolate has 128 MB for everything (JS heap, buffers,
// WASM memory of every concurrent request), and WASM memory of a job is only returned when the job ends. So each
// job reserves its WASM cap (maxMemory) from one isolate-wide budget before it instantiates, and waits in FIFO
// order while the budget is taken. With the defaults (64 MiB cap, 64 MiB budget) jobs run one at a time.
//
// Waiters poll with their own timers instead of being woken by the releasing job: in workerd a promise resolved
// from another request's context does not wake the waiting request (it is reported as hung), while a timer set
// by the waiting request itself does. A waiter that stops polling (its request went away) loses its place; a
// waiter that was only late (a long synchronous WASM step of another job delays every timer in the isolate, so
// all waiters look stale at once) takes its place back by arrival order on its next poll.

import { CodecError } from "./errors";

/**
 * How long a job waits for the budget before failing with a "memory" CodecError. Generous on purpose: a Worker
 * has no wall-clock limit while its client is connected, so a busy codec must delay a request, not fail it (a
 * PUT would silently lose its delta, the seeding upload its Reference). A request that goes away stops
 * polling and is dropped; the limit only bounds a wait behind a job that never releases its reservation.
 */
export const DEFAULT_BUDGET_WAIT_MS = 15 * 60_000;
const POLL_MIN_MS = 2;
const POLL_MAX_MS = 50;
/** A queued waiter not seen polling for this long is dropped (its request is gone). */
const STALE_WAITER_MS = 2_000;

export interface BudgetCounts {
  jobs: number;
  queued: number;
  waitedMs: number;
}

interface Ticket {
  bytes: number;
  seen: number;
  /** Arrival order: FIFO position, kept when a late waiter re-joins the queue. */
  order: number;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class MemoryBudget {
  private used = 0;
  private readonly queue: Ticket[] = [];
  private arrivals = 0;
  private counts: BudgetCounts = { jobs: 0, queued: 0, waitedMs: 0 };

  constructor(readonly totalBytes: number, private readonly staleWaiterMs = STALE_WAITER_MS) {}

  /** Resolves with a release function once `bytes` fit and earlier waiters are served; rejects at once if the
   *  request can never fit, or after `waitMs`. */
  async acquire(bytes: number, waitMs = DEFAULT_BUDGET_WAIT_MS): Promise<() => void> {
    if (bytes > this.totalBytes) {
      throw new CodecError("memory",
        `job needs a ${bytes}-byte WASM cap but the isolate codec budget is ${this.totalBytes} bytes`);
    }
    const ticket: Ticket = { bytes, seen: Date.now(), order: this.arrivals++ };
    this.queue.push(ticket);
    const arrived = Date.now();
    const deadline = arrived + waitMs;
    let delay = POLL_MIN_MS;
    try {
      for (;;) {
        ticket.seen = Date.now();
        this.rejoinIfDropped(ticket);
        this.dropStaleWaiters(ticket.seen);
        if (this.queue[0] === ticket && this.used + bytes <= this.totalBytes) {
          this.queue.shift();
          this.used += bytes;
          this.count(ticket.seen - arrived);
          return this.releaser(bytes);
        }
        if (ticket.seen >= deadline) {
          throw new CodecError("memory",
            `waited ${waitMs} ms for ${bytes} bytes of the isolate codec budget (${this.used} of ${this.totalBytes} in use)`);
        }
        await sleep(delay);
        delay = Math.min(delay * 2, POLL_MAX_MS);
      }
    } finally {
      const at = this.queue.indexOf(ticket);
      if (at >= 0) this.queue.splice(at, 1);
    }
  }

  /** Bytes currently reserved by running jobs. */
  get reservedBytes(): number {
    return this.used;
  }

  /** Jobs granted, how many of them had to wait, and their wait in total since the last call (for metrics). */
  takeCounts(): BudgetCounts {
    const counts = this.counts;
    this.counts = { jobs: 0, queued: 0, waitedMs: 0 };
    return counts;
  }

  private count(waitedMs: number): void {
    this.counts.jobs++;
    if (waitedMs > 0) {
      this.counts.queued++;
      this.counts.waitedMs += waitedMs;
    }
  }

  /** Jobs waiting for the budget. */
  get waiting(): number {
    return this.queue.length;
  }

  private releaser(bytes: number): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.used -= bytes;
    };
  }

  private dropStaleWaiters(now: number): void {
    for (let i = this.queue.length - 1; i >= 0; i--) {
      if (now - this.queue[i].seen > this.staleWaiterMs) this.queue.splice(i, 1);
    }
  }

  /** A waiter that is polling is alive: if another waiter dropped it as stale, it gets its FIFO place back. */
  private rejoinIfDropped(ticket: Ticket): void {
    if (this.queue.includes(ticket)) return;
    const at = this.queue.findIndex((other) => other.order > ticket.order);
    this.queue.splice(at < 0 ? this.queue.length : at, 0, ticket);
  }
}
