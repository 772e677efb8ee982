#!/usr/bin/env node
// `npm run deploy:check`: what `wrangler deploy` would upload, checked offline before anyone deploys it. Builds the
// bundle with `wrangler deploy --dry-run` (no login, no network), then checks that it fits Cloudflare's Worker size
// limit and that the configuration declares what the Worker needs: the R2 binding, the coordinating Durable Object
// with its migration (and the metrics' aggregating one, when bound), a compatibility date the pinned runtime
// knows, and the cleanup cron. Prints one line per
// check; exits 1 if any fails. `--config <path>` checks another wrangler.toml (the tests feed it broken copies).
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const MiB = 1024 * 1024;

/** Cloudflare's Worker size limits, compressed (developers.cloudflare.com/workers/platform/limits/#worker-size). */
const FREE_PLAN_LIMIT = 3 * MiB;
const PAID_PLAN_LIMIT = 10 * MiB;

/** What the Worker cannot run without (src/index.ts, src/wiring.ts, src/index.ts `scheduled`). */
const R2_BINDING = "BUCKET";
const COORDINATOR_BINDING = "DG_COORDINATOR";
const COORDINATOR_CLASS = "BucketCoordinator";
const METRICS_BINDING = "DG_METRICS";
const METRICS_CLASS = "MetricsAggregator";

/** The files of the dry-run output that are uploaded (source maps and wrangler's README are not). */
const UPLOADED_MODULE = /\.(m?js|cjs|wasm)$/;

const OFFLINE_ENV = {
  WRANGLER_SEND_METRICS: "false",
  CLOUDFLARE_CF_FETCH_ENABLED: "false",
  WRANGLER_HIDE_BANNER: "true",
};

function configPathFromArgs(argv) {
  const at = argv.indexOf("--config");
  if (at === -1) return join(projectRoot, "wrangler.toml");
  if (!argv[at + 1]) throw new Error("--config needs a path");
  return resolve(argv[at + 1]);
}

/** `wrangler deploy --dry-run` into outdir; returns its combined output, or throws with it. */
function buildBundle(configPath, outdir) {
  const wrangler = join(projectRoot, "node_modules", ".bin", "wrangler");
  const result = spawnSync(wrangler, ["deploy", "--dry-run", "--config", configPath, "--outdir", outdir], {
    cwd: projectRoot,
    env: { ...process.env, ...OFFLINE_ENV },
    encoding: "utf8",
  });
  const output = `${result.stdout ?? ""}${result.stderr ?? ""}`;
  if (result.status !== 0) throw new Error(`wrangler deploy --dry-run failed:\n${output || result.error}`);
  return output;
}

/** The newest compatibility date the installed runtime supports: miniflare's version is 4.<workerd date>.x. */
function runtimeCompatibilityDate() {
  const require = createRequire(join(projectRoot, "package.json"));
  const { version } = JSON.parse(readFileSync(require.resolve("miniflare/package.json"), "utf8"));
  const date = /^\d+\.(\d{4})(\d{2})(\d{2})\./.exec(version);
  if (!date) throw new Error(`cannot read a date from miniflare ${version}`);
  return `${date[1]}-${date[2]}-${date[3]}`;
}

/** Names the bundle's entry module exports (esbuild ends it with one `export { a, b as c };`). */
function bundleExports(source) {
  const blocks = [...source.matchAll(/^export\s*\{([^}]*)\};?/gm)];
  if (blocks.length === 0) return [];
  return blocks.at(-1)[1].split(",").map((part) => part.trim().split(/\s+as\s+/).at(-1)).filter(Boolean);
}

function formatSize(bytes) {
  return bytes >= MiB ? `${(bytes / MiB).toFixed(2)} MiB` : `${(bytes / 1024).toFixed(1)} KiB`;
}

function sizeChecks(outdir) {
  const modules = readdirSync(outdir).filter((name) => UPLOADED_MODULE.test(name));
  const entry = modules.find((name) => /^index\.m?js$/.test(name));
  if (!entry) return { entry: undefined, checks: [{ ok: false, name: "bundle", detail: `no index.js in ${outdir}` }] };
  let raw = 0;
  let compressed = 0;
  const parts = modules.map((name) => {
    const bytes = readFileSync(join(outdir, name));
    const gzipped = gzipSync(bytes).length;
    raw += bytes.length;
    compressed += gzipped;
    return `${name} ${formatSize(gzipped)}`;
  });
  const detail =
    `${formatSize(compressed)} gzip (${formatSize(raw)} raw: ${parts.join(", ")}); ` +
    `limit ${formatSize(FREE_PLAN_LIMIT)} on Workers Free (checked), ${formatSize(PAID_PLAN_LIMIT)} on Workers Paid`;
  return {
    entry: join(outdir, entry),
    checks: [
      { ok: true, name: "bundle", detail: `${modules.length} modules: ${modules.join(", ")}` },
      { ok: compressed <= FREE_PLAN_LIMIT, name: "size", detail },
    ],
  };
}

