// The e2e tests' choice of aws-cli (test/e2e/support/aws-cli.ts): Debian's aws-cli v2 at /usr/bin/aws wins over
// an `aws` earlier on PATH (a pyenv shim for aws-cli v1 on some machines); without it, the PATH one is used.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { findAwsCli } from "../e2e/support/aws-cli";

const dir = mkdtempSync(join(tmpdir(), "dg-aws-choice-"));
const shim = join(dir, "aws");
writeFileSync(shim, "#!/bin/sh\necho 'aws-cli/1.0.0 shim'\n");
chmodSync(shim, 0o755);
// The shim comes first on PATH, as a pyenv shim does.
const pathWithShim = `${dir}:/usr/bin:/bin`;

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("which aws-cli the e2e tests run", () => {
  it("prefers the preferred executable (Debian's /usr/bin/aws) over an aws earlier on PATH", () => {
    const preferred = join(dir, "debian-aws");
    writeFileSync(preferred, "#!/bin/sh\necho 'aws-cli/2.9.19 Python/3.11.2 source/x86_64.debian.12'\n");
    chmodSync(preferred, 0o755);
    expect(findAwsCli({ preferred, path: pathWithShim })).toEqual({ path: preferred, version: "aws-cli/2.9.19 Python/3.11.2 source/x86_64.debian.12" });
  });

  it("falls back to the aws on PATH when the preferred one does not exist", () => {
    expect(findAwsCli({ preferred: join(dir, "missing"), path: pathWithShim })).toEqual({ path: shim, version: "aws-cli/1.0.0 shim" });
  });

  it("finds none when neither exists", () => {
    expect(findAwsCli({ preferred: join(dir, "missing"), path: "/nonexistent" })).toBeUndefined();
  });

  it.runIf(process.platform === "linux")("on this machine picks /usr/bin/aws when it exists", async () => {
    const { existsSync } = await import("node:fs");
    const found = findAwsCli({ path: pathWithShim });
    if (existsSync("/usr/bin/aws")) expect(found?.path).toBe("/usr/bin/aws");
    else expect(found?.path).toBe(shim);
  });
});
