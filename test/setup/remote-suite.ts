// The S3 integration suite runs twice from the same files: once with bucket `default` on the R2 binding
// (project "workerd") and once with `default` on a real S3 server through the remote-S3 backend (project
// "workerd-remote-s3"). The second project exists only when that server answers when vitest starts
// (DG_TEST_S3_ENDPOINT, or radosgw on 127.0.0.1:8000; `.ci/run` starts one).
import { execFileSync } from "node:child_process";

const endpoint = process.env.DG_TEST_S3_ENDPOINT ?? "http://127.0.0.1:8000";

export const REMOTE_SUITE = {
  S3_ENDPOINT: endpoint,
  // Fixed name: vitest needs the bindings before any setup code runs. Every test writes unique keys.
  S3_BUCKET: "dg-worker-suite",
  S3_REGION: process.env.DG_TEST_S3_REGION ?? "us-east-1",
  S3_ACCESS_KEY_ID: process.env.DG_TEST_S3_ACCESS_KEY_ID ?? "0555b35654ad1656d804",
  S3_SECRET_ACCESS_KEY: process.env.DG_TEST_S3_SECRET_ACCESS_KEY ?? "h7GhxuBLTrlhVUyxSPUKUV8r/2EI4ngqJxD7iBdBYLhwluN30JaT3Q==",
};

/** The protocol suites whose cases go through bucket `default` (and so exercise the backend under it). */
export const REMOTE_SUITE_FILES = [
  "test/workerd/s3-objects.test.ts",
  "test/workerd/s3-list.test.ts",
  "test/workerd/s3-tagging.test.ts",
  "test/workerd/multipart-ops.test.ts",
];

/** Synchronous probe (vitest reads its config before any async setup): does the S3 server answer? */
export function remoteSuiteAvailable(): boolean {
  if (process.env.DG_TEST_S3 === "off") return false;
  try {
    execFileSync("curl", ["-s", "-o", "/dev/null", "--max-time", "2", endpoint]);
    return true;
  } catch {
    return false;
  }
}
