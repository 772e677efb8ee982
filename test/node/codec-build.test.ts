// The committed wasm/xdelta3.wasm is exactly what wasm/build.sh produces (deterministic build), and its
// recorded SHA-256 is right. Rebuilding needs Debian's clang-14, wasm-ld-14 and wasm-opt (.ci/run installs them).
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { scratchDir } from "./codec-helpers";

const root = new URL("../../", import.meta.url).pathname;
const committed = readFileSync(`${root}wasm/xdelta3.wasm`);
const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
const missing = ["clang-14", "wasm-ld-14", "wasm-opt"].filter((t) => spawnSync("which", [t]).status !== 0);
if (missing.length) console.warn(`codec-build: ${missing.join(", ")} not installed: skipping the rebuild check`);

describe("wasm/xdelta3.wasm", () => {
  it("matches its committed SHA-256 file", () => {
    const recorded = readFileSync(`${root}wasm/xdelta3.wasm.sha256`, "utf8").split(/\s+/)[0];
    expect(sha(committed)).toBe(recorded);
  });

  it("imports nothing but its memory (which each job creates with its own cap)", () => {
    const imports = WebAssembly.Module.imports(new WebAssembly.Module(committed));
    expect(imports).toEqual([{ module: "env", name: "memory", kind: "memory" }]);
  });

  it.skipIf(missing.length > 0)("is byte-identical to a fresh build by wasm/build.sh", () => {
    const tmp = scratchDir();
    try {
      const out = tmp.file("xdelta3.wasm");
      execFileSync("bash", [`${root}wasm/build.sh`], { env: { ...process.env, OUT: out }, stdio: "pipe" });
      expect(sha(readFileSync(out))).toBe(sha(committed));
    } finally {
      tmp.cleanup();
    }
  }, 300_000);
});
