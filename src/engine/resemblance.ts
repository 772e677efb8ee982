// A cheap estimate of how well one object would delta against another, for choosing a deltaspace's reference
// without encoding every pair: each object is cut into content-defined chunks (a gear rolling hash picks the
// cut points, so an insertion shifts only the chunks around it) and kept as a set of chunk fingerprints; the
// bytes of an object's chunks that a candidate reference does not hold are what its delta must carry
// (before xdelta3's secondary compression, so an upper bound in practice). One pass over each object; the
// comparison is over fingerprints only.

/** Cut points average 4 KiB (mask of 12 bits), never under 1 KiB nor over 32 KiB. */
const CUT_MASK = 0xfff;
const MIN_CHUNK = 1024;
const MAX_CHUNK = 32 * 1024;

/** Per-byte values of the gear hash: fixed pseudo-random words (xorshift32 from a constant seed). */
const GEAR = (() => {
  const table = new Uint32Array(256);
  let x = 0x9e3779b9;
  for (let i = 0; i < 256; i++) {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    table[i] = x;
  }
  return table;
})();

/** An object as chunk fingerprints → chunk length. `sample` keeps 1 in `sample` fingerprints (the same ones in every object). */
export class ChunkPrint {
  readonly chunks = new Map<number, number>();
  size = 0;
  private gear = 0;
  private print = 0x811c9dc5;
  private length = 0;

  constructor(readonly sample = 1) {}

  update(bytes: Uint8Array): void {
    let { gear, print, length } = this;
    for (let i = 0; i < bytes.length; i++) {
      const b = bytes[i];
      gear = ((gear << 1) + GEAR[b]) >>> 0;
      print = Math.imul(print ^ b, 0x01000193);
      length++;
      if ((length >= MIN_CHUNK && (gear & CUT_MASK) === 0) || length >= MAX_CHUNK) {
        this.keep(print >>> 0, length);
        gear = 0;
        print = 0x811c9dc5;
        length = 0;
      }
    }
    this.gear = gear;
    this.print = print;
    this.length = length;
    this.size += bytes.length;
  }

  finish(): this {
    if (this.length > 0) this.keep(this.print >>> 0, this.length);
    this.length = 0;
    return this;
  }

  /** Estimated bytes of this object that `reference` does not hold (scaled back up when sampled). */
  novelBytes(reference: ChunkPrint): number {
    let novel = 0;
    for (const [print, length] of this.chunks) if (!reference.chunks.has(print)) novel += length;
    return Math.min(this.size, novel * this.sample);
  }

  private keep(print: number, length: number): void {
    if (print % this.sample === 0) this.chunks.set(print, length);
  }
}

/** One fingerprint in `sample` is kept so that an object of `largest` bytes keeps about 2,048 of them at most. */
export function sampleRateFor(largest: number): number {
  return Math.max(1, Math.ceil(largest / (2048 * 4096)));
}
