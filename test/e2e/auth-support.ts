// Starts `wrangler dev` for the auth e2e tests on the auth ports (8800-8809) with a fresh local R2, the dev key,
// one read-only key and a CORS origin. Stopped by its own PID.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const READ_ONLY = { accessKeyId: "e2e-reader", secretAccessKey: "e2e-reader-secret" };
export const DEV = { accessKeyId: "deltaglider", secretAccessKey: "deltaglider-secret" };
export const CORS_ORIGIN = "https://app.example.com";

export interface DevServer {
  endpoint: string;
  stop(): Promise<void>;
}

export async function startWrangler(port: number): Promise<DevServer> {
  const state = mkdtempSync(join(tmpdir(), "dg-auth-e2e-"));
  const credentials = JSON.stringify([{ ...READ_ONLY, access: "read-only", buckets: ["*"] }]);
  const child = spawn("./node_modules/.bin/wrangler", [
    "dev", "--local", "--persist-to", state, "--ip", "127.0.0.1", "--port", String(port),
    "--inspector-port", String(port + 1), "--show-interactive-dev-session=false",
    "--var", "DG_DEV_CREDENTIALS:true", "--var", `DG_CREDENTIALS:${credentials}`, "--var", `DG_CORS_ORIGINS:${CORS_ORIGIN}`,
  ], {
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false", WRANGLER_HIDE_BANNER: "true", CI: "true", NO_COLOR: "1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let log = "";
  child.stdout!.on("data", (d) => (log += d));
  child.stderr!.on("data", (d) => (log += d));
  const endpoint = `http://127.0.0.1:${port}`;
  await waitUntilUp(endpoint, child, () => log);
  return {
    endpoint,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once("exit", resolve));
        child.kill("SIGTERM");
        await exited;
      }
      rmSync(state, { recursive: true, force: true });
    },
  };
}

async function waitUntilUp(endpoint: string, child: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`wrangler dev exited:\n${log()}`);
    try {
      await fetch(`${endpoint}/_/health`);
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  child.kill("SIGTERM");
  throw new Error(`wrangler dev did not answer within 60 s:\n${log()}`);
}
