// Which aws-cli the end-to-end tests drive. Debian's aws-cli v2 at /usr/bin/aws (what .ci/run installs) comes
// first: an `aws` found earlier on PATH may be something else, e.g. a pyenv shim for aws-cli v1, which signs
// and uploads differently (no aws-chunked, no default checksums). Without /usr/bin/aws, whatever `aws` on PATH
// answers `--version` is used; without any, the aws-cli tests skip and say why.
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { DEV_CREDENTIALS, REGION } from "./wrangler-dev";

export const DEBIAN_AWS_CLI = "/usr/bin/aws";

export interface AwsCli {
  path: string;
  /** First line of `aws --version`, e.g. "aws-cli/2.9.19 Python/3.11.2 …". */
  version: string;
}

export interface FindAwsCliOptions {
  /** Checked first (default /usr/bin/aws). */
  preferred?: string;
  /** The PATH to search when the preferred one is missing (default this process's PATH). */
  path?: string;
}

export function findAwsCli(options: FindAwsCliOptions = {}): AwsCli | undefined {
  const preferred = options.preferred ?? DEBIAN_AWS_CLI;
  const searchPath = options.path ?? process.env.PATH ?? "";
  const candidates = existsSync(preferred) ? [preferred] : [];
  const onPath = commandOnPath("aws", searchPath);
  if (onPath) candidates.push(onPath);
  for (const candidate of candidates) {
    const version = versionOf(candidate, searchPath);
    if (version) return { path: candidate, version };
  }
  return undefined;
}

/** The aws-cli for this test run, found once. */
export const AWS_CLI: AwsCli | undefined = findAwsCli();
export const AWS_CLI_SKIP_REASON = "aws-cli not installed: skipping the aws-cli end-to-end tests (.ci/run installs Debian's awscli)";

/**
 * The environment for running aws-cli against a local Worker with the dev key: inherited AWS_* settings
 * (profiles, endpoints, tokens) and config files are dropped so nothing on the machine changes the request;
 * the rest of the environment (HOME, PYENV_*) stays, which version managers' shims need.
 */
export function awsCliEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) if (!name.startsWith("AWS_")) env[name] = value;
  return {
    ...env,
    AWS_ACCESS_KEY_ID: DEV_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: DEV_CREDENTIALS.secretAccessKey,
    AWS_DEFAULT_REGION: REGION,
    AWS_EC2_METADATA_DISABLED: "true",
    AWS_PAGER: "",
    AWS_CONFIG_FILE: "/dev/null",
    AWS_SHARED_CREDENTIALS_FILE: "/dev/null",
    ...extra,
  };
}

function commandOnPath(name: string, searchPath: string): string | undefined {
  try {
    const found = execFileSync("sh", ["-c", `command -v ${name}`], { encoding: "utf8", env: { ...process.env, PATH: searchPath } }).trim();
    return found || undefined;
  } catch {
    return undefined;
  }
}

function versionOf(executable: string, searchPath: string): string | undefined {
  try {
    const out = execFileSync(executable, ["--version"], {
      encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 30_000, env: { ...process.env, PATH: searchPath },
    });
    return out.trim().split("\n")[0] || undefined;
  } catch {
    return undefined;
  }
}
