// Typed codec failures. Every failure of encode()/decode() errors the returned stream with a CodecError.

export type CodecErrorKind =
  /** The delta is not valid VCDIFF / xdelta3 data (bad magic, bad instruction, secondary-compressor garbage). */
  | "corrupt"
  /** The delta ended before its last window was complete (or was empty). */
  | "truncated"
  /** A window's Adler-32 did not match the rebuilt bytes: corrupt delta or a different source of the same size. */
  | "checksum"
  /** The delta needs source bytes the given source does not have (no source, or source too short/wrong size). */
  | "wrong-source"
  /** The job needs more WASM memory than its cap, or the isolate's codec budget cannot ever fit it. */
  | "memory"
  /** Decoding would produce more than options.maxOutputSize bytes (decompression-bomb guard). */
  | "output-limit"
  /** The delta's app header records gzip/bzip2/compress external compression (xdelta3 without -D): refused,
   *  because decoding it byte-exactly is impossible (the xdelta3 CLI re-compresses into different bytes). */
  | "external-compression"
  /** A ranged decode (targetRange) reached a window that carries no Adler-32 (xdelta3 -n), so the bytes it
   *  would hand out could not be verified; nothing was output. Decode the whole object and check its hash. */
  | "unverifiable"
  /** Anything else: invalid options, a failed source read, a library error while encoding. */
  | "internal";

export class CodecError extends Error {
  readonly kind: CodecErrorKind;

  constructor(kind: CodecErrorKind, message: string, options?: { cause?: unknown }) {
    super(`xdelta3 ${kind}: ${message}`, options);
    this.name = "CodecError";
    this.kind = kind;
  }
}

export function isCodecError(e: unknown): e is CodecError {
  return e instanceof CodecError;
}
