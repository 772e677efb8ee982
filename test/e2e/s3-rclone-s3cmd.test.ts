// End to end with rclone and s3cmd (Debian packages, installed by .ci/run) beside aws-cli and the JS SDK:
// versioned artifacts uploaded single-part and multipart, listed, downloaded byte-exact, copied server-side and
// deleted, through `npm start` on both backends: local R2, and a bucket on a real S3 server (radosgw). Later
// versions must be stored as deltas (x-amz-storage-type on HEAD). A missing tool or S3 server skips, saying so.
import { AwsClient } from "aws4fetch";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startNpmStart, type NpmStart } from "./support/npm-start";
import { rclone, RCLONE_SKIP_REASON, s3cmd, S3CMD_SKIP_REASON, type S3Tool, type ToolFactory } from "./support/s3-tools";
import { DEV_CREDENTIALS, REGION } from "./support/wrangler-dev";

const MiB = 1024 * 1024;
const S3_ENDPOINT = process.env.DG_TEST_S3_ENDPOINT ?? "http://127.0.0.1:8000";
const S3_KEY = process.env.DG_TEST_S3_ACCESS_KEY_ID ?? "0555b35654ad1656d804";
const S3_SECRET = process.env.DG_TEST_S3_SECRET_ACCESS_KEY ?? "h7GhxuBLTrlhVUyxSPUKUV8r/2EI4ngqJxD7iBdBYLhwluN30JaT3Q==";

async function remoteS3SkipReason(): Promise<string> {
  if (process.env.DG_TEST_S3 === "off") return "DG_TEST_S3=off";
  const up = await fetch(S3_ENDPOINT, { signal: AbortSignal.timeout(3000) }).then(() => true, () => false);
  return up ? "" : `no S3 server at ${S3_ENDPOINT} (scripts/radosgw.sh start)`;
}

interface Backend {
  label: string;
  skip: string;
  port: number;
  /** Prepares the backend and returns npm start's extra environment. */
  prepare(): Promise<Record<string, string>>;
}

const BACKENDS: Backend[] = [
  { label: "local R2", skip: "", port: 8955, prepare: async () => ({}) },
  {
    label: "remote S3 (radosgw)", skip: await remoteS3SkipReason(), port: 8957,
    prepare: async () => {
      const bucket = `dg-tools-${Date.now().toString(36)}`;
      const admin = new AwsClient({ accessKeyId: S3_KEY, secretAccessKey: S3_SECRET, service: "s3", region: REGION });
      const created = await admin.fetch(`${S3_ENDPOINT}/${bucket}`, { method: "PUT" });
      if (!created.ok) throw new Error(`CreateBucket ${bucket} on ${S3_ENDPOINT}: ${created.status} ${await created.text()}`);
      return { S3_ENDPOINT, S3_BUCKET: bucket, S3_ACCESS_KEY_ID: S3_KEY, S3_SECRET_ACCESS_KEY: S3_SECRET, S3_REGION: REGION };
    },
  },
];

const TOOLS: { name: string; skip: string; make: ToolFactory }[] = [
  { name: "rclone", skip: RCLONE_SKIP_REASON, make: rclone },
  { name: "s3cmd", skip: S3CMD_SKIP_REASON, make: s3cmd },
];

/** Three versions of a 12 MiB artifact, each a few rewritten regions away from the one before. */
function versions(): Buffer[] {
  const v1 = randomBytes(12 * MiB);
  const next = (base: Buffer) => {
    const out = Buffer.from(base);
    for (let i = 1; i <= 16; i++) randomBytes(512).copy(out, Math.floor((i * out.length) / 18));
    return out;
  };
  const v2 = next(v1);
  return [v1, v2, next(v2)];
}

const md5 = (data: Uint8Array) => createHash("md5").update(data).digest("hex");
const signer = new AwsClient({ ...DEV_CREDENTIALS, service: "s3", region: REGION });

