// A runtime zlib that went wrong after a runtime update, for the tests of the fast path's fallback: node:zlib
// with one output byte flipped at a given offset (past the probe, it passes the probe and is wrong later).
import type { DeflateParams, Deflater } from "../../../src/deflate/api";
import { nodeZlibDeflater } from "../../../src/deflate/node-zlib";

export function flipsByteAt(offset: number): Deflater & { calls: number } {
  const real = nodeZlibDeflater();
  const fake = {
    id: real.id,
    calls: 0,
    deflateRaw(params: DeflateParams): TransformStream<Uint8Array, Uint8Array> {
      fake.calls++;
      const inner = real.deflateRaw(params);
      let seen = 0;
      const flip = new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, controller) {
          if (offset >= seen && offset < seen + chunk.length) chunk[offset - seen] ^= 0x01;
          seen += chunk.length;
          controller.enqueue(chunk);
        },
      });
      return { writable: inner.writable, readable: inner.readable.pipeThrough(flip) };
    },
  };
  return fake;
}
