// The deflaters the project ships and pins (issue #18): zlib compiled to WebAssembly by wasm/build-deflaters.sh
// from SHA-256-pinned Debian source tarballs, driven through wasm/deflate-glue.c. A recipe that names one of these
// ids can be recompressed to the same bytes for as long as the committed .wasm file is kept (docs/STORAGE_FORMAT.md
// "Deflaters" lists what each id pins).
//
// One stream = one fresh WebAssembly instance; its memory is the module's own (declared maximum 2 MiB: zlib's
// state for level 9 / memLevel 9 / windowBits 15 is ~0.6 MiB with the 64 KiB input and output buffers). Peak
// memory of a streaming deflate is that instance plus one 64 KiB output slice copied out per step.

import type { DeflateParams, Deflater } from "./api";

/** Node's bundled zlib: the Chromium fork, from deps/zlib of Debian's nodejs_18.20.4+dfsg.orig.tar.xz. */
export const ZLIB_CHROMIUM_ID = "zlib-chromium-1.3.0.1-motley";
/** Vanilla zlib 1.3.1, from Debian's zlib_1.3.dfsg+really1.3.1.orig.tar.gz. */
export const ZLIB_VANILLA_ID = "zlib-1.3.1";

// wasm/deflate-glue.c
const DG_NEED_INPUT = 1;
const DG_DONE = 2;
const Z_OK = 0;

interface GlueExports {
  memory: WebAssembly.Memory;
  dg_new(level: number, memLevel: number, windowBits: number, strategy: number): number;
  dg_in_ptr(): number;
  dg_out_ptr(): number;
  dg_in_cap(): number;
  dg_input(len: number): number;
  dg_step(finish: number): number;
  dg_out_len(): number;
}

export class DeflateParamsError extends Error {}

/** Refuses parameters zlib would refuse (or silently change: raw windowBits 8 becomes 9). */
export function checkParams(p: DeflateParams): void {
  const ok = Number.isInteger(p.level) && p.level >= 0 && p.level <= 9 &&
    Number.isInteger(p.memLevel) && p.memLevel >= 1 && p.memLevel <= 9 &&
    Number.isInteger(p.windowBits) && p.windowBits >= 9 && p.windowBits <= 15 &&
    Number.isInteger(p.strategy) && p.strategy >= 0 && p.strategy <= 4;
  if (!ok) throw new DeflateParamsError(`unsupported deflate parameters ${JSON.stringify(p)}`);
}

/**
 * A synchronous raw-deflate stream in its own instance: push() content, finish() at the end; each call hands
 * every output slice to `emit` (a copy, so it stays valid). Used directly by the recipe search (no stream
 * machinery per candidate) and wrapped in a TransformStream by wasmDeflater().
 */
export class WasmDeflate {
  private readonly glue: GlueExports;
  private readonly inCap: number;
  private done = false;

  constructor(module: WebAssembly.Module, params: DeflateParams) {
    checkParams(params);
    this.glue = new WebAssembly.Instance(module, {}).exports as unknown as GlueExports;
    const rc = this.glue.dg_new(params.level, params.memLevel, params.windowBits, params.strategy);
    if (rc !== Z_OK) throw new DeflateParamsError(`deflateInit2 failed (${rc}) for ${JSON.stringify(params)}`);
    this.inCap = this.glue.dg_in_cap();
  }

  /** Bytes of wasm memory this stream holds (its instance's whole linear memory). */
  get memoryBytes(): number {
    return this.glue.memory.buffer.byteLength;
  }

  push(content: Uint8Array, emit: (out: Uint8Array) => void): void {
    if (this.done) throw new Error("deflate stream already finished");
    for (let off = 0; off < content.length; off += this.inCap) {
      const piece = content.subarray(off, Math.min(off + this.inCap, content.length));
      new Uint8Array(this.glue.memory.buffer, this.glue.dg_in_ptr(), piece.length).set(piece);
      this.check(this.glue.dg_input(piece.length));
      for (;;) {
        const rc = this.step(0, emit);
        if (rc === DG_NEED_INPUT) break;
      }
    }
  }

  finish(emit: (out: Uint8Array) => void): void {
    if (this.done) return;
    while (this.step(1, emit) !== DG_DONE) { /* emit until the final block is out */ }
    this.done = true;
  }

  private step(finish: number, emit: (out: Uint8Array) => void): number {
    const rc = this.glue.dg_step(finish);
    if (rc < 0) this.check(rc);
    const len = this.glue.dg_out_len();
    if (len > 0) emit(new Uint8Array(this.glue.memory.buffer, this.glue.dg_out_ptr(), len).slice());
    return rc;
  }

  private check(rc: number): void {
    // Z_MEM_ERROR (-4) cannot happen within the module's 2 MiB for valid parameters; anything negative is a bug.
    if (rc < 0) throw new Error(`zlib deflate failed with code ${rc}`);
  }
}

/** A Deflater backed by one of the shipped wasm modules. */
export function wasmDeflater(id: string, module: WebAssembly.Module): Deflater {
  return {
    id,
    deflateRaw(params: DeflateParams): TransformStream<Uint8Array, Uint8Array> {
      let stream: WasmDeflate | undefined;
      return new TransformStream<Uint8Array, Uint8Array>({
        // Instantiated on start, so bad parameters fail the stream before any content is read.
        start() {
          stream = new WasmDeflate(module, params);
        },
        transform(chunk, controller) {
          stream!.push(chunk, (out) => controller.enqueue(out));
        },
        flush(controller) {
          stream!.finish((out) => controller.enqueue(out));
        },
      });
    },
  };
}

/** One-shot raw deflate of a whole buffer (tests, the recipe search's exact check of short streams). */
export function deflateWhole(module: WebAssembly.Module, params: DeflateParams, content: Uint8Array): Uint8Array {
  const parts: Uint8Array[] = [];
  const stream = new WasmDeflate(module, params);
  stream.push(content, (o) => parts.push(o));
  stream.finish((o) => parts.push(o));
  return concat(parts);
}

export function concat(parts: Uint8Array[]): Uint8Array {
  let size = 0;
  for (const p of parts) size += p.length;
  const out = new Uint8Array(size);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}
