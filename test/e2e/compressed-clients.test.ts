// Compressed artifacts end to end (issue #18: "nothing changes for their clients except the bill"): `wrangler dev`
// with its default settings (DG_COMPRESSED_DELTAS is on by default), driven by real S3 clients. aws-cli uploads
// three versions of an npm-like .tgz (the third as a multipart upload), rclone three of a .zip, s3cmd three of a
// .jar, each family in its own deltaspace. What a user sees must be what they uploaded: sizes and ETags in HEAD
// and every client's listing, every version byte-exact (SHA-256) through aws-cli, rclone, s3cmd and the JS SDK,
// Range GETs, server-side copies. What they pay must shrink: versions 2..3 are stored as compressed-aware deltas
// (x-amz-storage-type, and the operator's GET /_/stats), a small fraction of their size, with nothing stored
// beside them but reference.bin, so the deltaspace as a whole is stored in about a third of what was uploaded.
// A .tgz whose gzip no shipped deflater reproduces is stored as it is and still round-trips byte-exact.
import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { AwsClient } from "aws4fetch";
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { gzipWithFlushAt, npmGzip, tarOf, zipOf, type FileEntry } from "../workerd/helpers/artifacts";
import { AWS_CLI, AWS_CLI_SKIP_REASON, awsCliEnv } from "./support/aws-cli";
import { rclone, RCLONE_SKIP_REASON, s3cmd, S3CMD_SKIP_REASON, type S3Tool } from "./support/s3-tools";
import { localWorkerClient } from "./support/sdk";
import { DEV_CREDENTIALS, REGION, startWranglerDev, type WranglerDev } from "./support/wrangler-dev";

const PORT = 8870;
const MiB = 1024 * 1024;
/** aws-cli's part size (and threshold) for the multipart upload: S3's smallest part. */
const PART_SIZE = 5 * MiB;
const BUCKET = "default";
const run = promisify(execFile);

const missing = [AWS_CLI ? "" : AWS_CLI_SKIP_REASON, RCLONE_SKIP_REASON, S3CMD_SKIP_REASON].filter(Boolean);
if (missing.length) console.warn(`compressed-clients: skipped (${missing.join("; ")})`);

// ---- the artifacts -------------------------------------------------------------------------------------------

/** A small deterministic PRNG (mulberry32): the same file is the same in every version. */
function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

const SYLLABLES = ["ka", "lo", "mi", "tes", "run", "da", "vo", "pre", "xi", "ul", "bor", "nen", "sa", "qui", "fe", "go"];
const encoder = new TextEncoder();

/**
 * Version 1.`minor`.0 of a package's sources: source files with random identifiers and tokens (they deflate to
 * ~40 %, so a multipart-sized .tgz stays a ~13 MiB tar), every file's first line naming the version (so every
 * deflate stream of a zip differs from its start), a few lines edited in every seventh file, one file added.
 */
function sources(minor: number, root: string, files: number, lines: number): FileEntry[] {
  const out: FileEntry[] = [];
  for (let f = 0; f < files; f++) {
    const random = prng(f * 7919 + 17);
    const word = () => Array.from({ length: 2 + Math.floor(random() * 3) }, () => SYLLABLES[Math.floor(random() * SYLLABLES.length)]).join("");
    const text = [`// module ${f}, version 1.${minor}.0`];
    for (let l = 0; l < lines; l++) {
      const token = Array.from({ length: 5 }, () => Math.floor(random() * 2 ** 32).toString(36)).join("");
      const edited = f % 7 === 3 && l % 61 === minor;
      text.push(`export const ${word()}_${f}_${l} = "${token}"; // ${word()}${edited ? ` changed in 1.${minor}.0` : ""}`);
    }
    out.push({ name: `${root}/m${f}.js`, data: encoder.encode(text.join("\n") + "\n") });
  }
  out.push({ name: `${root}/package.json`, data: encoder.encode(JSON.stringify({ name: "pkg", version: `1.${minor}.0` }, null, 2)) });
  if (minor > 0) out.push({ name: `${root}/CHANGELOG-${minor}.md`, data: encoder.encode(`# 1.${minor}.0\n- fixes\n`.repeat(20)) });
  return out;
}

