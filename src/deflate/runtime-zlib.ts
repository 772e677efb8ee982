// Deflate and inflate over the runtime's own zlib (workerd's `node:zlib`, compatibility flag nodejs_compat):
// a stand-in Deflater behind the src/deflate/api.ts contract, a raw inflater that reports where its deflate
// stream ended, and a small recipe search. The shipped, pinned WASM deflaters replace the Deflater and the
// search (`findRecipe`, `deflaterFor` are the seam); the inflater can stay, since inflating is unambiguous.
//
// Why node:zlib and not DecompressionStream("deflate-raw"): a gzip member or zip entry is followed by more
// bytes (trailer, next header), and only zlib's own count of consumed input (`bytesWritten`) says where the
// deflate stream ended; DecompressionStream refuses trailing bytes instead.
import * as zlib from "node:zlib";
import type { DeflateParams, DeflateRecipe, Deflater } from "./api";

/** The id recipes made with this deflater carry. It names the runtime's zlib, which may change with a workerd
 *  update: every rebuild is checked against the object's SHA-256, so a changed zlib fails a GET, never serves
 *  other bytes (docs/STORAGE_FORMAT.md "Compressed artifacts"). */
export const RUNTIME_ZLIB_ID = "workerd-node-zlib";

/** Input handed to the inflater at once: the output of one write is ≤ ~1032× this (deflate's best ratio). */
const INFLATE_PIECE = 4 * 1024;

export const runtimeZlib: Deflater = {
  id: RUNTIME_ZLIB_ID,
  deflateRaw: (params) => nodeTransform(zlib.createDeflateRaw(zlibOptions(params))),
};

/** The deflater a recipe names, or null when this build does not have it (the object then cannot be rebuilt). */
export function deflaterFor(id: string): Deflater | null {
  return id === RUNTIME_ZLIB_ID ? runtimeZlib : null;
}

/** Raw deflate of a whole, small stream in one call (no stream machinery per zip entry). */
export function deflateRawWhole(params: DeflateParams, content: Uint8Array): Uint8Array {
  return new Uint8Array(zlib.deflateRawSync(content, zlibOptions(params)));
}

function zlibOptions(params: DeflateParams): zlib.ZlibOptions {
  return { level: params.level, memLevel: params.memLevel, windowBits: params.windowBits, strategy: params.strategy };
}

/**
 * Candidate parameters, most likely first: npm's tarballs (Node's zlib, level 9), Python's zipfile, Java's jar
 * tools and gzip-by-zlib (level 6, zlib's default), then the other levels. memLevel 8 and a 32 KiB window are
 * zlib's defaults for every caller we know of.
 */
const CANDIDATES: DeflateParams[] = [9, 6, 1, 2, 3, 4, 5, 7, 8].map((level) => ({ level, memLevel: 8, windowBits: 15, strategy: 0 }))
  .concat([9, 6].map((level) => ({ level, memLevel: 9, windowBits: 15, strategy: 0 })));

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

/**
 * THE SEAM: which deflater and parameters reproduce a stream. Tries `preferred` first (the previous entry's
 * recipe: one zip is usually made by one tool). On a sample of the start, a candidate must produce a prefix of
 * the original bytes (deflate's output for a prefix of its input is a prefix of its final output); a candidate
 * that has produced nothing yet is inconclusive and only kept if no other matches. null: nothing reproduces it.
 */
export function findRecipe(sample: StreamSample, preferred?: DeflateRecipe): RecipeGuess | null {
  const tried = preferred && preferred.deflater === RUNTIME_ZLIB_ID ? [preferred, ...CANDIDATES] : CANDIDATES;
  let inconclusive: DeflateParams | null = null;
  for (const params of tried) {
    const recipe = { deflater: RUNTIME_ZLIB_ID, ...pick(params) };
    if (sample.whole) {
      if (equalBytes(deflateRawWhole(params, sample.content), sample.compressed)) return { recipe, verified: true };
      continue;
    }
    const produced = new Uint8Array(zlib.deflateRawSync(sample.content, { ...zlibOptions(params), finishFlush: zlib.constants.Z_NO_FLUSH }));
    if (produced.byteLength === 0) inconclusive ??= params;
    else if (produced.byteLength <= sample.compressed.byteLength && equalBytes(produced, sample.compressed.subarray(0, produced.byteLength))) {
      return { recipe, verified: false };
    }
  }
  return inconclusive ? { recipe: { deflater: RUNTIME_ZLIB_ID, ...pick(inconclusive) }, verified: false } : null;
}

function pick(params: DeflateParams): DeflateParams {
  return { level: params.level, memLevel: params.memLevel, windowBits: params.windowBits, strategy: params.strategy };
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
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