function configChecks(config, exported) {
  const r2 = (config.r2_buckets ?? []).find((binding) => binding.binding === R2_BINDING);
  const newestDate = runtimeCompatibilityDate();
  const date = config.compatibility_date;
  const crons = config.triggers?.crons ?? [];
  return [
    { ok: Boolean(r2), name: "R2 binding",
      detail: r2 ? `${R2_BINDING} -> bucket ${r2.bucket_name}` : `no [[r2_buckets]] binding "${R2_BINDING}"` },
    ...durableObjectChecks(config, exported, COORDINATOR_BINDING, COORDINATOR_CLASS, ""),
    ...metricsChecks(config, exported),
    { ok: typeof date === "string" && date <= newestDate, name: "compatibility_date",
      detail: `${date ?? "missing"}; the pinned runtime (miniflare/workerd) supports up to ${newestDate}` },
    { ok: crons.length > 0, name: "cron trigger",
      detail: crons.length > 0 ? `[triggers] crons = ${JSON.stringify(crons)}` : "no [triggers] crons: stale multipart uploads and staged bodies would never be removed" },
  ];
}

/** Binding, class export and migration of one Durable Object class; `label` tells the checks of two classes apart. */
function durableObjectChecks(config, exported, bindingName, className, label) {
  const binding = (config.durable_objects?.bindings ?? []).find((b) => b.name === bindingName);
  const migrations = config.migrations ?? [];
  const creating = migrations.filter((migration) =>
    [...(migration.new_sqlite_classes ?? []), ...(migration.new_classes ?? []),
      ...(migration.renamed_classes ?? []).map((rename) => rename.to)].includes(className));
  const created = creating.length > 0;
  const deleted = migrations.some((migration) => (migration.deleted_classes ?? []).includes(className));
  return [
    { ok: binding?.class_name === className && !binding.script_name, name: `Durable Object binding${label}`,
      detail: binding
        ? `${bindingName} -> class ${binding.class_name}${binding.script_name ? ` of Worker ${binding.script_name}` : ""}` +
          (binding.class_name === className && !binding.script_name ? "" : ` (expected class ${className} of this Worker)`)
        : `no [[durable_objects.bindings]] "${bindingName}"` },
    { ok: exported.includes(className), name: `Durable Object class export${label}`,
      detail: exported.includes(className)
        ? `the entry exports ${className}`
        : `the entry (${config.main}) does not export class ${className}; it exports: ${exported.join(", ") || "nothing"}` },
    { ok: created && !deleted, name: `Durable Object migration${label}`,
      detail: created && !deleted
        ? `[[migrations]] ${creating.map((migration) => migration.tag).join(", ")} creates ${className}`
        : deleted
          ? `a [[migrations]] entry deletes ${className}`
          : `no [[migrations]] entry creates class ${className} (new_sqlite_classes): Cloudflare refuses a binding to a class no migration created` },
  ];
}

/** The metrics' aggregating object is optional (without it /_/metrics answers 503); when bound, it must be whole. */
function metricsChecks(config, exported) {
  const bound = (config.durable_objects?.bindings ?? []).some((b) => b.name === METRICS_BINDING);
  if (!bound) return [{ ok: true, name: "metrics", detail: `no ${METRICS_BINDING} binding: /_/metrics answers 503 (docs/DEPLOY.md "Metrics: Prometheus")` }];
  return durableObjectChecks(config, exported, METRICS_BINDING, METRICS_CLASS, " (metrics)");
}

async function main() {
  const configPath = configPathFromArgs(process.argv.slice(2));
  const outdir = mkdtempSync(join(tmpdir(), "dg-deploy-check-"));
  try {
    buildBundle(configPath, outdir);
    const { entry, checks } = sizeChecks(outdir);
    // wrangler's own reader (pinned version), so the checks see the file as `wrangler deploy` does.
    const { unstable_readConfig } = await import("wrangler");
    const config = unstable_readConfig({ config: configPath });
    const exported = entry ? bundleExports(readFileSync(entry, "utf8")) : [];
    checks.push(...configChecks(config, exported));
    console.log(`deploy check of ${configPath}:`);
    for (const check of checks) console.log(`  ${check.ok ? "ok  " : "FAIL"} ${check.name}: ${check.detail}`);
    const failed = checks.filter((check) => !check.ok);
    console.log(failed.length === 0 ? "deploy check passed" : `deploy check FAILED: ${failed.map((check) => check.name).join(", ")}`);
    return failed.length === 0 ? 0 : 1;
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

try {
  process.exitCode = await main();
} catch (error) {
  console.error(`deploy check FAILED: ${error.message}`);
  process.exitCode = 1;
}
