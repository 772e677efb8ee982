// rclone and s3cmd (Debian packages, installed by .ci/run) as the e2e tests drive them: one small interface per
// tool (upload single-part or multipart, list, download, server-side copy, delete) against a local Worker with
// the dev key, configured only from the test (no user config files are read). A tool that is not installed
// gives a skip reason instead.
import { execFile, execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { DEV_CREDENTIALS, REGION } from "./wrangler-dev";

const run = promisify(execFile);

export interface ListedObject {
  key: string;
  size: number;
}

export interface S3Tool {
  name: string;
  /** First line of `--version`. */
  version: string;
  /** Upload a local file; `multipart` forces a multipart upload with 5 MiB parts (the file must be > 8 MiB). */
  upload(file: string, key: string, options: { multipart: boolean }): Promise<void>;
  list(prefix: string): Promise<ListedObject[]>;
  download(key: string, file: string): Promise<void>;
  copy(sourceKey: string, key: string): Promise<void>;
  remove(key: string): Promise<void>;
}

/** A tool bound to `endpoint` (bucket `default`), or why it cannot run. */
export type ToolFactory = (endpoint: string, work: string) => S3Tool;

function versionOf(command: string, args: string[]): string | undefined {
  try {
    return execFileSync(command, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 30_000 }).trim().split("\n")[0];
  } catch {
    return undefined;
  }
}

/** This process's environment without AWS_* settings (AWS_CA_BUNDLE, profiles…), which the tools would honour. */
function toolEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) if (!name.startsWith("AWS_")) env[name] = value;
  return { ...env, ...extra };
}

async function runTool(command: string, args: string[], env: NodeJS.ProcessEnv = toolEnv()): Promise<string> {
  try {
    const { stdout } = await run(command, args, { env, maxBuffer: 16 * 1024 * 1024, timeout: 300_000 });
    return stdout;
  } catch (error) {
    const failed = error as Error & { stdout?: string; stderr?: string };
    throw new Error(`${command} ${args.join(" ")} failed: ${failed.message}\n${failed.stdout ?? ""}\n${failed.stderr ?? ""}`);
  }
}

const RCLONE_VERSION = versionOf("rclone", ["version"]);
export const RCLONE_SKIP_REASON = RCLONE_VERSION ? "" : "rclone not installed (.ci/run installs Debian's rclone)";

/** rclone with an `s3` remote named `dg` defined in environment variables (RCLONE_CONFIG_DG_*). */
export const rclone: ToolFactory = (endpoint) => {
  const env = toolEnv({
    RCLONE_CONFIG: "/dev/null",
    RCLONE_CONFIG_DG_TYPE: "s3",
    RCLONE_CONFIG_DG_PROVIDER: "Other",
    RCLONE_CONFIG_DG_ENDPOINT: endpoint,
    RCLONE_CONFIG_DG_REGION: REGION,
    RCLONE_CONFIG_DG_ACCESS_KEY_ID: DEV_CREDENTIALS.accessKeyId,
    RCLONE_CONFIG_DG_SECRET_ACCESS_KEY: DEV_CREDENTIALS.secretAccessKey,
    RCLONE_CONFIG_DG_FORCE_PATH_STYLE: "true",
  });
  const remote = (key: string) => `dg:default/${key}`;
  // --retries 1: a failed copy fails the test instead of being run again. --timeout: rclone's idle timeout (5 min by
  // default) stays well above the slowest answer seen on a loaded 2-core machine (a 12 MB seeding PUT on the
  // remote-S3 backend, ~45 s), so a stuck request fails in 2 minutes instead of eating the tool's whole 5.
  // (A HEAD after a large PUT once waited 5 minutes here: wrangler dev's proxy had parked it; npm start's front
  // now makes the proxy send it on, see scripts/continue-front.mjs.)
  const rc = (...args: string[]) => runTool("rclone", [...args, "--retries", "1", "--timeout", "120s"], env);
  return {
    name: "rclone",
    version: RCLONE_VERSION!,
    upload: async (file, key, { multipart }) => {
      // The reproduction: a 12 MB file with an 8 MiB cutoff goes up in 5 MiB parts.
      const cutoff = multipart ? ["--s3-upload-cutoff", "8M", "--s3-chunk-size", "5M"] : ["--s3-upload-cutoff", "5G"];
      await rc("copyto", file, remote(key), ...cutoff);
    },
    list: async (prefix) => {
      const entries = JSON.parse(await rc("lsjson", "--recursive", "--files-only", remote(prefix))) as { Path: string; Size: number }[];
      return entries.map((entry) => ({ key: prefix + entry.Path, size: entry.Size }));
    },
    download: async (key, file) => {
      await rc("copyto", remote(key), file);
    },
    copy: async (sourceKey, key) => {
      await rc("copyto", remote(sourceKey), remote(key));
    },
    remove: async (key) => {
      await rc("deletefile", remote(key));
    },
  };
};

const S3CMD_VERSION = versionOf("s3cmd", ["--version"]);
export const S3CMD_SKIP_REASON = S3CMD_VERSION ? "" : "s3cmd not installed (.ci/run installs Debian's s3cmd)";

/** s3cmd with its own config file (path-style addressing, SigV4, plain HTTP). */
export const s3cmd: ToolFactory = (endpoint, work) => {
  const config = join(work, "s3cmd.cfg");
  const hostPort = new URL(endpoint).host;
  writeFileSync(config, [
    "[default]",
    `access_key = ${DEV_CREDENTIALS.accessKeyId}`,
    `secret_key = ${DEV_CREDENTIALS.secretAccessKey}`,
    `host_base = ${hostPort}`,
    `host_bucket = ${hostPort}`,
    `bucket_location = ${REGION}`,
    "use_https = False",
    "signature_v2 = False",
    "",
  ].join("\n"));
  const cmd = (...args: string[]) => runTool("s3cmd", ["-c", config, "--no-progress", ...args]);
  const url = (key: string) => `s3://default/${key}`;
  return {
    name: "s3cmd",
    version: S3CMD_VERSION!,
    upload: async (file, key, { multipart }) => {
      await cmd("put", ...(multipart ? ["--multipart-chunk-size-mb=5"] : ["--disable-multipart"]), file, url(key));
    },
    list: async (prefix) => {
      // Lines: "2026-01-01 10:00  12582912  s3://default/prefix/key"
      const lines = (await cmd("ls", "--recursive", url(prefix))).trim().split("\n").filter(Boolean);
      return lines.map((line) => {
        const [, , size, address] = line.trim().split(/\s+/);
        return { key: address.slice("s3://default/".length), size: Number(size) };
      });
    },
    download: async (key, file) => {
      await cmd("get", "--force", url(key), file);
    },
    copy: async (sourceKey, key) => {
      // --acl-private: without it s3cmd copies the source's ACL afterwards (GET ?acl, then PUT ?acl, which we
      // answer 501 NotImplemented), and the next request to the new key then hangs in wrangler dev (open issue).
      await cmd("cp", "--acl-private", url(sourceKey), url(key));
    },
    remove: async (key) => {
      await cmd("del", url(key));
    },
  };
};
