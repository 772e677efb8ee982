// Loads the shipped deflaters' WebAssembly modules outside the Worker (Node: benchmarks, Node tests), by
// deflater id, from the same files src/deflate/modules.ts imports in the Worker. Never imported by Worker code;
// node:fs is imported dynamically so this file typechecks without Node types.
import { ZLIB_CHROMIUM_ID, ZLIB_VANILLA_ID } from "./wasm-deflater";

const FILES: Readonly<Record<string, string>> = {
  [ZLIB_CHROMIUM_ID]: "zlib-chromium.wasm",
  [ZLIB_VANILLA_ID]: "zlib.wasm",
};

let cached: Promise<Record<string, WebAssembly.Module>> | undefined;

export function loadDeflaterModules(): Promise<Record<string, WebAssembly.Module>> {
  cached ??= compileAll();
  return cached;
}

async function compileAll(): Promise<Record<string, WebAssembly.Module>> {
  const fsModule = "node:fs/promises";
  const { readFile } = (await import(/* @vite-ignore */ fsModule)) as { readFile(u: URL): Promise<Uint8Array> };
  // Workers' types leave out WebAssembly.compile (forbidden there); Node has it.
  const wasm = WebAssembly as unknown as { compile(bytes: Uint8Array): Promise<WebAssembly.Module> };
  const out: Record<string, WebAssembly.Module> = {};
  for (const [id, file] of Object.entries(FILES)) {
    out[id] = await wasm.compile(await readFile(new URL(`../../wasm/${file}`, import.meta.url)));
  }
  return out;
}
