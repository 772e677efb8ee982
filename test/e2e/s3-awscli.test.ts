// End to end with Debian's aws-cli (installed by .ci/run; see support/aws-cli.ts for which one runs):
// `aws s3 cp/ls/rm` and `aws s3api put-object` against `wrangler dev`. Skipped, saying so, when none is installed.
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { createHash, randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AWS_CLI, AWS_CLI_SKIP_REASON, awsCliEnv } from "./support/aws-cli";
import { startWranglerDev, type WranglerDev } from "./support/wrangler-dev";

const run = promisify(execFile);
const AWS = AWS_CLI?.path;
if (!AWS) console.warn(AWS_CLI_SKIP_REASON);

let server: WranglerDev;
let work: string;

async function aws(...args: string[]): Promise<string> {
  const { stdout } = await run(AWS!, ["--endpoint-url", server.endpoint, ...args], {
    env: awsCliEnv(),
    maxBuffer: 16 * 1024 * 1024,
  });
  return stdout;
}

describe.skipIf(!AWS)("aws-cli", () => {
  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), "dg-awscli-"));
    server = await startWranglerDev({ port: 8792 });
  }, 120_000);

  afterAll(async () => {
    await server?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  const v1 = randomBytes(2 * 1024 * 1024);
  const v2 = Buffer.from(v1);
  for (let i = 0; i < 40; i++) v2[i * 50_000] ^= 0x5a;

  it("aws s3api put-object uploads versions and answers the MD5 ETag", async () => {
    writeFileSync(join(work, "v1.zip"), v1);
    writeFileSync(join(work, "v2.zip"), v2);
    await aws("s3api", "put-object", "--bucket", "default", "--key", "cli/v1.zip", "--body", join(work, "v1.zip"));
    const out = JSON.parse(await aws("s3api", "put-object", "--bucket", "default", "--key", "cli/v2.zip", "--body", join(work, "v2.zip")));
    expect(out.ETag).toBe(`"${createHash("md5").update(v2).digest("hex")}"`);
  });

  it("aws s3 cp downloads byte-exact and uploads a file", async () => {
    await aws("s3", "cp", "s3://default/cli/v2.zip", join(work, "down.zip"));
    expect(readFileSync(join(work, "down.zip")).equals(v2)).toBe(true);
    writeFileSync(join(work, "notes.txt"), "release notes\n");
    await aws("s3", "cp", join(work, "notes.txt"), "s3://default/cli/notes.txt");
  });

  it("aws s3 ls lists user keys only, with original sizes", async () => {
    const listing = await aws("s3", "ls", "s3://default/cli/");
    const names = listing.trim().split("\n").map((line) => line.trim().split(/\s+/));
    expect(names.map((cols) => cols[3]).sort()).toEqual(["notes.txt", "v1.zip", "v2.zip"]);
    expect(names.find((cols) => cols[3] === "v2.zip")![2]).toBe(String(v2.length));
    expect(listing).not.toMatch(/reference\.bin|\.delta|\.meta/);
  });

  it("aws s3 rm --recursive empties the prefix; aws s3 mb / rb manage a bucket", async () => {
    await aws("s3", "rm", "--recursive", "s3://default/cli/");
    // (`aws s3 ls` of an empty prefix exits 1, so ask s3api.)
    const left = JSON.parse(await aws("s3api", "list-objects-v2", "--bucket", "default", "--prefix", "cli/", "--output", "json") || "{}");
    expect(left.KeyCount ?? 0).toBe(0);
    await aws("s3", "mb", "s3://s3t-awscli-bucket-1");
    expect(await aws("s3", "ls")).toContain("s3t-awscli-bucket-1");
    await aws("s3", "rb", "s3://s3t-awscli-bucket-1");
    expect(await aws("s3", "ls")).not.toContain("s3t-awscli-bucket-1");
  });
});
