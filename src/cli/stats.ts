// `npm run stats -- [bucket] [--rebuild] [--json]`: the savings totals of a running proxy as a table (per
// deltaspace + totals; without a bucket, one row per bucket), read from GET /_/stats. `--rebuild` first runs the
// rebuild scan (POST /_/stats/rebuild, page by page, following the cursor) so the totals are recomputed from
// storage. Requests are SigV4-signed (aws4fetch) with AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (default: the
// local dev key, which has the admin right) against DG_ENDPOINT (default http://127.0.0.1:8787).
import { AwsClient } from "aws4fetch";

interface TypeTotals { objects: number; logicalBytes: number; storedBytes: number }
interface Summary extends TypeTotals {
  savedBytes: number;
  savedPercent: number;
  referenceBytes: number;
  byType: { reference: TypeTotals; delta: TypeTotals; direct: TypeTotals };
}
interface DeltaspaceRow extends Summary { deltaspace: string; worst: { key: string; ratio: number } | null }
interface BucketDetail extends Summary {
  bucket: string;
  deltaspaceCount: number;
  rebuiltAt: string | null;
  deltaspaces: DeltaspaceRow[];
  recent: Array<{ at: string; op: string; key: string; storageType: string | null; size: number; storedBytes: number }>;
}
interface Overview { totals: Summary & { deltaspaceCount: number }; buckets: Array<Summary & { bucket: string; deltaspaceCount: number; rebuiltAt: string | null }> }

const USAGE = "usage: npm run stats -- [bucket] [--rebuild] [--json]   (DG_ENDPOINT, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)";

async function main(argv: string[]): Promise<number> {
  const flags = new Set(argv.filter((a) => a.startsWith("--")));
  const names = argv.filter((a) => !a.startsWith("--"));
  const unknown = [...flags].filter((f) => !["--rebuild", "--json", "--help"].includes(f));
  if (flags.has("--help") || unknown.length > 0 || names.length > 1 || (flags.has("--rebuild") && names.length === 0)) {
    console.error(unknown.length > 0 ? `unknown option ${unknown[0]}\n${USAGE}` : USAGE);
    return flags.has("--help") ? 0 : 2;
  }
  const endpoint = (process.env.DG_ENDPOINT ?? "http://127.0.0.1:8787").replace(/\/+$/, "");
  const client = new AwsClient({
    accessKeyId: process.env.AWS_ACCESS_KEY_ID ?? "deltaglider",
    secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY ?? "deltaglider-secret",
    service: "s3",
    region: process.env.AWS_REGION ?? "us-east-1",
  });
  const call = async <T>(method: string, path: string): Promise<T> => {
    const response = await client.fetch(`${endpoint}${path}`, { method });
    const text = await response.text();
    if (!response.ok) {
      let message = text;
      try { const body = JSON.parse(text); message = `${body.error}: ${body.message}`; } catch { /* not JSON: show as is */ }
      throw new Error(`${method} ${path} → ${response.status} ${message}`);
    }
    return JSON.parse(text) as T;
  };

  const bucket = names[0];
  if (bucket !== undefined && flags.has("--rebuild")) await rebuild(call, bucket);
  if (bucket === undefined) {
    const overview = await call<Overview>("GET", "/_/stats");
    console.log(flags.has("--json") ? JSON.stringify(overview, null, 2) : overviewTable(overview));
  } else {
    const detail = await call<BucketDetail>("GET", `/_/stats?bucket=${encodeURIComponent(bucket)}`);
    console.log(flags.has("--json") ? JSON.stringify(detail, null, 2) : bucketTable(detail));
  }
  return 0;
}