interface Artifact {
  key: string;
  data: Buffer;
  /** The ETag S3 gives it: the MD5, or the multipart form for the parts it was uploaded in. */
  etag: string;
  multipart: boolean;
}

const md5 = (data: Uint8Array) => createHash("md5").update(data).digest("hex");
const sha256 = (data: Uint8Array) => createHash("sha256").update(data).digest("hex");

/** S3's multipart ETag: the MD5 of the parts' MD5s, "-" the part count. */
function multipartEtag(data: Uint8Array, partSize: number): string {
  const digests: Buffer[] = [];
  for (let at = 0; at < data.length; at += partSize) digests.push(createHash("md5").update(data.subarray(at, at + partSize)).digest());
  return `"${createHash("md5").update(Buffer.concat(digests)).digest("hex")}-${digests.length}"`;
}

function artifact(key: string, bytes: Uint8Array, multipart = false): Artifact {
  const data = Buffer.from(bytes);
  return { key, data, multipart, etag: multipart ? multipartEtag(data, PART_SIZE) : `"${md5(data)}"` };
}

/** npm-like tarballs (Node's zlib, level 9, memLevel 8, OS byte 0xff) above 5 MiB: the third goes up in parts. */
const makeTgz = () => [0, 1, 2].map((minor) => artifact(`npm/pkg/pkg-1.${minor}.0.tgz`, npmGzip(tarOf(sources(minor, "package/lib", 96, 1800))), minor === 2));
/** A release .zip as Python's zipfile writes one (deflated entries, zlib level 6). */
const makeZip = () => [0, 1, 2].map((minor) => artifact(`rclone/app/app-1.${minor}.0.zip`, zipOf(sources(minor, "app", 80, 1000))));
/** A .jar: data descriptors, the JSON entry stored, the rest deflated at level 6. */
const makeJar = () => [0, 1, 2].map((minor) => artifact(`s3cmd/lib/lib-1.${minor}.0.jar`,
  zipOf(sources(minor, "com/example/lib", 60, 1000), { level: 6, dataDescriptor: true, stored: (name) => name.endsWith(".json") })));
// Made in beforeAll (~10 s of gzip level 9), not when the file is collected: nothing to pay when it skips.
let TGZ: Artifact[] = [];
let ZIP: Artifact[] = [];
let JAR: Artifact[] = [];
let ALL: Artifact[] = [];

// ---- the clients ---------------------------------------------------------------------------------------------

let server: WranglerDev;
let work: string;
let sdk: S3Client;
let rcloneTool: S3Tool;
let s3cmdTool: S3Tool;
const signer = new AwsClient({ ...DEV_CREDENTIALS, service: "s3", region: REGION });

/** aws-cli with the dev key; `multipart`: a config whose threshold and part size are 5 MiB (default: 8 MiB). */
async function aws(args: string[], options: { multipart?: boolean } = {}): Promise<string> {
  const env = awsCliEnv(options.multipart ? { AWS_CONFIG_FILE: join(work, "aws-multipart.cfg") } : {});
  try {
    const { stdout } = await run(AWS_CLI!.path, ["--endpoint-url", server.endpoint, ...args], { env, maxBuffer: 16 * MiB });
    return stdout;
  } catch (error) {
    const failed = error as Error & { stderr?: string };
    throw new Error(`aws ${args.join(" ")} failed: ${failed.message}\n${failed.stderr ?? ""}`);
  }
}

async function signedFetch(path: string, method = "GET"): Promise<Response> {
  return fetch(await signer.sign(`${server.endpoint}${path}`, { method }));
}

