import { cloudflareTest } from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";
import { REMOTE_SUITE, REMOTE_SUITE_FILES, remoteSuiteAvailable } from "./test/setup/remote-suite";

// The S3 integration suites again, with bucket `default` on a real S3 server (radosgw) instead of R2.
const remoteS3Suite = {
  plugins: [cloudflareTest({
    main: "./src/index.ts",
    wrangler: { configPath: "./wrangler.toml" },
    miniflare: { bindings: { DG_DEV_CREDENTIALS: "true", DG_LOG_REQUESTS: "false", DG_METRICS_FLUSH_SECONDS: "0", ...REMOTE_SUITE } },
  })],
  test: {
    name: "workerd-remote-s3",
    include: REMOTE_SUITE_FILES,
    globalSetup: ["./test/setup/remote-suite-bucket.ts"],
    testTimeout: 120_000,
  },
};

// Two projects: tests that run inside workerd (the Worker runtime, with the real local R2 and Cache API),
// and tests that run in Node (CLI, interop with the native xdelta3 binary, end-to-end against `wrangler dev`).
export default defineConfig({
  test: {
    projects: [
      {
        plugins: [cloudflareTest({
          main: "./src/index.ts",
          wrangler: { configPath: "./wrangler.toml" },
          // Tests sign requests with the documented local dev key (never enabled by wrangler.toml itself).
          // DG_INTERLEAVE_SEEDS: more random schedules for test/workerd/interleavings.test.ts.
          // DG_FUZZ_RUNS: more generated cases per property in test/workerd/fuzz-*.test.ts.
          // DG_LOG_REQUESTS: no request-log line per test request (test/workerd/request-log.test.ts turns it on).
          // DG_METRICS_FLUSH_SECONDS=0: metrics are sent right after each request, not by a timer that would keep
          // every awaited execution context (waitOnExecutionContext) open for the default 5 s.
          miniflare: { bindings: {
            DG_DEV_CREDENTIALS: "true",
            DG_LOG_REQUESTS: "false",
            DG_METRICS_FLUSH_SECONDS: "0",
            DG_INTERLEAVE_SEEDS: process.env.DG_INTERLEAVE_SEEDS ?? "",
            DG_FUZZ_RUNS: process.env.DG_FUZZ_RUNS ?? "",
          } },
        })],
        test: {
          name: "workerd",
          include: ["src/**/*.test.ts", "test/workerd/**/*.test.ts"],
          // Finds or starts the real S3 server (radosgw) for the remote-S3 backend tests; see the file.
          globalSetup: ["./test/setup/remote-s3.ts"],
          exclude: ["**/*.node.test.ts"],
          testTimeout: 120_000,
        },
      },
      ...(remoteSuiteAvailable() ? [remoteS3Suite] : []),
      {
        test: {
          name: "node",
          environment: "node",
          include: ["src/**/*.node.test.ts", "test/node/**/*.test.ts", "test/e2e/**/*.test.ts"],
          testTimeout: 600_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
