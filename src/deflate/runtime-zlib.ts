// Inflate over the runtime's own zlib (workerd's `node:zlib`, compatibility flag nodejs_compat): a raw inflater
// that reports where its deflate stream ended (inflating is unambiguous, so no pinned inflater is needed), and
// the types the recipe search sees. Recipes name the shipped, pinned deflaters (pinned.ts); the runtime's zlib
// as a Deflater (`runtimeZlib`, id RUNTIME_ZLIB_ID) is kept only so objects an earlier build recorded with that
// id stay readable — no recipe names it any more.
//
// Why node:zlib and not DecompressionStream("deflate-raw"): a gzip member or zip entry is followed by more
// bytes (trailer, next header), and only zlib's own count of consumed input (`bytesWritten`) says where the
// deflate stream ended; DecompressionStream refuses trailing bytes instead.
import * as zlib from "node:zlib";
import type { DeflateParams, DeflateRecipe, Deflater } from "./api";

/** The id an earlier build's recipes carried for the runtime's zlib (read only; a changed zlib fails the rebuild's
 *  SHA-256 check, never serves other bytes). */
export const RUNTIME_ZLIB_ID = "workerd-node-zlib";

/** Input handed to the inflater at once: the output of one write is ≤ ~1032× this (deflate's best ratio). */
const INFLATE_PIECE = 4 * 1024;

export const runtimeZlib: Deflater = {
  id: RUNTIME_ZLIB_ID,
  deflateRaw: (params) => nodeTransform(zlib.createDeflateRaw(zlibOptions(params))),
};

function zlibOptions(params: DeflateParams): zlib.ZlibOptions {
  return { level: params.level, memLevel: params.memLevel, windowBits: params.windowBits, strategy: params.strategy };
}

/** What the recipe search sees of one deflate stream: its inflated content's start, and its compressed bytes' start. */
export interface StreamSample {
  /** The first bytes of the inflated content (all of it when `whole`). */
  content: Uint8Array;
  /** The first bytes of the original compressed stream (all of it when `whole`). */
  compressed: Uint8Array;
  /** Both are complete: a match is then a byte-exact reproduction of the whole stream. */
  whole: boolean;
}

export interface RecipeGuess {
  recipe: DeflateRecipe;
  /** The whole stream was recompressed and matched (else only its start did: verify before use). */
  verified: boolean;
}

/** What one push into the inflater gave. */
export interface InflateStep {
  output: Uint8Array[];
  /** The deflate stream ended inside this push. */
  ended: boolean;
  /** Bytes of this push after the stream's end (not part of it), when `ended`. */
  unused: number;
}

/**
 * A raw inflater fed piece by piece. It tells where its deflate stream ended (zlib's count of consumed input),
 * so the caller knows where the container's next bytes begin. Input is fed in INFLATE_PIECE slices, so one
 * step's output stays bounded (≤ ~4 MiB) even for a bomb; the caller caps the total.
 */
export class RawInflater {
  private readonly stream = zlib.createInflateRaw();
  private readonly output: Uint8Array[] = [];
  private fed = 0;
  private ended = false;
  private error: unknown;

  constructor() {
    releaseWhenClosed(this.stream);
    this.stream.on("data", (chunk: Uint8Array) => this.output.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength)));
    this.stream.on("end", () => { this.ended = true; });
    this.stream.on("error", (error: unknown) => { this.error = error; });
  }

  /** Feed up to INFLATE_PIECE bytes of `input` (call again with the rest while not ended). */
  async push(input: Uint8Array): Promise<InflateStep & { taken: number }> {
    const piece = input.subarray(0, INFLATE_PIECE);
    if (!this.ended) await settled(this.stream, (done) => this.stream.write(piece, () => done()));
    this.failIfBroken();
    this.fed += piece.byteLength;
    // zlib stops consuming input only at the stream's end; 'end' itself is emitted a tick later.
    if (this.stream.bytesWritten < this.fed) this.ended = true;
    const unused = this.ended ? this.fed - this.stream.bytesWritten : 0;
    return { output: this.output.splice(0), ended: this.ended, unused, taken: piece.byteLength };
  }

  /** No more input: the rest of the output when the stream was complete; an InflateError when it was cut short. */
  async finish(): Promise<Uint8Array[]> {
    if (!this.ended) {
      await settled(this.stream, (done) => {
        this.stream.once("end", done);
        this.stream.end();
      });
    }
    this.failIfBroken();
    if (!this.ended) throw new InflateError("deflate stream cut short");
    return this.output.splice(0);
  }

  close(): void {
    this.stream.destroy();
  }

  private failIfBroken(): void {
    if (this.error) throw new InflateError(`invalid deflate data: ${(this.error as Error).message ?? String(this.error)}`);
  }
}

export class InflateError extends Error {}

/** What a workerd node:zlib stream's native handle carries in JS (workerd's internal_zlib_base). */
type ZlibHandle = Record<PropertyKey, unknown>;

/**
 * Lets a closed node:zlib stream be collected. In workerd (1.20260426) a stream's native handle is never freed:
 * it stays reachable after close(), and it references its stream (an `owner` symbol) and its last input and
 * write callback (`buffer`, `cb`), so every stream ever made kept its 16 KiB output buffer and its last chunks:
 * ~17 KiB per stream, forever, measured (bench/compressed-memory.ts; a 90 MiB zip's PUT left 364 MB behind, one
 * inflater per entry and pass). Once the stream has closed, those three are replaced by inert stand-ins (a late
 * callback of the handle would still find a "destroyed" owner and a no-op callback, as after any destroy).
 */
export function releaseWhenClosed(stream: zlib.InflateRaw | zlib.DeflateRaw): void {
  const handle = (stream as unknown as { _handle?: ZlibHandle | null })._handle;
  if (handle && typeof handle === "object") stream.once("close", () => detach(handle, stream));
}

// Module-level, so nothing the handle keeps can reach a stream through a closure's context.
const CLOSED_OWNER = { destroyed: true, destroy() {}, _writeState: new Uint32Array(2) };
function ignoreLateCallback(): void {}

function detach(handle: ZlibHandle, stream: object): void {
  for (const key of Object.getOwnPropertySymbols(handle)) if (handle[key] === stream) handle[key] = CLOSED_OWNER;
  handle.buffer = null;
  handle.cb = ignoreLateCallback;
}

/** Runs `start` and resolves when it calls back or the stream errors (zlib then never calls the write back). */
function settled(stream: zlib.InflateRaw | zlib.DeflateRaw, start: (done: () => void) => void): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = () => {
      stream.off("error", done);
      resolve();
    };
    stream.once("error", done);
    start(done);
  });
}

/** A node:zlib transform as a web TransformStream (bounded: each write's output is forwarded before the next). */
function nodeTransform(stream: zlib.DeflateRaw): TransformStream<Uint8Array, Uint8Array> {
  releaseWhenClosed(stream);
  const pending: Uint8Array[] = [];
  let failure: unknown;
  stream.on("data", (chunk: Uint8Array) => pending.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength)));
  stream.on("error", (error: unknown) => { failure = error; });
  const drain = (controller: TransformStreamDefaultController<Uint8Array>) => {
    if (failure) throw failure;
    for (const chunk of pending.splice(0)) controller.enqueue(chunk);
  };
  return new TransformStream<Uint8Array, Uint8Array>({
    async transform(chunk, controller) {
      await settled(stream, (done) => stream.write(chunk, () => done()));
      drain(controller);
    },
    async flush(controller) {
      await settled(stream, (done) => {
        stream.once("end", done);
        stream.end();
      });
      drain(controller);
    },
  });
}
