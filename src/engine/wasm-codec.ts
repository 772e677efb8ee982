// The engine's codec port bound to an xdelta3 WebAssembly module (src/codec). The Worker's binding is made once,
// in the composition root (src/wiring.ts).
import { decode, encode, isolateCodecBudget } from "../codec/index";
import type { DeltaCodec } from "./context";

export function wasmCodec(module: WebAssembly.Module): DeltaCodec {
  return {
    encode: (source, target, options) => encode(module, source, target, options),
    decode: (source, delta, options) => decode(module, source, delta, options),
    busy: () => isolateCodecBudget.reservedBytes > 0,
  };
}
