// wrangler (and the vitest workers pool) turn `import m from "./x.wasm"` into a precompiled WebAssembly.Module
// (CompiledWasm rule): Workers forbid compiling wasm bytes at runtime.
declare module "*.wasm" {
  const module: WebAssembly.Module;
  export default module;
}
