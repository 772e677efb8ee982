// Counts kept in memory until they are sent: one isolate's increments since its last flush, and the shape they
// travel in to the aggregating Durable Object. Everything is a sum — a counter's value, a histogram's per-bucket
// count (not cumulative) and its sum — so batches from any number of isolates add up sample by sample, in any
// order, and the exposition (src/metrics/exposition.ts) rebuilds the cumulative buckets Prometheus expects.
import { AGGREGATED, type AggregatedName, type MetricFamily } from "./catalog";

/** One summed value: a counter, or one field of a histogram ("sum", or "le=<bound>" with "le=+Inf" last). */
export interface Sample {
  name: string;
  /** The label values in the family's label order, as a JSON array (one canonical spelling per label set). */
  labels: string;
  /** "" for a counter; "sum" or "le=<upper bound>" for a histogram. */
  field: string;
  value: number;
}

export type Labels = Record<string, string>;

export const SUM_FIELD = "sum";
export const BUCKET_PREFIX = "le=";
export const INF_BUCKET = `${BUCKET_PREFIX}+Inf`;

export class MetricsBatch {
  private readonly values = new Map<string, Sample>();

  /** Adds `by` (≥ 0: counters only go up) to a counter. */
  count(name: AggregatedName, labels: Labels = {}, by = 1): void {
    const family = AGGREGATED[name];
    if (family.type !== "counter") throw new Error(`${family.name} is a ${family.type}, not a counter`);
    if (!(by >= 0) || !Number.isFinite(by)) throw new Error(`${family.name}: a counter grows by a finite amount ≥ 0, got ${by}`);
    if (by > 0) this.add(family.name, labelKey(family, labels), "", by);
  }

  /** One observation of a histogram: its bucket's count and the sum. */
  observe(name: AggregatedName, labels: Labels, value: number): void {
    const family = AGGREGATED[name];
    if (family.type !== "histogram") throw new Error(`${family.name} is a ${family.type}, not a histogram`);
    if (!Number.isFinite(value)) return; // a NaN or infinite duration is a clock oddity, not an observation
    const key = labelKey(family, labels);
    this.add(family.name, key, bucketField(family, value), 1);
    this.add(family.name, key, SUM_FIELD, value);
  }

  /** Adds samples (another batch's, or a batch that could not be sent) into this one. */
  merge(samples: readonly Sample[]): void {
    for (const sample of samples) this.add(sample.name, sample.labels, sample.field, sample.value);
  }

  get isEmpty(): boolean {
    return this.values.size === 0;
  }

  samples(): Sample[] {
    return [...this.values.values()].map((sample) => ({ ...sample }));
  }

  private add(name: string, labels: string, field: string, by: number): void {
    const id = `${name}\u0000${labels}\u0000${field}`;
    const sample = this.values.get(id);
    if (sample) sample.value += by;
    else this.values.set(id, { name, labels, field, value: by });
  }
}

/** The canonical spelling of a label set: exactly the family's labels, in its order. */
function labelKey(family: MetricFamily, labels: Labels): string {
  const names = Object.keys(labels);
  if (names.length !== family.labels.length || !family.labels.every((label) => typeof labels[label] === "string")) {
    throw new Error(`${family.name} takes labels [${family.labels.join(", ")}], got [${names.join(", ")}]`);
  }
  return JSON.stringify(family.labels.map((label) => labels[label]));
}

function bucketField(family: MetricFamily, value: number): string {
  const bound = family.buckets!.find((upper) => value <= upper);
  return bound === undefined ? INF_BUCKET : `${BUCKET_PREFIX}${bound}`;
}
