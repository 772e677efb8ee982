// The shipped deflaters' WebAssembly modules inside the Worker, by deflater id: wrangler compiles
// wasm/zlib-chromium.wasm and wasm/zlib.wasm at deploy time (Workers forbid compiling wasm bytes at runtime).
// Outside the Worker, src/deflate/node.ts loads the same files. workerRecompressor() is what the Worker should
// build once per isolate: these modules, with the runtime's node:zlib as the fast path for the Chromium id.
import zlibChromiumWasm from "../../wasm/zlib-chromium.wasm";
import zlibWasm from "../../wasm/zlib.wasm";
import { nodeZlibDeflater } from "./node-zlib";
import { Recompressor, type RecompressorOptions } from "./recompress";
import { ZLIB_CHROMIUM_ID, ZLIB_VANILLA_ID } from "./wasm-deflater";

export const deflaterModules: Readonly<Record<string, WebAssembly.Module>> = {
  [ZLIB_CHROMIUM_ID]: zlibChromiumWasm,
  [ZLIB_VANILLA_ID]: zlibWasm,
};

/** The Worker's recompressor: shipped deflaters, node:zlib standing in for the Chromium zlib while it matches. */
export function workerRecompressor(options?: RecompressorOptions): Recompressor {
  return new Recompressor(deflaterModules, { [ZLIB_CHROMIUM_ID]: nodeZlibDeflater() }, options);
}
