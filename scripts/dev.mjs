#!/usr/bin/env node
// `npm start`: the proxy on http://127.0.0.1:8787 (PORT overrides) with wrangler dev, local R2 persisted
// under .wrangler/state, no network and no login. Extra arguments are passed on to wrangler.
import { spawn } from "node:child_process";

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
  ...process.argv.slice(2),
];
const child = spawn("./node_modules/.bin/wrangler", args, { stdio: "inherit", env });
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => child.kill(signal));
child.on("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
