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
  /** Decode: source cache block size in bytes when the source is larger than sourceWindow (power of two). */
  blockSize?: number;
  /** Encode: the target's size when known (e.g. Content-Length). Small targets then get a small input window
   *  and hash table instead of inputWindow-sized ones, as the xdelta3 CLI does for files. */
  targetSize?: number;
  /** Decode: output only target bytes [start, end] (inclusive, like an HTTP Range). Windows before the range
   *  are parsed but not executed (no source reads), decoding stops after the window holding `end`, and every
   *  window that is output is checked against its Adler-32 (a window without one fails with `unverifiable`
   *  before anything is output from it). The target's whole size and hash are not checked. */
  targetRange?: { start: number; end: number };
  /** Called once when the job has finished successfully. */
  onStats?: (stats: CodecStats) => void;
}

export interface CodecStats {
  mode: "encode" | "decode";
  /** Target bytes read (encode) or delta bytes read (decode). */
  bytesIn: number;
  /** Delta bytes written (encode) or target bytes written (decode). */
  bytesOut: number;
  /** Peak WASM linear memory of the job (it never shrinks, so this is its final size). */
  wasmMemoryPeakBytes: number;
  /** Range reads issued on the source and the bytes they returned. */
  sourceReads: number;
  sourceBytesRead: number;
  /** Ranged decode: windows before the range that were not executed, and windows decoded for the range. */
  windowsSkipped?: number;
  windowsDecoded?: number;
}

export interface SourceInfo {
  read: SourceReader;
  /** Total source size in bytes. */
  size: number;
  /**
   * Optional: reads source bytes [offset, offset + target.length) straight into `target` (a view of the codec's
   * WASM memory) and resolves with the number of bytes written. When given, the codec uses it instead of
   * `read`, which saves allocating and copying every source block once more. `target` is valid until the
   * promise settles; short only at the source's end.
   */
  readInto?: (offset: number, target: Uint8Array) => Promise<number>;
}
