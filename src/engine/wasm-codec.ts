// The engine's codec port bound to the xdelta3 WebAssembly module (src/codec).
import { decode, encode, isolateCodecBudget } from "../codec/index";
import type { DeltaCodec } from "./context";

export function wasmCodec(module: WebAssembly.Module): DeltaCodec {
  return {
    encode: (source, target, options) => encode(module, source, target, options),
    decode: (source, delta, options) => decode(module, source, delta, options),
    busy: () => isolateCodecBudget.reservedBytes > 0,
    contended: () => isolateCodecBudget.waiting > 0,
  };
}
