// The committed deflater modules (wasm/zlib-chromium.wasm, wasm/zlib.wasm) are exactly what
// wasm/build-deflaters.sh produces from its SHA-256-pinned Debian sources (deterministic build), and their
// recorded SHA-256s are right: a recipe naming a deflater id must recompress to the same bytes for years.
// Rebuilding needs Debian's clang-14, wasm-ld-14 and wasm-opt (.ci/run installs them) and the Debian archive.
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { scratchDir } from "./codec-helpers";

const root = new URL("../../", import.meta.url).pathname;
const MODULES = ["zlib-chromium", "zlib"];
const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
const missing = ["clang-14", "wasm-ld-14", "wasm-opt"].filter((t) => spawnSync("which", [t]).status !== 0);
if (missing.length) console.warn(`deflate-build: ${missing.join(", ")} not installed: skipping the rebuild check`);

describe.each(MODULES)("wasm/%s.wasm", (name) => {
  const committed = readFileSync(`${root}wasm/${name}.wasm`);

  it("matches its committed SHA-256 file", () => {
    const recorded = readFileSync(`${root}wasm/${name}.wasm.sha256`, "utf8").split(/\s+/)[0];
    expect(sha(committed)).toBe(recorded);
  });

  it("imports nothing (it owns its memory) and exports the glue's entry points", () => {
    const module = new WebAssembly.Module(committed);
    expect(WebAssembly.Module.imports(module)).toEqual([]);
    expect(WebAssembly.Module.exports(module).map((e) => e.name).sort()).toEqual(
      ["dg_in_cap", "dg_in_ptr", "dg_input", "dg_new", "dg_out_len", "dg_out_ptr", "dg_step", "dg_total_in", "memory"]);
  });
});

describe("wasm/build-deflaters.sh", () => {
  it.skipIf(missing.length > 0)("rebuilds both modules byte-identical to the committed ones", () => {
    const tmp = scratchDir();
    try {
      execFileSync("bash", [`${root}wasm/build-deflaters.sh`], { env: { ...process.env, OUT_DIR: tmp.dir }, stdio: "pipe" });
      for (const name of MODULES) {
        expect(sha(readFileSync(`${tmp.dir}/${name}.wasm`)), name).toBe(sha(readFileSync(`${root}wasm/${name}.wasm`)));
      }
    } finally {
      tmp.cleanup();
    }
  }, 300_000);
});
