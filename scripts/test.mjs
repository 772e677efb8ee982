#!/usr/bin/env node
// `npm test`: runs the whole vitest suite (workerd + node projects) and closes with the line CI reads:
// "N passed, N failed" (vitest prints no such line itself). Exits non-zero on any failure.
import { spawnSync } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";

const report = ".vitest-report.json";
rmSync(report, { force: true });
const env = {
  ...process.env,
  WRANGLER_SEND_METRICS: "false",
  CLOUDFLARE_CF_FETCH_ENABLED: "false",
  WRANGLER_HIDE_BANNER: "true",
  NO_COLOR: "1",
};
const args = ["vitest", "run", "--reporter=default", "--reporter=json", `--outputFile.json=${report}`, ...process.argv.slice(2)];
const run = spawnSync("npx", args, { stdio: "inherit", env });

let summary;
try {
  summary = JSON.parse(readFileSync(report, "utf8"));
} catch {
  console.log("0 passed, 1 failed");
  console.error(`vitest wrote no report (exit ${run.status})`);
  process.exit(1);
}
const passed = summary.numPassedTests;
let failed = summary.numFailedTests + (summary.numRuntimeErrorTestSuites ?? 0);
// Vitest also fails the run for errors outside any test (e.g. an unhandled rejection); the JSON report does not
// count them, so the closing line counts such a run as one failure instead of claiming "0 failed".
if (failed === 0 && (run.status !== 0 || !summary.success)) {
  failed = 1;
  console.error(`vitest exited with status ${run.status} although every test passed (unhandled errors above)`);
}
const skipped = summary.numPendingTests + (summary.numTodoTests ?? 0);
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ""}`);
process.exit(summary.success && failed === 0 && run.status === 0 ? 0 : 1);
