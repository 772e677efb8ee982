// One isolate's side of the metrics: requests add to an in-memory batch (no I/O on the request's path), and the
// batch is sent to the aggregating Durable Object (src/metrics/aggregator.ts) in the background, through the
// request's ctx.waitUntil: at most `flushMs` after the first count that is waiting, or at once when
// `flushRequests` requests' counts are waiting. So an isolate costs one Durable Object call per flush interval
// while it is busy, none while idle, and a scrape sees every count that is older than the interval.
//
// Batches are numbered per isolate and sent one call at a time, oldest first; a batch whose answer was lost is
// sent again with its number, and the object adds it once. What is lost: only the counts an isolate had not
// sent when it was killed (an out-of-memory or CPU-limit kill; an evicted idle isolate has nothing waiting,
// because its last request's waitUntil kept it until the flush) — at most `flushMs` or `flushRequests` worth.
import { MetricsBatch, type Sample } from "./batch";
import type { MetricsConfig } from "./config";
import { AGGREGATOR_NAME, type ApplyAnswer, type MetricsAggregator, type NumberedBatch, type Totals } from "./aggregator";

/** Where batches go: the aggregating Durable Object, or anything that adds them the same way (tests). */
export interface MetricsStore {
  apply(sender: string, batches: NumberedBatch[], read: boolean): Promise<ApplyAnswer>;
}

/** The aggregating Durable Object behind binding DG_METRICS (a fresh stub per call: an old one stays broken after a reset). */
export function durableMetricsStore(namespace: DurableObjectNamespace<MetricsAggregator>): MetricsStore {
  return {
    apply: async (sender, batches, read) => {
      const stub = namespace.get(namespace.idFromName(AGGREGATOR_NAME));
      return await stub.apply(sender, batches, read) as ApplyAnswer;
    },
  };
}

/** What one request records into (bound to that request's waitUntil for the flush). */
export interface RequestMetrics {
  record(update: (batch: MetricsBatch) => void): void;
}

/** Counts gathered outside requests' own observations (the codec budget's), taken at each flush. */
export type Collector = (batch: MetricsBatch) => void;

/** A call still unanswered after this long is given up on (its batches are sent again, and added once). */
const SEND_TIMEOUT_MS = 10_000;
/** Unsent batches kept while the object cannot be reached; older ones are dropped (and reported). */
const MAX_UNSENT = 64;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class IsolateMetrics {
  /** This isolate's name as a sender: random, so a new isolate never reuses an old one's batch numbers. */
  readonly sender = crypto.randomUUID();
  private pending = new MetricsBatch();
  private pendingRequests = 0;
  private seq = 0;
  private unsent: NumberedBatch[] = [];
  private sendingSince: number | null = null;
  private flushArmed = false;

  constructor(private readonly store: MetricsStore, private readonly config: MetricsConfig, private readonly collect?: Collector) {}

  /** The recorder one request uses; without a waitUntil (no request context) counts wait for a later flush or scrape. */
  forRequest(waitUntil?: (promise: Promise<unknown>) => void): RequestMetrics {
    return { record: (update) => this.record(update, waitUntil) };
  }

  record(update: (batch: MetricsBatch) => void, waitUntil?: (promise: Promise<unknown>) => void): void {
    update(this.pending);
    this.pendingRequests++;
    if (waitUntil) this.schedule(waitUntil);
  }

  /** Sends everything waiting, then answers the sums of every isolate (this one's included). */
  async totals(): Promise<Totals> {
    const answer = await this.send(true);
    return answer!.totals!;
  }

  /** Sends everything waiting (a no-op when nothing is). Never throws: a failed send is retried by the next. */
  async flush(): Promise<void> {
    try {
      await this.send(false);
    } catch (error) {
      console.warn(`metrics: could not send counts (kept for the next flush): ${(error as Error).message}`);
    }
  }

  private schedule(waitUntil: (promise: Promise<unknown>) => void): void {
    if (this.config.flushMs === 0 || this.pendingRequests >= this.config.flushRequests) {
      waitUntil(this.flush());
      return;
    }
    if (this.flushArmed) return;
    this.flushArmed = true;
    // The request's own timer: in workerd a promise settled by another request's context would not wake it.
    waitUntil(sleep(this.config.flushMs).then(() => {
      this.flushArmed = false;
      return this.flush();
    }));
  }

  private async send(read: boolean): Promise<ApplyAnswer | null> {
    await this.previousSend();
    this.seal();
    if (this.unsent.length === 0 && !read) return null;
    this.sendingSince = Date.now();
    try {
      const answer = await this.store.apply(this.sender, this.unsent, read);
      this.unsent = this.unsent.filter((batch) => batch.seq > answer.applied);
      return answer;
    } finally {
      this.sendingSince = null;
    }
  }

  /** One call at a time keeps batches in order (the object skips a number it has passed). Polls with own timers. */
  private async previousSend(): Promise<void> {
    while (this.sendingSince !== null && Date.now() - this.sendingSince < SEND_TIMEOUT_MS) await sleep(5);
  }

  /** The waiting counts become the next numbered batch. */
  private seal(): void {
    this.collect?.(this.pending);
    if (this.pending.isEmpty) return;
    this.pending.count("flushes");
    this.unsent.push({ seq: ++this.seq, samples: this.pending.samples() });
    this.pending = new MetricsBatch();
    this.pendingRequests = 0;
    if (this.unsent.length > MAX_UNSENT) {
      const dropped = this.unsent.splice(0, this.unsent.length - MAX_UNSENT);
      console.warn(`metrics: dropped ${dropped.length} batches the aggregating Durable Object never confirmed`);
    }
  }

  /** Counts recorded but not yet confirmed by the object (tests, diagnostics). */
  unconfirmed(): Sample[] {
    const batch = new MetricsBatch();
    for (const sent of this.unsent) batch.merge(sent.samples);
    batch.merge(this.pending.samples());
    return batch.samples();
  }
}
