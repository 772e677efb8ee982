// Default codec settings. They are chosen together so that one job stays under its WASM memory cap
// (measured numbers: docs/PERFORMANCE.md "Codec", budget: docs/ARCHITECTURE.md "Codec").

const MiB = 1024 * 1024;

/** Hard cap on one job's WASM linear memory. */
export const DEFAULT_MAX_MEMORY = 64 * MiB;
/** Sum of the caps of all codec jobs running at once in one isolate (the rest of 128 MB is for JS). */
export const ISOLATE_CODEC_BUDGET = 64 * MiB;

/** Encoder level (xdelta3 -N). */
export const DEFAULT_LEVEL = 6;
/** Secondary compressor: LZMA, as Debian's xdelta3 CLI (and so DeltaGlider) writes by default. */
export const DEFAULT_SECONDARY = "lzma" as const;
/** Encoder source window (-B). The decoder's default source cache is DEFAULT_DECODE_CACHE. */
export const DEFAULT_SOURCE_WINDOW = 16 * MiB;
/** Sources above DEFAULT_SOURCE_WINDOW and up to this size are encoded with the whole source in the window, at
 *  WHOLE_SOURCE_LEVEL (its smaller hash tables are what make the whole window fit DEFAULT_MAX_MEMORY: ≈ 61 MiB
 *  peak at 32 MiB, measured 2026-12-07, docs/PERFORMANCE.md "Codec"), unless the caller sets the level, the
 *  window or the memory cap. */
export const WHOLE_SOURCE_MAX = 32 * MiB;
export const WHOLE_SOURCE_LEVEL = 3;
/** Encoder input window (-W): the target length of each VCDIFF window. 512 KiB rather than 1 MiB: 5–7 MiB less
 *  WASM (target hash and window buffers), deltas within ±2.5 % (smaller on the npm binaries, larger on a tar whose
 *  delta is tiny), and twice as fine windows for ranged GETs; 256 KiB saves 1.3 MiB more but costs up to 6 % on
 *  small deltas (measured 2026-11-28, docs/PERFORMANCE.md "Codec"). */
export const DEFAULT_INPUT_WINDOW = 512 * 1024;
/** Decoder source cache. Deltas made with a larger -B still decode, but may re-read source blocks. */
export const DEFAULT_DECODE_CACHE = 32 * MiB;
/** Decoder cache block size when the source is larger than the cache. */
export const DEFAULT_DECODE_BLOCK = 256 * 1024;
/** Decode output cap when the caller gives none. */
export const DEFAULT_MAX_OUTPUT = Number.MAX_SAFE_INTEGER;

/** Size of the input chunks handed to the library and of the output slices handed to the consumer. */
export const IO_CHUNK = 1 * MiB;
/** Largest single source.read() the driver issues (a bigger source block is read in several ranges, so no
 *  more than this much source sits in JS memory at once). */
export const SOURCE_READ_CHUNK = 4 * MiB;