for (const backend of BACKENDS) {
  describe.skipIf(backend.skip !== "")(`S3 tools through npm start on ${backend.label}${backend.skip ? ` (skipped: ${backend.skip})` : ""}`, () => {
    let server: NpmStart;
    let work: string;

    beforeAll(async () => {
      work = mkdtempSync(join(tmpdir(), "dg-tools-"));
      server = await startNpmStart({ port: backend.port, inspectorPort: backend.port + 1, env: await backend.prepare() });
    }, 120_000);

    afterAll(async () => {
      await server?.stop();
      if (work) rmSync(work, { recursive: true, force: true });
    });

    async function head(key: string): Promise<Response> {
      return fetch(await signer.sign(`${server.endpoint}/default/${key}`, { method: "HEAD" }));
    }

    for (const { name, skip, make } of TOOLS) {
      describe.skipIf(skip !== "")(`${name}${skip ? ` (skipped: ${skip})` : ""}`, () => {
        const prefix = `${name}/releases/`;
        const [v1, v2, v3] = versions();
        const files = { "app-1.zip": v1, "app-2.zip": v2, "app-3.zip": v3 };
        let tool: S3Tool;

        beforeAll(() => {
          tool = make(server.endpoint, work);
          for (const [file, data] of Object.entries(files)) writeFileSync(join(work, `${name}-${file}`), data);
        });

        it("uploads v1 and v2 in one PUT and v3 in parts; v2 and v3 are stored as deltas", async () => {
          await tool.upload(join(work, `${name}-app-1.zip`), `${prefix}app-1.zip`, { multipart: false });
          await tool.upload(join(work, `${name}-app-2.zip`), `${prefix}app-2.zip`, { multipart: false });
          await tool.upload(join(work, `${name}-app-3.zip`), `${prefix}app-3.zip`, { multipart: true });
          const heads = await Promise.all(Object.keys(files).map((file) => head(prefix + file)));
          expect(heads.map((h) => h.status)).toEqual([200, 200, 200]);
          // (The first version is stored as the deltaspace's reference, or as a delta against it.)
          expect(heads.slice(1).map((h) => h.headers.get("x-amz-storage-type"))).toEqual(["Delta", "Delta"]);
          expect(heads[1].headers.get("etag")).toBe(`"${md5(v2)}"`);
          // 12 MiB in 5 MiB parts: a three-part multipart ETag.
          expect(heads[2].headers.get("etag")).toMatch(/^"[0-9a-f]{32}-3"$/);
        });

        it("lists the versions with their original sizes, and nothing of the storage layout", async () => {
          const listed = (await tool.list(prefix)).sort((a, b) => a.key.localeCompare(b.key));
          expect(listed).toEqual(Object.entries(files).map(([file, data]) => ({ key: prefix + file, size: data.length })));
        });

        it("downloads every version byte-exact", async () => {
          for (const [file, data] of Object.entries(files)) {
            const local = join(work, `${name}-down-${file}`);
            await tool.download(prefix + file, local);
            expect(md5(readFileSync(local)), file).toBe(md5(data));
          }
        });

        it("copies a delta-stored version server-side; the copy is byte-exact and a delta too", async () => {
          await tool.copy(`${prefix}app-3.zip`, `${prefix}app-3-copy.zip`);
          expect((await head(`${prefix}app-3-copy.zip`)).headers.get("x-amz-storage-type")).toBe("Delta");
          const local = join(work, `${name}-down-copy.zip`);
          await tool.download(`${prefix}app-3-copy.zip`, local);
          expect(md5(readFileSync(local))).toBe(md5(v3));
        });

        it("deletes every version; nothing is left under the prefix", async () => {
          for (const key of [...Object.keys(files), "app-3-copy.zip"]) await tool.remove(prefix + key);
          expect(await tool.list(prefix)).toEqual([]);
          expect((await head(`${prefix}app-2.zip`)).status).toBe(404);
        });
      });
    }
  });
}
