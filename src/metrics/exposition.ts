// The Prometheus text exposition format, version 0.0.4: `# HELP` and `# TYPE` once per family, then one line
// per sample; a histogram's buckets cumulative (`le` ascending, `+Inf` last and equal to `_count`), then `_sum`
// and `_count`. Label values and help text are escaped as the format requires (\\, \" and \n).
import { BUCKET_PREFIX, SUM_FIELD, type Sample } from "./batch";
import { ALL_FAMILIES, familyNamed, type MetricFamily } from "./catalog";

export const CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** A value that is true now (not summed): a gauge with its labels. */
export interface PointSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The whole exposition: summed samples (every family of the catalog, zero when never counted) and gauges. */
export function renderExposition(summed: readonly Sample[], points: readonly PointSample[]): string {
  const byFamily = new Map<string, Sample[]>();
  for (const sample of summed) {
    if (!familyNamed(sample.name)) continue; // stored by another version of the Worker: not ours to describe
    byFamily.set(sample.name, [...(byFamily.get(sample.name) ?? []), sample]);
  }
  const lines: string[] = [];
  for (const family of ALL_FAMILIES) {
    lines.push(`# HELP ${family.name} ${escapeHelp(family.help)}`, `# TYPE ${family.name} ${family.type}`);
    if (family.type === "gauge") {
      for (const point of points.filter((p) => p.name === family.name)) lines.push(line(family.name, point.labels, point.value));
    } else {
      lines.push(...familyLines(family, byFamily.get(family.name) ?? []));
    }
  }
  return lines.join("\n") + "\n";
}

function familyLines(family: MetricFamily, samples: Sample[]): string[] {
  const bySeries = new Map<string, Sample[]>();
  for (const sample of samples) bySeries.set(sample.labels, [...(bySeries.get(sample.labels) ?? []), sample]);
  // An unlabelled counter or histogram is shown from the start (0), as client libraries do.
  if (bySeries.size === 0 && family.labels.length === 0) bySeries.set("[]", []);
  const lines: string[] = [];
  for (const [labelsKey, series] of [...bySeries.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const labels = labelsFrom(family, labelsKey);
    if (!labels) continue;
    if (family.type === "counter") lines.push(line(family.name, labels, total(series, "")));
    else lines.push(...histogramLines(family, labels, series));
  }
  return lines;
}

function histogramLines(family: MetricFamily, labels: Record<string, string>, series: Sample[]): string[] {
  const perBound = new Map<number, number>();
  for (const bound of family.buckets ?? []) perBound.set(bound, 0);
  for (const sample of series) {
    if (!sample.field.startsWith(BUCKET_PREFIX)) continue;
    const bound = Number(sample.field.slice(BUCKET_PREFIX.length)); // "+Inf" → Infinity
    if (Number.isNaN(bound)) continue;
    perBound.set(bound, (perBound.get(bound) ?? 0) + sample.value);
  }
  perBound.set(Infinity, perBound.get(Infinity) ?? 0);
  const lines: string[] = [];
  let cumulative = 0;
  for (const bound of [...perBound.keys()].sort((a, b) => a - b)) {
    cumulative += perBound.get(bound)!;
    lines.push(line(`${family.name}_bucket`, { ...labels, le: formatNumber(bound) }, cumulative));
  }
  lines.push(line(`${family.name}_sum`, labels, total(series, SUM_FIELD)));
  lines.push(line(`${family.name}_count`, labels, cumulative));
  return lines;
}

function total(series: Sample[], field: string): number {
  return series.filter((s) => s.field === field).reduce((sum, s) => sum + s.value, 0);
}

/** The label set a stored key spells, or null when it does not fit the family (a renamed label: skipped). */
function labelsFrom(family: MetricFamily, key: string): Record<string, string> | null {
  let values: unknown;
  try {
    values = JSON.parse(key);
  } catch {
    return null;
  }
  if (!Array.isArray(values) || values.length !== family.labels.length || !values.every((v) => typeof v === "string")) return null;
  return Object.fromEntries(family.labels.map((label, i) => [label, values[i] as string]));
}

function line(name: string, labels: Record<string, string>, value: number): string {
  const pairs = Object.entries(labels).map(([label, v]) => `${label}="${escapeLabelValue(v)}"`);
  return `${name}${pairs.length > 0 ? `{${pairs.join(",")}}` : ""} ${formatNumber(value)}`;
}

export function formatNumber(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}

function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function escapeHelp(text: string): string {
  return text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}
