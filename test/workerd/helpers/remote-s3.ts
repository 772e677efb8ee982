// Test-side access to the real S3 server started by test/setup/remote-s3.ts: backends pointed at it (directly
// or through the fault proxy), raw signed requests for preparing and inspecting buckets "from outside" the
// Worker, and arming faults.
import { AwsClient } from "aws4fetch";
import { inject } from "vitest";
import { DEFAULT_RETRY_POLICY } from "../../../src/storage/retry";
import { S3Backend, type S3BackendConfig } from "../../../src/storage/s3";
import type { FaultRule } from "../../setup/fault-proxy";
import type { RemoteS3TestTarget } from "../../setup/remote-s3";

// Undefined in projects without the remote-s3 globalSetup (e.g. "workerd-remote-s3").
const provided = inject("remoteS3") ?? { available: false as const, reason: "no remote-S3 test server in this project" };

/** The test S3 server, or undefined (with `remoteS3SkipReason`) when none is available. */
export const remoteS3: RemoteS3TestTarget | undefined = provided.available ? provided.target : undefined;
export const remoteS3SkipReason = provided.available ? "" : `remote S3 tests skipped: ${provided.reason}`;

export function target(): RemoteS3TestTarget {
  if (!remoteS3) throw new Error(remoteS3SkipReason);
  return remoteS3;
}

export function rawClient(): AwsClient {
  const { accessKeyId, secretAccessKey, region } = target();
  return new AwsClient({ accessKeyId, secretAccessKey, region, service: "s3", retries: 0 });
}

/** A signed request straight to the S3 server (path style), bypassing the backend under test. */
export async function raw(method: string, path: string, init: { headers?: Record<string, string>; body?: BodyInit } = {}) {
  return rawClient().fetch(`${target().endpoint}${path}`, { method, ...init });
}

/** A fresh bucket on the S3 server, named for the test so runs never see each other's objects. */
export async function createRemoteBucket(label: string): Promise<string> {
  const name = `${label}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`.toLowerCase().slice(0, 63);
  const response = await raw("PUT", `/${name}`);
  if (!response.ok) throw new Error(`CreateBucket ${name}: ${response.status} ${await response.text()}`);
  return name;
}

export function backendFor(bucket: string, overrides: Partial<S3BackendConfig> & { viaFaultProxy?: boolean } = {}): S3Backend {
  const { endpoint, faultProxy, accessKeyId, secretAccessKey, region } = target();
  const { viaFaultProxy, ...config } = overrides;
  return new S3Backend({
    endpoint: viaFaultProxy ? faultProxy : endpoint,
    bucket,
    region,
    pathStyle: true,
    accessKeyId,
    secretAccessKey,
    conditionalWrites: "native",
    retry: { ...DEFAULT_RETRY_POLICY, baseDelayMs: 20, maxDelayMs: 200 },
    listMetadataConcurrency: 5,
    ...config,
  });
}

export async function armFault(rule: FaultRule): Promise<void> {
  const response = await fetch(`${target().faultProxy}/__fault`, { method: "POST", body: JSON.stringify(rule) });
  if (!response.ok) throw new Error(`arming fault failed: ${response.status}`);
  await response.arrayBuffer();
}

/** The armed rules with how often each fired. */
export async function faultLog(): Promise<{ action: string; remaining: number; hits: number }[]> {
  return (await fetch(`${target().faultProxy}/__fault`)).json();
}

export async function clearFaults(): Promise<void> {
  await (await fetch(`${target().faultProxy}/__fault`, { method: "DELETE" })).arrayBuffer();
}

/**
 * The backend under bucket `default` in this test project: the R2 binding in project "workerd", the remote S3
 * bucket in project "workerd-remote-s3". Suites that inspect stored objects directly should use this instead
 * of `env.BUCKET`, so the same case holds on both backends.
 */
export async function defaultBucketBackend(): Promise<import("../../../src/storage/backend").Backend> {
  const { env } = await import("cloudflare:workers");
  const vars = env as unknown as Record<string, unknown> & { BUCKET: R2Bucket };
  const { parseRemoteBackendConfig, createS3Backend } = await import("../../../src/storage/s3-config");
  const remote = parseRemoteBackendConfig(vars).default;
  if (remote) return createS3Backend(remote);
  const { R2Backend } = await import("../../../src/storage/r2");
  return new R2Backend(vars.BUCKET, "BUCKET");
}
