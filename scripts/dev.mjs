#!/usr/bin/env node
// `npm start`: the proxy on http://127.0.0.1:8787 (PORT and HOST override) with wrangler dev, local R2 persisted
// under .wrangler/state (unless --persist-to is given), no network and no login. Extra arguments are passed on
// to wrangler.
// Clients talk to a thin front (scripts/continue-front.mjs) that answers `Expect: 100-continue`, which workerd
// never does; wrangler itself listens on a free loopback port and is stopped by its PID when this script exits.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startContinueFront } from "./continue-front.mjs";

const port = process.env.PORT ?? "8787";
const host = process.env.HOST ?? "127.0.0.1";
const internalPort = await freeLoopbackPort();
const env = {
  ...process.env,
  WRANGLER_SEND_METRICS: "false",
  CLOUDFLARE_CF_FETCH_ENABLED: "false",
  WRANGLER_HIDE_BANNER: "true",
};
// The operator pages' token for this run (DG_ADMIN_TOKEN from the environment wins): printed as a sign-in link.
const adminToken = process.env.DG_ADMIN_TOKEN ?? randomBytes(24).toString("hex");
const persist = process.argv.includes("--persist-to") ? [] : ["--persist-to", ".wrangler/state"];
const args = [
  "dev", "--local", ...persist, "--ip", "127.0.0.1", "--port", String(internalPort),
  "--show-interactive-dev-session=false",
  // The documented local key deltaglider / deltaglider-secret. Only this script turns it on, so a deployed
  // Worker never has it (see docs/CONFIGURATION.md, "Credentials and access").
  "--var", "DG_DEV_CREDENTIALS:true",
  "--var", `DG_ADMIN_TOKEN:${adminToken}`,
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

const front = await startContinueFront({ host, port, targetPort: internalPort }).catch((error) => {
  console.error(`npm start: cannot listen on ${host}:${port}: ${error.message}`);
  process.exit(1);
});
const child = spawn("./node_modules/.bin/wrangler", args, { stdio: ["inherit", "pipe", "pipe"], env });
// wrangler prints its own (internal) address; the user's is the front's.
const internalAddress = new RegExp(`(127\\.0\\.0\\.1|localhost):${internalPort}\\b`, "g");
const publicAddress = `${host.includes(":") ? `[${host}]` : host}:${port}`;
let announced = false;
child.stdout.on("data", (chunk) => {
  const text = String(chunk);
  process.stdout.write(text.replace(internalAddress, publicAddress));
  if (!announced && /Ready on/.test(text)) {
    announced = true;
    announce();
  }
});
child.stderr.on("data", (chunk) => process.stderr.write(String(chunk).replace(internalAddress, publicAddress)));
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => child.kill(signal));
process.on("exit", () => {
  if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
});
child.on("exit", (code, signal) => {
  front.close();
  process.exit(code ?? (signal ? 1 : 0));
});

/** What a newcomer needs once the proxy is up: where to point clients, and the signed-in dashboard link. */
function announce() {
  const base = `http://${publicAddress}`;
  console.log([
    "",
    `DeltaGlider proxy ready: S3 endpoint ${base}`,
    "  access key deltaglider, secret deltaglider-secret, region us-east-1",
    `  dashboard  ${base}/_/login?token=${adminToken}`,
    "",
  ].join("\n"));
}

/** A port nothing listens on now, for wrangler behind the front (asked of the OS, then released). */
function freeLoopbackPort() {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port: free } = probe.address();
      probe.close(() => resolve(free));
    });
  });
}
