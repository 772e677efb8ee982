// The Durable Object that sums every isolate's counts (binding DG_METRICS, one instance for the whole Worker).
// Isolates come and go; each sends its counts in numbered batches (src/metrics/isolate.ts), and this object adds
// them into SQLite rows, one per sample, in the same synchronous step that records the batch's number for its
// sender. So counts survive a restart of the object (they are never kept only in memory), and a batch sent again
// after a lost answer is recognised by its number and not added twice.
import { DurableObject } from "cloudflare:workers";
import type { Sample } from "./batch";

/** A batch as an isolate sends it: its samples, numbered 1, 2, … per sender. */
export interface NumberedBatch {
  seq: number;
  samples: Sample[];
}

export interface ApplyAnswer {
  /** The highest batch number of this sender the object has added (now or earlier). */
  applied: number;
  /** With `read`: every summed sample, and since when (ms) the object has been counting. */
  totals?: Totals;
}

export interface Totals {
  samples: Sample[];
  since: number;
}

/** A sender not heard from for a day is an isolate long gone: its batch number is forgotten. */
const SENDER_RETENTION_MS = 24 * 3600 * 1000;

/** The one object all isolates send to. */
export const AGGREGATOR_NAME = "metrics";

export class MetricsAggregator extends DurableObject<Record<string, unknown>> {
  constructor(ctx: DurableObjectState, env: Record<string, unknown>) {
    super(ctx, env);
    const sql = ctx.storage.sql;
    sql.exec(`CREATE TABLE IF NOT EXISTS samples (
      name TEXT NOT NULL, labels TEXT NOT NULL, field TEXT NOT NULL, value REAL NOT NULL,
      PRIMARY KEY (name, labels, field))`);
    sql.exec("CREATE TABLE IF NOT EXISTS senders (sender TEXT PRIMARY KEY, seq INTEGER NOT NULL, seen INTEGER NOT NULL)");
    sql.exec("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value REAL NOT NULL)");
  }

  /**
   * Adds the batches of `sender` it has not added yet (in order; their numbers only grow), and answers the
   * highest number added — plus, with `read`, the sums. One synchronous transaction: no other call interleaves.
   */
  apply(sender: string, batches: NumberedBatch[], read = false): ApplyAnswer {
    const now = Date.now();
    const applied = this.ctx.storage.transactionSync(() => {
      let last = this.lastApplied(sender);
      for (const batch of batches) {
        if (batch.seq <= last) continue;
        for (const sample of batch.samples) this.addSample(sample);
        last = batch.seq;
      }
      if (last > 0) {
        this.ctx.storage.sql.exec(
          "INSERT INTO senders (sender, seq, seen) VALUES (?, ?, ?) ON CONFLICT (sender) DO UPDATE SET seq = excluded.seq, seen = excluded.seen",
          sender, last, now);
        this.ctx.storage.sql.exec("INSERT OR IGNORE INTO meta (key, value) VALUES ('since', ?)", now);
      }
      this.ctx.storage.sql.exec("DELETE FROM senders WHERE seen < ?", now - SENDER_RETENTION_MS);
      return last;
    });
    return read ? { applied, totals: this.totals(now) } : { applied };
  }

  private lastApplied(sender: string): number {
    const row = this.ctx.storage.sql.exec<{ seq: number }>("SELECT seq FROM senders WHERE sender = ?", sender).toArray()[0];
    return row?.seq ?? 0;
  }

  private addSample(sample: Sample): void {
    if (!Number.isFinite(sample.value)) return;
    this.ctx.storage.sql.exec(
      "INSERT INTO samples (name, labels, field, value) VALUES (?, ?, ?, ?) ON CONFLICT (name, labels, field) DO UPDATE SET value = value + excluded.value",
      sample.name, sample.labels, sample.field, sample.value);
  }

  private totals(now: number): Totals {
    const samples = this.ctx.storage.sql.exec<{ name: string; labels: string; field: string; value: number }>(
      "SELECT name, labels, field, value FROM samples").toArray().map((row) => ({ ...row }));
    const since = this.ctx.storage.sql.exec<{ value: number }>("SELECT value FROM meta WHERE key = 'since'").toArray()[0]?.value;
    return { samples, since: since ?? now };
  }
}