async function rebuild(call: <T>(method: string, path: string) => Promise<T>, bucket: string): Promise<void> {
  let cursor: string | null = null;
  let scanned = 0;
  for (;;) {
    const query: string = `bucket=${encodeURIComponent(bucket)}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;
    const step = await call<{ cursor: string | null; scanned: number; ignored?: { objects: number; bytes: number } }>("POST", `/_/stats/rebuild?${query}`);
    scanned += step.scanned;
    process.stderr.write(`\rrebuilding ${bucket}: ${scanned} stored objects read`);
    if (step.cursor === null) {
      const ignored = step.ignored && step.ignored.objects > 0 ? ` (${step.ignored.objects} orphaned sidecars, ${size(step.ignored.bytes)}, not counted)` : "";
      process.stderr.write(`, done${ignored}\n`);
      return;
    }
    cursor = step.cursor;
  }
}

function bucketTable(detail: BucketDetail): string {
  const rows = detail.deltaspaces
    .sort((a, b) => b.savedBytes - a.savedBytes)
    .map((d) => [d.deltaspace || "(root)", ...figures(d), d.worst ? `${percent(d.worst.ratio)} ${d.worst.key}` : "-"]);
  const lines = [
    `bucket ${detail.bucket}: ${detail.objects} objects in ${detail.deltaspaceCount} deltaspaces, ` +
      `${detail.rebuiltAt ? `rebuilt from storage ${detail.rebuiltAt}` : "totals kept since the bucket's first write (run --rebuild for data written before)"}`,
    "",
    table(["deltaspace", ...FIGURES, "worst delta"], rows, ["total", ...figures(detail), ""]),
    "",
    `by type: reference ${detail.byType.reference.objects} (${size(detail.byType.reference.storedBytes)}), ` +
      `delta ${detail.byType.delta.objects} (${size(detail.byType.delta.logicalBytes)} → ${size(detail.byType.delta.storedBytes)}), ` +
      `direct ${detail.byType.direct.objects} (${size(detail.byType.direct.storedBytes)})`,
  ];
  if (detail.recent.length > 0) {
    lines.push("", "recent:");
    for (const r of detail.recent.slice(0, 10)) {
      lines.push(`  ${r.at}  ${r.op.padEnd(6)} ${(r.storageType ?? "-").padEnd(9)} ${size(r.size).padStart(10)} → ${size(r.storedBytes).padStart(10)}  ${r.key}`);
    }
  }
  return lines.join("\n");
}

function overviewTable(overview: Overview): string {
  const rows = overview.buckets.map((b) => [b.bucket, ...figures(b), String(b.deltaspaceCount)]);
  return table(["bucket", ...FIGURES, "deltaspaces"], rows, ["total", ...figures(overview.totals), String(overview.totals.deltaspaceCount)]);
}

const FIGURES = ["objects", "logical", "stored", "saved", "saved %", "reference"];

function figures(s: Summary): string[] {
  return [String(s.objects), size(s.logicalBytes), size(s.storedBytes), size(s.savedBytes), `${s.savedPercent.toFixed(1)}%`, size(s.referenceBytes)];
}

/** Columns aligned: text left, numbers right; a rule above the totals row. */
function table(header: string[], rows: string[][], total: string[]): string {
  const all = [header, ...rows, total];
  const widths = header.map((_, i) => Math.max(...all.map((row) => row[i].length)));
  const numeric = (i: number) => i > 0 && i <= FIGURES.length;
  const line = (row: string[]) => row.map((cell, i) => (numeric(i) ? cell.padStart(widths[i]) : cell.padEnd(widths[i]))).join("  ").trimEnd();
  const rule = widths.map((w) => "-".repeat(w)).join("  ");
  return [line(header), rule, ...rows.map(line), rule, line(total)].join("\n");
}

/** A delta's size as a share of its original: small ones keep two significant digits. */
function percent(ratio: number): string {
  const value = ratio * 100;
  return `${value >= 10 ? value.toFixed(1) : value.toPrecision(2)}%`;
}

function size(bytes: number): string {
  const sign = bytes < 0 ? "-" : "";
  let value = Math.abs(bytes);
  for (const unit of ["B", "KiB", "MiB", "GiB", "TiB"]) {
    if (value < 1024 || unit === "TiB") return unit === "B" ? `${sign}${value} B` : `${sign}${value.toFixed(1)} ${unit}`;
    value /= 1024;
  }
  return `${bytes} B`;
}

main(process.argv.slice(2)).then((code) => process.exit(code), (error: Error) => {
  console.error(`stats: ${error.message}`);
  process.exit(1);
});
