// The shipped deflaters' WebAssembly modules inside the Worker, by deflater id: wrangler compiles
// wasm/zlib-chromium.wasm and wasm/zlib.wasm at deploy time (Workers forbid compiling wasm bytes at runtime).
// Outside the Worker, src/deflate/node.ts loads the same files.
import zlibChromiumWasm from "../../wasm/zlib-chromium.wasm";
import zlibWasm from "../../wasm/zlib.wasm";
import { ZLIB_CHROMIUM_ID, ZLIB_VANILLA_ID } from "./wasm-deflater";

export const deflaterModules: Readonly<Record<string, WebAssembly.Module>> = {
  [ZLIB_CHROMIUM_ID]: zlibChromiumWasm,
  [ZLIB_VANILLA_ID]: zlibWasm,
};
