// End to end, the documented one-liner: `S3_ENDPOINT=… S3_BUCKET=… S3_ACCESS_KEY_ID=… S3_SECRET_ACCESS_KEY=…
// npm start` serves bucket `default` from a bucket on a real S3 server (radosgw), driven by @aws-sdk/client-s3.
// Checked against DeltaGlider's own tools: deltas the Worker writes decode with `xdelta3 -d -s reference.bin
// x.delta` straight from the backend, and a deltaspace prepared with Debian's `xdelta3 -e -D -s` (the Rust
// proxy's flags) and the proxy's metadata reads back byte-exact through the Worker.
import {
  CreateBucketCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client,
} from "@aws-sdk/client-s3";
import { execFileSync, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import manifest from "../fixtures/deltaglider/manifest.json";
import { localWorkerClient } from "./support/sdk";

const S3_ENDPOINT = process.env.DG_TEST_S3_ENDPOINT ?? "http://127.0.0.1:8000";
const S3_KEY = process.env.DG_TEST_S3_ACCESS_KEY_ID ?? "0555b35654ad1656d804";
const S3_SECRET = process.env.DG_TEST_S3_SECRET_ACCESS_KEY ?? "h7GhxuBLTrlhVUyxSPUKUV8r/2EI4ngqJxD7iBdBYLhwluN30JaT3Q==";
// Ports of the storage area (8810-8819): the Worker and its inspector.
const PORT = 8819;
const INSPECTOR_PORT = 8818;

const hasXdelta3 = spawnSync("xdelta3", ["-V"]).error === undefined;
const s3Up = await fetch(S3_ENDPOINT, { signal: AbortSignal.timeout(3000) }).then(() => true, () => false);
const skip = !s3Up ? `no S3 server at ${S3_ENDPOINT} (scripts/radosgw.sh start)` : !hasXdelta3 ? "xdelta3 CLI not installed" : "";

const original = (name: string) => Buffer.from((manifest.originals as Record<string, { base64: string }>)[name].base64, "base64");
const sha256 = (data: Uint8Array) => createHash("sha256").update(data).digest("hex");
const md5 = (data: Uint8Array) => createHash("md5").update(data).digest("hex");

describe.skipIf(skip !== "")(`npm start in front of a remote S3 bucket${skip ? ` (skipped: ${skip})` : ""}`, () => {
  const remoteBucket = `npm-start-${Date.now().toString(36)}`;
  let backend: S3Client;
  let proxy: S3Client;
  let worker: ChildProcess;
  let log = "";
  let work: string;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), "dg-remote-e2e-"));
    backend = new S3Client({
      endpoint: S3_ENDPOINT, region: "us-east-1", forcePathStyle: true,
      credentials: { accessKeyId: S3_KEY, secretAccessKey: S3_SECRET },
    });
    await backend.send(new CreateBucketCommand({ Bucket: remoteBucket }));
    worker = spawn("node", ["scripts/dev.mjs", "--inspector-port", String(INSPECTOR_PORT)], {
      env: {
        ...process.env, PORT: String(PORT), CI: "true", NO_COLOR: "1",
        S3_ENDPOINT, S3_BUCKET: remoteBucket, S3_ACCESS_KEY_ID: S3_KEY, S3_SECRET_ACCESS_KEY: S3_SECRET, S3_REGION: "us-east-1",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    worker.stdout!.on("data", (d) => (log += d));
    worker.stderr!.on("data", (d) => (log += d));
    await waitForHealth(`http://127.0.0.1:${PORT}`);
    proxy = localWorkerClient(`http://127.0.0.1:${PORT}`);
  }, 90_000);

  afterAll(async () => {
    proxy?.destroy();
    backend?.destroy();
    if (worker && worker.exitCode === null) {
      const exited = new Promise((resolve) => worker.once("exit", resolve));
      worker.kill("SIGTERM");
      await exited;
    }
    if (work) rmSync(work, { recursive: true, force: true });
  });

  async function waitForHealth(origin: string) {
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      if (worker.exitCode !== null) throw new Error(`npm start exited:\n${log}`);
      const ok = await fetch(`${origin}/_/health`).then((r) => r.ok, () => false);
      if (ok) return;
      await new Promise((r) => setTimeout(r, 250));
    }
    throw new Error(`npm start did not answer within 60 s:\n${log}`);
  }

  async function backendBytes(key: string): Promise<Uint8Array> {
    const got = await backend.send(new GetObjectCommand({ Bucket: remoteBucket, Key: key }));
    return got.Body!.transformToByteArray();
  }

  it("versions uploaded through the Worker land in the remote bucket as reference.bin + .delta that xdelta3 -d decodes", async () => {
    for (const name of ["v1.zip", "v2.zip"]) {
      await proxy.send(new PutObjectCommand({ Bucket: "default", Key: `releases/${name}`, Body: original(name), ContentType: "application/zip" }));
    }
    const listed = await backend.send(new ListObjectsV2Command({ Bucket: remoteBucket, Prefix: "releases/" }));
    // (The engine may also write seed-style `.meta` JSON sidecars next to them; see docs/STORAGE_FORMAT.md.)
    const keys = listed.Contents!.map((o) => o.Key!).filter((key) => !key.endsWith(".meta"));
    expect(keys).toEqual(["releases/reference.bin", "releases/v1.zip.delta", "releases/v2.zip.delta"]);

    writeFileSync(join(work, "reference.bin"), await backendBytes("releases/reference.bin"));
    writeFileSync(join(work, "v2.zip.delta"), await backendBytes("releases/v2.zip.delta"));
    execFileSync("xdelta3", ["-d", "-f", "-s", "reference.bin", "v2.zip.delta", "v2.zip"], { cwd: work });
    expect(sha256(readFileSync(join(work, "v2.zip")))).toBe(sha256(original("v2.zip")));
  });

  it("the objects it writes carry the DeltaGlider metadata both the Rust proxy and the Python CLI read", async () => {
    const head = await backend.send(new HeadObjectCommand({ Bucket: remoteBucket, Key: "releases/v2.zip.delta" }));
    const v2 = original("v2.zip");
    expect(head.Metadata).toMatchObject({
      "dg-note": "delta", "dg-original-name": "v2.zip", "dg-ref-path": "reference.bin", "dg-ref-key": "releases/reference.bin",
      "dg-file-sha256": sha256(v2), "dg-file-size": String(v2.length), "dg-md5": md5(v2), "content-type": "application/zip",
    });
    const ref = await backend.send(new HeadObjectCommand({ Bucket: remoteBucket, Key: "releases/reference.bin" }));
    expect(ref.Metadata).toMatchObject({ "dg-note": "reference", "dg-original-name": "__reference__", "dg-source-name": "releases/v1.zip" });
  });

  it("a deltaspace made with Debian's xdelta3 -e -D -s (default flags) and the Rust proxy's metadata reads back byte-exact", async () => {
    const v1 = original("v1.zip");
    const v3 = original("v3.zip");
    writeFileSync(join(work, "ref.bin"), v1);
    writeFileSync(join(work, "v3.zip"), v3);
    execFileSync("xdelta3", ["-e", "-D", "-f", "-s", "ref.bin", "v3.zip", "v3.zip.delta"], { cwd: work });
    const delta = readFileSync(join(work, "v3.zip.delta"));
    const common = { "dg-tool": "deltaglider_proxy/1.19.0", "dg-created-at": "2026-08-01T10:00:00.000000Z" };
    await backend.send(new PutObjectCommand({
      Bucket: remoteBucket, Key: "cli-made/reference.bin", Body: v1, ContentType: "application/octet-stream",
      Metadata: { ...common, "dg-note": "reference", "dg-original-name": "__reference__", "dg-source-name": "cli-made/v1.zip",
        "dg-file-sha256": sha256(v1), "dg-file-size": String(v1.length), "dg-md5": md5(v1) },
    }));
    await backend.send(new PutObjectCommand({
      Bucket: remoteBucket, Key: "cli-made/v3.zip.delta", Body: delta, ContentType: "application/octet-stream",
      Metadata: { ...common, "dg-note": "delta", "dg-original-name": "v3.zip", "dg-ref-path": "reference.bin",
        "dg-ref-sha256": sha256(v1), "dg-file-sha256": sha256(v3), "dg-file-size": String(v3.length), "dg-md5": md5(v3),
        "dg-delta-size": String(delta.length), "content-type": "application/zip" },
    }));
    const got = await proxy.send(new GetObjectCommand({ Bucket: "default", Key: "cli-made/v3.zip" }));
    expect(sha256(await got.Body!.transformToByteArray())).toBe(sha256(v3));
    expect(got.ETag).toBe(`"${md5(v3)}"`);
    expect(got.ContentType).toBe("application/zip");
  });
});
