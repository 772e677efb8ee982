// docs/ARCHITECTURE.md is the map a newcomer reads first, so it must match the tree: every path it names
// exists, and every module under src/ is named in it (tests beside modules excepted).
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

const root = new URL("../../", import.meta.url).pathname;
const doc = readFileSync(`${root}docs/ARCHITECTURE.md`, "utf8");

/** The src/ folders; the document may name a module relative to src/ (`engine/store.ts`). */
const srcFolders = execFileSync("git", ["ls-files", "src"], { cwd: root, encoding: "utf8" })
  .split("\n").filter((f) => f.split("/").length > 2).map((f) => f.split("/")[1]);

/** Paths the document names in backticks, e.g. `src/engine/store.ts`, `engine/store.ts`, `wasm/build.sh`. */
function namedPaths(text: string): string[] {
  const found = new Set<string>();
  const tops = ["src", "test", "bench", "scripts", "wasm", "docs", ...new Set(srcFolders)].join("|");
  for (const match of text.matchAll(new RegExp(`\`((?:${tops})\\/[\\w./*-]+?)\``, "g"))) {
    const path = match[1];
    found.add(srcFolders.includes(path.split("/")[0]) ? `src/${path}` : path);
  }
  return [...found];
}

/** Module files under src/, as git tracks them (tests and type declarations left out). */
function sourceModules(): string[] {
  const files = execFileSync("git", ["ls-files", "src"], { cwd: root, encoding: "utf8" }).split("\n");
  return files.filter((f) => f.endsWith(".ts") && !f.endsWith(".test.ts") && !f.endsWith(".d.ts"));
}

/** A module counts as named when its path, from the repository root or from src/, appears in backticks. */
function isNamed(file: string): boolean {
  return named.has(file);
}
const named = new Set(namedPaths(doc));

describe("docs/ARCHITECTURE.md", () => {
  it("names only paths that exist", () => {
    const missing = namedPaths(doc).filter((path) => !existsSync(`${root}${path.replace(/\/?\*.*$/, "")}`));
    expect(missing).toEqual([]);
  });

  it("names every module under src/", () => {
    expect(sourceModules().filter((file) => !isNamed(file))).toEqual([]);
  });
});
