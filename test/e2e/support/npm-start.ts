// Starts `npm start` (node scripts/dev.mjs) for end-to-end tests: the front on `port` answering 100-continue,
// wrangler dev behind it, R2 persisted in a fresh temp dir (or a remote S3 bucket through S3_* variables), and
// stops it by its own PID.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { collectOutput, stopChild, waitForHealth } from "./wrangler-dev";

export interface NpmStart {
  endpoint: string;
  pid: number;
  /** Everything npm start printed so far (for failure messages). */
  log(): string;
  stop(): Promise<void>;
}

export interface NpmStartOptions {
  port: number;
  inspectorPort: number;
  /** Extra environment, e.g. the S3_* variables of a remote backend. */
  env?: Record<string, string>;
}

export async function startNpmStart(options: NpmStartOptions): Promise<NpmStart> {
  const state = mkdtempSync(join(tmpdir(), "dg-npm-start-"));
  const child = spawn("node", ["scripts/dev.mjs", "--inspector-port", String(options.inspectorPort), "--persist-to", state], {
    env: {
      ...process.env, PORT: String(options.port), CI: "true", NO_COLOR: "1",
      WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false", WRANGLER_HIDE_BANNER: "true", ...options.env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const output = collectOutput(child);
  const endpoint = `http://127.0.0.1:${options.port}`;
  const stop = async () => {
    await stopChild(child);
    rmSync(state, { recursive: true, force: true });
  };
  try {
    await waitForHealth(endpoint, child, output, "npm start");
  } catch (error) {
    await stop();
    throw error;
  }
  return { endpoint, pid: child.pid!, log: output, stop };
}
