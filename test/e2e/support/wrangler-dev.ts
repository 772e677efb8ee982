// Starts `./node_modules/.bin/wrangler dev` for end-to-end tests: local mode, no network, its own persisted
// state directory (a fresh temp dir unless one is given), the documented dev key, and stops it by its own PID.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const DEV_CREDENTIALS = { accessKeyId: "deltaglider", secretAccessKey: "deltaglider-secret" } as const;
export const REGION = "us-east-1";

export interface WranglerDevOptions {
  /** HTTP port; the inspector listens on port + 1. */
  port: number;
  /** Extra `--var NAME:value` settings. */
  vars?: Record<string, string>;
  /** Persist local R2 here (kept on stop); default: a fresh temp dir removed on stop. */
  persistTo?: string;
}

export interface WranglerDev {
  endpoint: string;
  /** The --persist-to directory (local R2 lives under `<dir>/v3/r2`). */
  stateDir: string;
  pid: number;
  /** Everything wrangler printed so far (for failure messages). */
  log(): string;
  stop(): Promise<void>;
}

const QUIET_ENV = {
  WRANGLER_SEND_METRICS: "false",
  CLOUDFLARE_CF_FETCH_ENABLED: "false",
  WRANGLER_HIDE_BANNER: "true",
  CI: "true",
  NO_COLOR: "1",
};

export async function startWranglerDev(options: WranglerDevOptions): Promise<WranglerDev> {
  const ownState = options.persistTo === undefined;
  const stateDir = options.persistTo ?? mkdtempSync(join(tmpdir(), "dg-s3-e2e-"));
  const vars = { DG_DEV_CREDENTIALS: "true", ...options.vars };
  const args = [
    "dev", "--local", "--persist-to", stateDir, "--ip", "127.0.0.1", "--port", String(options.port),
    "--inspector-port", String(options.port + 1), "--show-interactive-dev-session=false",
    ...Object.entries(vars).flatMap(([name, value]) => ["--var", `${name}:${value}`]),
  ];
  const child = spawn("./node_modules/.bin/wrangler", args, { env: { ...process.env, ...QUIET_ENV }, stdio: ["ignore", "pipe", "pipe"] });
  const output = collectOutput(child);
  const endpoint = `http://127.0.0.1:${options.port}`;
  const stop = async () => {
    await stopChild(child);
    if (ownState) rmSync(stateDir, { recursive: true, force: true });
  };
  try {
    await waitForHealth(endpoint, child, output);
  } catch (error) {
    await stop();
    throw error;
  }
  return { endpoint, stateDir, pid: child.pid!, log: output, stop };
}

/** Stops a child by its own PID (SIGTERM, then SIGKILL after 10 s). */
export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
  await exited;
  clearTimeout(timer);
}

/** Waits until `endpoint` answers /_/health (90 s at most), failing early if the child exits. */
export async function waitForHealth(endpoint: string, child: ChildProcess, log: () => string, name = "wrangler dev"): Promise<void> {
  const deadline = Date.now() + 90_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode}:\n${log()}`);
    try {
      const response = await fetch(`${endpoint}/_/health`);
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`${name} did not become healthy within 90 s:\n${log()}`);
}

/** Everything a child prints on stdout and stderr, read when asked (for failure messages). */
export function collectOutput(child: ChildProcess): () => string {
  let output = "";
  child.stdout!.on("data", (chunk) => (output += chunk));
  child.stderr!.on("data", (chunk) => (output += chunk));
  return () => output;
}
