// `npm run deploy:check` (scripts/deploy-check.mjs), which is how CI knows the Worker would deploy: it passes on the
// repository's wrangler.toml without a Cloudflare login or a network, and a configuration missing something the
// Worker needs fails, naming what is missing.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const projectRoot = resolve(import.meta.dirname, "../..");
const scratch = mkdtempSync(join(tmpdir(), "dg-deploy-check-test-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** No credentials of any kind: an empty HOME (no `wrangler login` state) and no API token. */
function withoutLogin(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: mkdtempSync(join(scratch, "home-")) };
  for (const name of ["CLOUDFLARE_API_TOKEN", "CLOUDFLARE_API_KEY", "CLOUDFLARE_EMAIL", "CLOUDFLARE_ACCOUNT_ID", "XDG_CONFIG_HOME"]) {
    delete env[name];
  }
  return env;
}

function deployCheck(args: string[] = [], prefix: string[] = []): { status: number | null; output: string } {
  const command = [...prefix, "npm", "run", "-s", "deploy:check", "--", ...args];
  const result = spawnSync(command[0]!, command.slice(1), { cwd: projectRoot, env: withoutLogin(), encoding: "utf8" });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

/** A copy of wrangler.toml outside the repository, changed by edit, with `main` still pointing at the entry. */
function brokenConfig(name: string, edit: (toml: string) => string): string {
  const original = readFileSync(join(projectRoot, "wrangler.toml"), "utf8");
  const withMain = original.replace(/^main = .*$/m, mainLine("src/index.ts"));
  const path = join(mkdtempSync(join(scratch, `${name}-`)), "wrangler.toml");
  const changed = edit(withMain);
  expect(changed, `the edit "${name}" changed nothing`).not.toBe(withMain);
  writeFileSync(path, changed);
  return path;
}

function mainLine(entry: string): string {
  return `main = ${JSON.stringify(join(projectRoot, entry))}`;
}

/** `unshare -rn` (a user namespace with no network) where the kernel allows it; CI containers often do not. */
const canRunWithoutNetwork = spawnSync("unshare", ["-rn", "true"]).status === 0;

describe("npm run deploy:check", () => {
  it("passes on the repository's wrangler.toml without a Cloudflare login, reporting the bundle size against both plans", () => {
    const { status, output } = deployCheck();
    expect(output).toContain("deploy check passed");
    expect(output).toMatch(/ok {3}size: .* gzip .*limit 3\.00 MiB on Workers Free \(checked\), 10\.00 MiB on Workers Paid/);
    expect(output).toMatch(/\.wasm \d/); // the codec module counts toward the size
    expect(status).toBe(0);
  });

  it.skipIf(!canRunWithoutNetwork)("needs no network", () => {
    const { status, output } = deployCheck([], ["unshare", "-rn"]);
    expect(output).toContain("deploy check passed");
    expect(status).toBe(0);
  });

  it("fails when the Durable Object migration is missing, as the first deploy would", () => {
    const config = brokenConfig("no-migration", (toml) => toml.replace(/^\[\[migrations\]\]\ntag = .*\nnew_sqlite_classes = .*\n/m, ""));
    const { status, output } = deployCheck(["--config", config]);
    expect(output).toContain("FAIL Durable Object migration: no [[migrations]] entry creates class BucketCoordinator");
    expect(output).toContain("deploy check FAILED: Durable Object migration");
    expect(status).toBe(1);
  });

  it("fails when the metrics' Durable Object is bound but no migration creates its class", () => {
    const config = brokenConfig("no-metrics-migration", (toml) => toml.replace(/^\[\[migrations\]\]\ntag = "v2"\nnew_sqlite_classes = .*\n/m, ""));
    const { status, output } = deployCheck(["--config", config]);
    expect(output).toContain("FAIL Durable Object migration (metrics): no [[migrations]] entry creates class MetricsAggregator");
    expect(output).toContain("ok   Durable Object migration: [[migrations]] v1 creates BucketCoordinator");
    expect(status).toBe(1);
  });

  it("fails when the entry does not export the Durable Object class", () => {
    // An entry that wraps src/index.ts's default export only: the classic forgotten re-export.
    // wrangler's build refuses it already; the check passes its message on.
    const entry = join(mkdtempSync(join(scratch, "entry-")), "entry.ts");
    writeFileSync(entry, `import worker from ${JSON.stringify(join(projectRoot, "src/index.ts"))};\nexport default worker;\n`);
    const config = brokenConfig("no-export", (toml) => toml.replace(/^main = .*$/m, `main = ${JSON.stringify(entry)}`));
    const { status, output } = deployCheck(["--config", config]);
    expect(output).toContain("deploy check FAILED: wrangler deploy --dry-run failed");
    expect(output).toMatch(/not exported in your entrypoint file: BucketCoordinator/);
    expect(status).toBe(1);
  });

  it("fails when the R2 binding, the cron or a usable compatibility date is missing, naming each", () => {
    const config = brokenConfig("several", (toml) => toml
      .replace(/^binding = "BUCKET"$/m, 'binding = "STORAGE"')
      .replace(/^crons = .*$/m, "crons = []")
      .replace(/^compatibility_date = .*$/m, 'compatibility_date = "2099-01-01"'));
    const { status, output } = deployCheck(["--config", config]);
    expect(output).toContain('FAIL R2 binding: no [[r2_buckets]] binding "BUCKET"');
    expect(output).toContain("FAIL cron trigger: no [triggers] crons");
    expect(output).toMatch(/FAIL compatibility_date: 2099-01-01; the pinned runtime \(miniflare\/workerd\) supports up to \d{4}-\d{2}-\d{2}/);
    expect(output).toContain("deploy check FAILED: R2 binding, compatibility_date, cron trigger");
    expect(status).toBe(1);
  });
});
