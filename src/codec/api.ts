// The codec's public contract (implemented in src/codec/; this file only states the shape the engine uses).
// sourceReader(offset, length) reads the reference lazily by range (R2, remote S3 or the block cache).

export type SourceReader = (offset: number, length: number) => Promise<Uint8Array>;
export type Secondary = "lzma" | "djw" | "none";

export interface CodecOptions {
  /** Compression level 0..9 (xdelta3 -0..-9). */
  level?: number;
  secondary?: Secondary;
  /** Source window / source block cache in bytes (xdelta3 -B). */
  sourceWindow?: number;
  /** Input window in bytes (xdelta3 -W). */
  inputWindow?: number;
  /** Hard cap on the WASM linear memory for this job, bytes. */
  maxMemory?: number;
  /** Decode: refuse to produce more than this many bytes (decompression-bomb guard). */
  maxOutputSize?: number;
}

export interface SourceInfo {
  read: SourceReader;
  /** Total source size in bytes. */
  size: number;
}
