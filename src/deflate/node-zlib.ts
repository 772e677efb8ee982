// The runtime's own zlib as a fast path for the shipped Chromium zlib (issue #18): `node:zlib` (compatibility
// flag nodejs_compat) is workerd's native zlib, which today makes the same bytes as Node's bundled zlib and as
// wasm/zlib-chromium.wasm, at native speed. It is never named in a recipe: a workerd update may change its
// zlib, so Recompressor (recompress.ts) uses it only after it reproduced the shipped deflater's bytes, and
// falls back to the shipped wasm when it does not.

import { createDeflateRaw } from "node:zlib";
import type { DeflateParams, Deflater } from "./api";
import { releaseWhenClosed } from "./runtime-zlib";
import { checkParams, ZLIB_CHROMIUM_ID } from "./wasm-deflater";

/** node:zlib's raw deflate, standing in for the deflater `standsInFor` (by default the Chromium zlib id). */
export function nodeZlibDeflater(standsInFor: string = ZLIB_CHROMIUM_ID): Deflater {
  return { id: standsInFor, deflateRaw: nodeDeflateRaw };
}

function nodeDeflateRaw(params: DeflateParams): TransformStream<Uint8Array, Uint8Array> {
  checkParams(params);
  const z = createDeflateRaw({
    level: params.level, memLevel: params.memLevel, windowBits: params.windowBits, strategy: params.strategy,
  });
  releaseWhenClosed(z);
  let failure: unknown;
  let ended: Promise<void> | undefined;
  return new TransformStream<Uint8Array, Uint8Array>({
    start(controller) {
      // node:zlib hands out Buffers that may view a shared pool: each piece is copied into its own array.
      z.on("data", (b: Uint8Array) => controller.enqueue(new Uint8Array(b)));
      ended = new Promise<void>((resolve, reject) => {
        z.on("end", () => resolve());
        z.on("error", (e: unknown) => {
          failure = e;
          reject(e);
        });
      });
      ended.catch(() => { /* surfaced by transform/flush */ });
    },
    transform(chunk) {
      if (failure) throw failure;
      // Back-pressure: wait until zlib took the chunk (its 'data' events carry the output).
      return new Promise<void>((resolve, reject) => z.write(chunk, (e?: Error | null) => (e ? reject(e) : resolve())));
    },
    async flush() {
      z.end();
      await ended;
    },
  });
}
