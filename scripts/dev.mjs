#!/usr/bin/env node
// `npm start`: the proxy on http://127.0.0.1:8787 (PORT overrides) with wrangler dev, local R2 persisted
// under .wrangler/state, no network and no login. Extra arguments are passed on to wrangler.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const port = process.env.PORT ?? "8787";
const env = {
  ...process.env,
  WRANGLER_SEND_METRICS: "false",
  CLOUDFLARE_CF_FETCH_ENABLED: "false",
  WRANGLER_HIDE_BANNER: "true",
};
const args = [
  "dev", "--local", "--persist-to", ".wrangler/state", "--ip", process.env.HOST ?? "127.0.0.1", "--port", port,
  "--show-interactive-dev-session=false",
  // The documented local key deltaglider / deltaglider-secret. Only this script turns it on, so a deployed
  // Worker never has it (see docs/CONFIGURATION.md, "Credentials and access").
  "--var", "DG_DEV_CREDENTIALS:true",
  ...remoteS3EnvFile(),
  ...process.argv.slice(2),
];
/**
 * `S3_ENDPOINT=… S3_BUCKET=… S3_ACCESS_KEY_ID=… S3_SECRET_ACCESS_KEY=… npm start` serves bucket `default` from
 * that remote bucket (docs/CONFIGURATION.md, "Remote S3 backends"). The S3_* variables reach the Worker as
 * secrets through a private env file (wrangler shows them as hidden), together with .dev.vars if present.
 */
function remoteS3EnvFile() {
  const names = Object.keys(process.env).filter((name) => name.startsWith("S3_"));
  if (names.length === 0) return [];
  const dir = mkdtempSync(join(tmpdir(), "dg-dev-"));
  const file = join(dir, "s3.env");
  // dotenv: single quotes keep a value literal (S3_BACKENDS JSON has double quotes).
  const quote = (value) => (value.includes("'") ? JSON.stringify(value) : `'${value}'`);
  writeFileSync(file, names.map((name) => `${name}=${quote(process.env[name])}\n`).join(""), { mode: 0o600 });
  process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
  return [...(existsSync(".dev.vars") ? ["--env-file", ".dev.vars"] : []), "--env-file", file];
}

const child = spawn("./node_modules/.bin/wrangler", args, { stdio: "inherit", env });
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => child.kill(signal));
child.on("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
