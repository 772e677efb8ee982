// Loads the codec's WebAssembly module outside the Worker (Node: the CLI, tests, benchmarks).
// Never imported by Worker code; node:fs is imported dynamically so this file typechecks without Node types.

export const XDELTA3_WASM_URL = new URL("../../wasm/xdelta3.wasm", import.meta.url);

let cached: Promise<WebAssembly.Module> | undefined;

/** Compiles wasm/xdelta3.wasm once per process (or the module at `url`). */
export function loadCodecModule(url: URL = XDELTA3_WASM_URL): Promise<WebAssembly.Module> {
  if (url.href !== XDELTA3_WASM_URL.href) return compileFrom(url);
  cached ??= compileFrom(url);
  return cached;
}

async function compileFrom(url: URL): Promise<WebAssembly.Module> {
  const fsModule = "node:fs/promises";
  const { readFile } = (await import(/* @vite-ignore */ fsModule)) as { readFile(u: URL): Promise<Uint8Array> };
  // Workers' types leave out WebAssembly.compile (forbidden there); Node has it.
  const wasm = WebAssembly as unknown as { compile(bytes: Uint8Array): Promise<WebAssembly.Module> };
  return wasm.compile(await readFile(url));
}
