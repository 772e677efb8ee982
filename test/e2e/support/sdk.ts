// @aws-sdk/client-s3 clients for the end-to-end tests against `wrangler dev`.
//
// The SDK sends `Expect: 100-continue` on bodies of 1 MB and more and then waits for the server's
// "100 Continue" before sending the body, giving up after 6 s (@smithy/node-http-handler). workerd's local
// HTTP listener (what `wrangler dev` serves from) never sends "100 Continue", and a Worker cannot send one
// either (the fetch handler runs before it could, and has no way to emit an informational response). So
// every large upload would idle 6 s: measured 8–9 s instead of 2–3 s for a 9.7 MiB PUT. The SDK's own
// `expectContinueHeader: false` turns the header off (see docs/DEPLOY.md, "Local development").
//
// Connections are not kept alive: wrangler dev's listener closes idle connections, and a client that starts the
// next request on a connection the server is closing at that moment gets a socket error (ECONNRESET on write)
// that the SDK retries but that also surfaced once as an unhandled error in a loaded CI run (the test passed).
// One loopback connection per request costs nothing measurable here.
import { Agent } from "node:http";
import { S3Client, type S3ClientConfig } from "@aws-sdk/client-s3";
import { DEV_CREDENTIALS, REGION } from "./wrangler-dev";

/** Settings every e2e SDK client against a local Worker uses. */
export const LOCAL_WORKER_CLIENT_CONFIG = {
  region: REGION,
  forcePathStyle: true,
  credentials: DEV_CREDENTIALS,
  expectContinueHeader: false,
  requestHandler: { httpAgent: new Agent({ keepAlive: false }) },
} satisfies S3ClientConfig;

/** An S3 client for a local Worker (`wrangler dev`) at `endpoint`; `overrides` for credentials, checksums… */
export function localWorkerClient(endpoint: string, overrides: S3ClientConfig = {}): S3Client {
  return new S3Client({ ...LOCAL_WORKER_CLIENT_CONFIG, endpoint, ...overrides });
}
