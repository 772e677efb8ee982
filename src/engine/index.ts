// The engine's public surface for the protocol layer.
//
//   import { createEngine } from "./engine";
//   const engine = createEngine(new R2Backend(env.BUCKET, "BUCKET"), config.engine, { referenceCache });
//
// createEngine binds the compiled xdelta3 module (src/codec/module.ts). DeltaEngine can also be built with
// another DeltaCodec or WebAssembly.Module (tests, Node tools).
import { xdelta3Module } from "../codec/module";
import type { Backend } from "../storage/backend";
import type { EngineConfig } from "./config";
import type { EngineOptions } from "./context";
import { DeltaEngine } from "./engine";

export { DeltaEngine } from "./engine";
export { DEFAULT_ENGINE_CONFIG, DEFAULT_DELTA_EXTENSIONS, resolveEngineConfig, type EngineConfig } from "./config";
export type { DeltaCodec, EngineOptions, ReferenceCache } from "./context";
export { wasmCodec } from "./wasm-codec";

export function createEngine(
  backend: Backend, config: EngineConfig | Partial<EngineConfig> = {}, options: EngineOptions = {},
): DeltaEngine {
  return new DeltaEngine(backend, config, xdelta3Module, options);
}
