// The contract for exact recompression (issue #18): a Deflater makes raw deflate bytes (RFC 1951, no zlib or
// gzip wrapper) from inflated content, and a DeflateRecipe names the deflater and parameters that turned an
// uploaded stream's content back into exactly the uploaded bytes. A recipe is stored with the object and used
// on every GET for years, so it names an implementation the project ships and pins (not "whatever zlib the
// runtime has today"); docs/STORAGE_FORMAT.md lists the ids.

/** zlib's deflateInit2 parameters (as node:zlib and every zlib port take them). */
export interface DeflateParams {
  /** 0..9 */
  level: number;
  /** 1..9 */
  memLevel: number;
  /** 8..15: the raw window size, log2 */
  windowBits: number;
  /** Z_DEFAULT_STRATEGY 0, Z_FILTERED 1, Z_HUFFMAN_ONLY 2, Z_RLE 3, Z_FIXED 4 */
  strategy: number;
}

/** How one deflate stream was made: enough to make exactly the same bytes again. */
export interface DeflateRecipe extends DeflateParams {
  /** A Deflater.id, e.g. "zlib-chromium-1.3.1" or "zlib-1.2.13". */
  deflater: string;
}

export interface Deflater {
  /** Stable name stored in recipes; a new version of an implementation gets a new id, never the same one. */
  readonly id: string;
  /** Raw deflate of the written content with these parameters, in bounded memory (streamed in and out). */
  deflateRaw(params: DeflateParams): TransformStream<Uint8Array, Uint8Array>;
}
