// A Worker under `wrangler dev` for the benches that compare two configurations side by side (bench/coordination.ts,
// bench/metrics.ts, bench/stats.ts): started in its own process group with the offline flags, awaited on
// /_/health, and stopped by that group (never by name). Plus the percentiles their tables print, the commit they
// were measured at, and the replacing of their section of docs/PERFORMANCE.md.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export interface DevWorkerOptions {
  root: string;
  port: number;
  persistTo: string;
  /** Another wrangler.toml (e.g. one without a binding); default the repository's. */
  config?: string;
  /** `--var NAME:value` for each entry. */
  vars: Record<string, string>;
  startTimeoutMs?: number;
}

export async function startDevWorker(options: DevWorkerOptions): Promise<ChildProcess> {
  const vars = Object.entries(options.vars).flatMap(([name, value]) => ["--var", `${name}:${value}`]);
  const config = options.config ? ["--config", options.config] : [];
  const child = spawn(join(options.root, "node_modules/.bin/wrangler"), ["dev", ...config, "--local", "--persist-to", options.persistTo,
    "--ip", "127.0.0.1", "--port", String(options.port), "--inspector-port", String(options.port + 1),
    "--show-interactive-dev-session=false", ...vars, "--log-level", "warn"], {
    cwd: options.root, detached: true, stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false", WRANGLER_HIDE_BANNER: "true", CI: "true" },
  });
  let output = "";
  child.stdout!.on("data", (c) => (output = (output + c).slice(-4000)));
  child.stderr!.on("data", (c) => (output = (output + c).slice(-4000)));
  for (const deadline = Date.now() + (options.startTimeoutMs ?? 60_000); Date.now() < deadline;) {
    if (child.exitCode !== null) throw new Error(`wrangler dev exited:\n${output}`);
    if (await fetch(`http://127.0.0.1:${options.port}/_/health`).then((r) => r.ok, () => false)) return child;
    await new Promise((r) => setTimeout(r, 250));
  }
  // Stopped here, or nobody would: the caller never got the child.
  await stopDevWorker(child);
  throw new Error(`wrangler dev did not start:\n${output}`);
}

export async function stopDevWorker(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  process.kill(-child.pid!, "SIGTERM");
  await exited;
}

const sorted = (values: number[]) => [...values].sort((a, b) => a - b);
export const median = (values: number[]) => sorted(values)[Math.floor(values.length / 2)];
export const p90 = (values: number[]) => sorted(values)[Math.floor(values.length * 0.9)];

/** The commit measured, marked when tracked files other than docs and bench results differ from it. */
export function measuredCommit(root: string): string {
  const id = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: root, encoding: "utf8" }).trim();
  const dirty = execFileSync("git", ["status", "--porcelain", "--untracked-files=no", "--", ".", ":!docs", ":!bench/results"], { cwd: root, encoding: "utf8" }).trim();
  return dirty ? `${id} (+ uncommitted changes)` : id;
}

/** Prints the section and, unless `--no-docs` was given, puts it into docs/PERFORMANCE.md. */
export function publishSection(root: string, heading: string, section: string, argv: string[]): void {
  console.log(section);
  if (!argv.includes("--no-docs")) replacePerformanceSection(root, heading, section);
}

/** Milliseconds until a request's whole response has arrived; a non-2xx answer fails the bench. */
export async function timedRequest(request: () => Promise<Response>): Promise<number> {
  const start = performance.now();
  const response = await request();
  await response.arrayBuffer();
  if (!response.ok) throw new Error(`${response.status} from the Worker`);
  return performance.now() - start;
}

/** Replaces the docs/PERFORMANCE.md section that starts with `heading` (to the next `## `), or appends it. */
function replacePerformanceSection(root: string, heading: string, section: string): void {
  const path = join(root, "docs/PERFORMANCE.md");
  const doc = readFileSync(path, "utf8");
  const start = doc.indexOf(heading);
  const next = start < 0 ? -1 : doc.indexOf("\n## ", start + 3);
  writeFileSync(path, start < 0 ? `${doc.trimEnd()}\n\n${section}` : doc.slice(0, start) + section + (next < 0 ? "" : doc.slice(next)));
}
