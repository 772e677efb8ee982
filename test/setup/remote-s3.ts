// vitest globalSetup (runs in Node, once per run): finds or starts the real S3 server the remote-S3 tests
// use (Ceph radosgw, strict SigV4), starts the fault-injection proxy in front of it, and hands both to the
// tests through `inject("remoteS3")`.
//
// Where the server comes from, in order:
//   1. DG_TEST_S3_ENDPOINT (+ DG_TEST_S3_ACCESS_KEY_ID / DG_TEST_S3_SECRET_ACCESS_KEY), e.g. set by .ci/run;
//   2. a radosgw already answering on http://127.0.0.1:8000 (e.g. `scripts/radosgw.sh start`);
//   3. started here with scripts/radosgw.sh when the Ceph binaries are installed (~15 s, ~2 GB RAM),
//      and stopped at the end. DG_TEST_S3=off disables the remote-S3 tests entirely.
// Without any of these, those tests skip and say why.
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { promisify } from "node:util";
import type { TestProject } from "vitest/node";
import { startFaultProxy, type FaultProxy } from "./fault-proxy";

export interface RemoteS3TestTarget {
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
  /** The fault-injection proxy in front of `endpoint`. */
  faultProxy: string;
}

export type RemoteS3Provided = { available: true; target: RemoteS3TestTarget } | { available: false; reason: string };

declare module "vitest" {
  export interface ProvidedContext {
    remoteS3: RemoteS3Provided;
  }
}

const run = promisify(execFile);
const DEFAULT_ENDPOINT = "http://127.0.0.1:8000";
// The test user scripts/radosgw.sh creates (the keys ceph/s3-tests use; they protect nothing).
const DEFAULT_ACCESS_KEY = "0555b35654ad1656d804";
const DEFAULT_SECRET_KEY = "h7GhxuBLTrlhVUyxSPUKUV8r/2EI4ngqJxD7iBdBYLhwluN30JaT3Q==";
const FAULT_PROXY_PORTS = [8810, 8812, 8813, 8814, 8815, 8816, 8817, 8818, 8819, 0];

export default async function setup(project: TestProject) {
  const found = await findServer();
  if (!found.available) {
    console.warn(`[remote-s3] remote-S3 tests will be skipped: ${found.reason}`);
    project.provide("remoteS3", found);
    return;
  }
  let proxy: FaultProxy;
  try {
    proxy = await startFaultProxy(found.endpoint, FAULT_PROXY_PORTS);
  } catch (error) {
    await found.stop?.();
    throw error;
  }
  project.provide("remoteS3", {
    available: true,
    target: {
      endpoint: found.endpoint,
      accessKeyId: process.env.DG_TEST_S3_ACCESS_KEY_ID ?? DEFAULT_ACCESS_KEY,
      secretAccessKey: process.env.DG_TEST_S3_SECRET_ACCESS_KEY ?? DEFAULT_SECRET_KEY,
      region: process.env.DG_TEST_S3_REGION ?? "us-east-1",
      faultProxy: proxy.url,
    },
  });
  return async () => {
    await proxy.close();
    await found.stop?.();
  };
}

type Found = { available: true; endpoint: string; stop?: () => Promise<void> } | { available: false; reason: string };

async function findServer(): Promise<Found> {
  if (process.env.DG_TEST_S3 === "off") return { available: false, reason: "DG_TEST_S3=off" };
  const configured = process.env.DG_TEST_S3_ENDPOINT;
  if (configured) {
    return (await answers(configured))
      ? { available: true, endpoint: configured }
      : { available: false, reason: `DG_TEST_S3_ENDPOINT=${configured} does not answer` };
  }
  if (await answers(DEFAULT_ENDPOINT)) return { available: true, endpoint: DEFAULT_ENDPOINT };
  if (!(await hasCommand("radosgw"))) {
    return {
      available: false,
      reason: "no S3 server: install Ceph (apt-get install -y radosgw ceph-mon ceph-osd ceph-common uuid-runtime) " +
        "or set DG_TEST_S3_ENDPOINT",
    };
  }
  return startRadosgw();
}

async function startRadosgw(): Promise<Found> {
  const script = new URL("../../scripts/radosgw.sh", import.meta.url).pathname;
  if (!existsSync(script)) return { available: false, reason: `${script} is missing` };
  const env = { ...process.env, STATE_DIR: `${process.env.TMPDIR ?? "/tmp"}/dg-radosgw-vitest` };
  console.warn("[remote-s3] starting radosgw for this test run (scripts/radosgw.sh, ~15 s)…");
  try {
    const { stdout } = await run("bash", [script, "start", "8000"], { env, timeout: 180_000 });
    const endpoint = stdout.trim().split(/\s+/)[0];
    return {
      available: true,
      endpoint,
      stop: async () => {
        await run("bash", [script, "stop"], { env, timeout: 60_000 }).catch(() => {});
      },
    };
  } catch (error) {
    return { available: false, reason: `radosgw did not start: ${(error as Error).message.split("\n")[0]}` };
  }
}

async function answers(endpoint: string): Promise<boolean> {
  try {
    const response = await fetch(endpoint, { signal: AbortSignal.timeout(3_000) });
    await response.arrayBuffer();
    return true;
  } catch {
    return false;
  }
}

async function hasCommand(name: string): Promise<boolean> {
  try {
    await run("sh", ["-c", `command -v ${name}`]);
    return true;
  } catch {
    return false;
  }
}
