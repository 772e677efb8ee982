// The codec's WebAssembly module inside the Worker: wrangler compiles wasm/xdelta3.wasm at deploy time and hands
// us a WebAssembly.Module (Workers forbid compiling wasm bytes at runtime). Pass it to encode()/decode().
import xdelta3Wasm from "../../wasm/xdelta3.wasm";

export const xdelta3Module: WebAssembly.Module = xdelta3Wasm;