async function storageType(key: string): Promise<string | null> {
  const head = await signedFetch(`/${BUCKET}/${key}`, "HEAD");
  expect(head.status, key).toBe(200);
  return head.headers.get("x-amz-storage-type");
}

async function sdkGet(key: string, range?: string): Promise<Buffer> {
  const got = await sdk.send(new GetObjectCommand({ Bucket: BUCKET, Key: key, Range: range }));
  return Buffer.from(await got.Body!.transformToByteArray());
}

/** The bucket's savings totals from the operator endpoint (the dev key is an admin key). */
async function bucketStats(): Promise<any> {
  const response = await signedFetch(`/_/stats?bucket=${BUCKET}`);
  expect(response.status).toBe(200);
  return response.json();
}

const local = (name: string) => join(work, name.replaceAll("/", "_"));

describe.skipIf(missing.length > 0)("compressed artifacts through real S3 clients, default settings", () => {
  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), "dg-compressed-e2e-"));
    writeFileSync(join(work, "aws-multipart.cfg"), `[default]\ns3 =\n  multipart_threshold = 5MB\n  multipart_chunksize = 5MB\n`);
    [TGZ, ZIP, JAR] = [makeTgz(), makeZip(), makeJar()];
    ALL = [...TGZ, ...ZIP, ...JAR];
    for (const { key, data } of ALL) writeFileSync(local(key), data);
    server = await startWranglerDev({ port: PORT });
    sdk = localWorkerClient(server.endpoint);
    rcloneTool = rclone(server.endpoint, work);
    s3cmdTool = s3cmd(server.endpoint, work);
  }, 120_000);

  afterAll(async () => {
    sdk?.destroy();
    await server?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it("aws-cli uploads three .tgz versions (the third multipart), rclone three .zip, s3cmd three .jar; versions 2 and 3 are deltas", async () => {
    expect(TGZ.every(({ data }) => data.length > PART_SIZE)).toBe(true);
    for (const { key, multipart } of TGZ) await aws(["s3", "cp", local(key), `s3://${BUCKET}/${key}`], { multipart });
    for (const { key } of ZIP) await rcloneTool.upload(local(key), key, { multipart: false });
    for (const { key } of JAR) await s3cmdTool.upload(local(key), key, { multipart: false });
    for (const family of [TGZ, ZIP, JAR]) {
      // (HEAD names the first version "Delta" too: it is stored as a delta against the reference it seeded.)
      const types = await Promise.all(family.map(({ key }) => storageType(key)));
      expect(types, family[0].key).toEqual(["Delta", "Delta", "Delta"]);
    }
  });

  it("HEAD answers each version's size and its ETag as uploaded (MD5, or S3's multipart form for the parts)", async () => {
    for (const { key, data, etag } of ALL) {
      const head = await sdk.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }));
      expect([head.ContentLength, head.ETag], key).toEqual([data.length, etag]);
    }
    expect(TGZ[2].etag).toMatch(/-2"$/);
  });

  it("GET /_/stats shows the saving: versions 2 and 3 stored in a small fraction of their size, nothing stored beside reference.bin", async () => {
    const stats = await bucketStats();
    for (const family of [TGZ, ZIP, JAR]) {
      const deltaspace = family[0].key.slice(0, family[0].key.lastIndexOf("/"));
      const row = stats.deltaspaces.find((d: any) => d.deltaspace === deltaspace);
      expect(row, deltaspace).toBeDefined();
      const references = row.references.map((r: { key: string }) => r.key).sort();
      // The reference's inflated form is made from reference.bin on demand, never stored.
      expect(references).toEqual([`${deltaspace}/reference.bin`]);
      // The first version is stored as a delta against the reference it seeded (a plain self-delta, as
      // DeltaGlider stores it); versions 2 and 3 as compressed-aware deltas against reference.bin's inflated form.
      const uploaded = family.reduce((n, { data }) => n + data.length, 0);
      expect([row.byType.delta.objects, row.byType.delta.logicalBytes]).toEqual([3, uploaded]);
      const puts = family.map(({ key }) => stats.recent.find((r: any) => r.op === "put" && r.key === key));
      expect(puts.map((put) => put?.storageType), deltaspace).toEqual(["Reference", "Delta", "Delta"]);
      // Without compressed-aware deltas versions 2 and 3 would be stored as they are (gzip) or as plain deltas of
      // about their whole size (every deflate stream of the zip differs from its start).
      for (const [i, put] of puts.entries()) expect(put.storedBytes, family[i].key).toBeLessThan(family[i].data.length * 0.01);
      expect(row.byType.delta.storedBytes, deltaspace).toBeLessThan(uploaded * 0.01);
      // Three versions cost about one: the reference (a copy of the first) plus three small deltas.
      expect(row.storedBytes, deltaspace).toBeLessThan(uploaded * 0.4);
      console.log(`${deltaspace}: uploaded ${family.map((a) => a.data.length).join(" + ")} B; stored as deltas in ` +
        `${puts.map((put) => put.storedBytes).join(" + ")} B; ` +
        `references ${row.referenceBytes} B (${row.references.map((r: any) => `${r.key} ${r.storedBytes}`).join(", ")}); ` +
        `deltaspace stored ${row.storedBytes} B of ${row.logicalBytes} B logical`);
    }
  });

  it("every client lists the original sizes (and the SDK the ETags), and nothing of the storage layout", async () => {
    const expected = (family: Artifact[]) => family.map(({ key, data }) => ({ key, size: data.length }));
    const byKey = (a: { key: string }, b: { key: string }) => a.key.localeCompare(b.key);
    for (const family of [TGZ, ZIP, JAR]) {
      const prefix = family[0].key.slice(0, family[0].key.lastIndexOf("/") + 1);
      expect((await rcloneTool.list(prefix)).sort(byKey), `rclone ${prefix}`).toEqual(expected(family));
      expect((await s3cmdTool.list(prefix)).sort(byKey), `s3cmd ${prefix}`).toEqual(expected(family));
      const cli = (await aws(["s3", "ls", `s3://${BUCKET}/${prefix}`])).trim().split("\n").map((line) => line.trim().split(/\s+/));
      expect(cli.map(([, , size, name]) => ({ key: prefix + name, size: Number(size) })).sort(byKey), `aws ${prefix}`).toEqual(expected(family));
      const listed = await sdk.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix }));
      expect(listed.Contents?.map((c) => [c.Key, c.Size, c.ETag])).toEqual(family.map(({ key, data, etag }) => [key, data.length, etag]));
    }
  });

  it("every client downloads every version byte-exact (SHA-256)", async () => {
    for (const { key, data } of ALL) {
      const want = sha256(data);
      expect(sha256(await sdkGet(key)), `SDK ${key}`).toBe(want);
      await aws(["s3", "cp", `s3://${BUCKET}/${key}`, local(`aws-${key}`)]);
      expect(sha256(readFileSync(local(`aws-${key}`))), `aws-cli ${key}`).toBe(want);
      await rcloneTool.download(key, local(`rclone-${key}`));
      expect(sha256(readFileSync(local(`rclone-${key}`))), `rclone ${key}`).toBe(want);
      await s3cmdTool.download(key, local(`s3cmd-${key}`));
      expect(sha256(readFileSync(local(`s3cmd-${key}`))), `s3cmd ${key}`).toBe(want);
    }
  });

  it("Range GETs of compressed-aware deltas answer the slice byte-exact (SDK, aws s3api get-object)", async () => {
    for (const { key, data } of [TGZ[1], TGZ[2], ZIP[2], JAR[1]]) {
      // Across the 5 MiB part boundary of the multipart one; the middle of the others.
      const start = Math.min(PART_SIZE - 1000, Math.floor(data.length / 2));
      const end = start + 70_000;
      const want = sha256(data.subarray(start, end + 1));
      expect(sha256(await sdkGet(key, `bytes=${start}-${end}`)), `SDK ${key}`).toBe(want);
      const out = local(`range-${key}`);
      const answer = JSON.parse(await aws(["s3api", "get-object", "--bucket", BUCKET, "--key", key, "--range", `bytes=${start}-${end}`, out]));
      expect(answer.ContentRange).toBe(`bytes ${start}-${end}/${data.length}`);
      expect(sha256(readFileSync(out)), `aws-cli ${key}`).toBe(want);
    }
    const tail = await sdkGet(ZIP[1].key, "bytes=-22");
    expect(tail.equals(ZIP[1].data.subarray(-22))).toBe(true); // the zip's end-of-central-directory record
  });

  it("aws s3 cp s3://… s3://… copies a compressed-aware delta byte-exact, in one CopyObject and in parts", async () => {
    const copies = [
      { from: TGZ[1], to: "npm/pkg/copy-1.1.0.tgz", multipart: true },
      { from: TGZ[2], to: "npm/mirror/pkg-1.2.0.tgz", multipart: false },
      { from: ZIP[2], to: "rclone/app/copy-1.2.0.zip", multipart: false },
    ];
    try {
      for (const { from, to, multipart } of copies) {
        await aws(["s3", "cp", `s3://${BUCKET}/${from.key}`, `s3://${BUCKET}/${to}`, "--copy-props", "metadata-directive"], { multipart });
        expect(sha256(await sdkGet(to)), to).toBe(sha256(from.data));
        const head = await sdk.send(new HeadObjectCommand({ Bucket: BUCKET, Key: to }));
        expect(head.ContentLength, to).toBe(from.data.length);
        // As S3 does: a CopyObject's ETag is the MD5 of the bytes (also of a multipart source), a copy in parts
        // gets the multipart ETag of the parts aws-cli cut.
        expect(head.ETag, to).toBe(multipart ? multipartEtag(from.data, PART_SIZE) : `"${md5(from.data)}"`);
      }
      // A copy into the source's deltaspace is stored like an upload of the same bytes: a delta.
      expect(await storageType("npm/pkg/copy-1.1.0.tgz")).toBe("Delta");
      expect(await storageType("rclone/app/copy-1.2.0.zip")).toBe("Delta");
    } finally {
      for (const { to } of copies) await aws(["s3", "rm", `s3://${BUCKET}/${to}`]);
    }
  });

  it("a .tgz whose gzip no shipped deflater reproduces is stored as it is and round-trips byte-exact", async () => {
    // Level 9 up to a sync flush no plain level-9 stream has: the recipe search matches its start, the whole
    // rebuild then differs, and the PUT falls back (a plain delta of gzip content does not pay).
    const tar = tarOf(sources(3, "package/lib", 24, 1000));
    const odd = artifact("npm/pkg/pkg-1.3.0.tgz", await gzipWithFlushAt(tar, Math.floor(tar.length / 3)));
    await sdk.send(new PutObjectCommand({ Bucket: BUCKET, Key: odd.key, Body: odd.data }));
    expect(await storageType(odd.key)).toBe("Direct");
    const head = await sdk.send(new HeadObjectCommand({ Bucket: BUCKET, Key: odd.key }));
    expect([head.ContentLength, head.ETag]).toEqual([odd.data.length, odd.etag]);
    expect(sha256(await sdkGet(odd.key))).toBe(sha256(odd.data));
    await aws(["s3", "cp", `s3://${BUCKET}/${odd.key}`, local("aws-odd.tgz")]);
    expect(sha256(readFileSync(local("aws-odd.tgz")))).toBe(sha256(odd.data));
    // The versions stored as compressed-aware deltas are still exact after it.
    expect(sha256(await sdkGet(TGZ[2].key))).toBe(sha256(TGZ[2].data));
  });
});
