// `npm run typecheck` checks every TypeScript file in the repository: each .ts file in git is compiled by
// tsconfig.json (code that runs in workerd) or by tsconfig.node.json (code that runs in Node), so none can
// fall between the two configs and go unchecked.
import { execFileSync } from "node:child_process";
import { relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "../..");
const CONFIGS = ["tsconfig.json", "tsconfig.node.json"];

function run(command: string, args: string[]): string[] {
  const out = execFileSync(command, args, { cwd: ROOT, encoding: "utf8", maxBuffer: 1 << 26 });
  return out.split("\n").map((line) => line.trim()).filter(Boolean);
}

/** The repository's own files a config compiles (its includes and everything they import). */
function compiledBy(config: string): string[] {
  const files = run(resolve(ROOT, "node_modules/.bin/tsc"), ["-p", config, "--listFilesOnly"]);
  return files.map((file) => relative(ROOT, file)).filter((file) => !file.startsWith("node_modules/"));
}

describe("npm run typecheck", () => {
  it("compiles every .ts file in git with one of the two tsconfigs", () => {
    const compiled = new Set(CONFIGS.flatMap(compiledBy));
    const tracked = run("git", ["ls-files", "*.ts", "*.mts", "*.cts"]);
    expect(tracked.length).toBeGreaterThan(100);
    expect(tracked.filter((file) => !compiled.has(file))).toEqual([]);
  }, 60_000);
});
