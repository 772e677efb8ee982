// Which shipped deflater and parameters made a raw deflate stream (issue #18)? Tries candidates, most likely
// first, on a prefix of the inflated content and compares what each emits with the original stream's prefix.
// zlib only emits bytes that are final (a block is written once it is complete, and its bits never change), and
// its output does not depend on how the input is split, so any byte that differs rules a candidate out and a
// candidate that emits the whole original prefix identically is very likely right. The caller then recompresses
// the whole stream to confirm (Recompressor.verifiedRecompress, or a byte comparison at PUT): a prefix match is
// a guess, never a proof.
//
// Cost: each candidate runs in its own wasm instance and stops at its first differing byte, which for a wrong
// candidate is usually inside the first block (a few KiB to tens of KiB of content). Memory: one instance at a
// time (≤ 2 MiB) plus the caller's two prefixes.

import type { DeflateRecipe } from "./api";
import { WasmDeflate, ZLIB_CHROMIUM_ID, ZLIB_VANILLA_ID } from "./wasm-deflater";

export interface RecipeMatch {
  recipe: DeflateRecipe;
  /** How many bytes of the original the candidate reproduced (few or none: the prefix was too short to tell). */
  comparedBytes: number;
  /** The candidate reproduced the whole original stream (only possible when both inputs were complete). */
  exact: boolean;
}

export interface SearchOptions {
  /** `content` is the whole inflated content (the candidates finish their stream and must match to the end). */
  contentComplete?: boolean;
  /** `original` is the whole raw deflate stream. */
  originalComplete?: boolean;
  /** Stop after this many conclusive matches (default: all candidates). */
  limit?: number;
  /** Candidates to try, in order (default CANDIDATES). */
  candidates?: readonly DeflateRecipe[];
}

const Z_DEFAULT_STRATEGY = 0;
const Z_FILTERED = 1;
const Z_HUFFMAN_ONLY = 2;
const Z_RLE = 3;
/** Content is fed to each candidate in pieces this big, so a wrong one stops soon after its first block. */
const PIECE = 16 * 1024;
/**
 * A candidate that reproduced fewer bytes than this (and not a whole stream) is inconclusive: the first bytes
 * of a dynamic block are its Huffman code lengths, which depend on the whole block, so 32 equal bytes mean the
 * candidate made the same first block.
 */
const MIN_EVIDENCE = 32;

function recipe(deflater: string, level: number, memLevel = 8, strategy = Z_DEFAULT_STRATEGY, windowBits = 15):
  DeflateRecipe {
  return { deflater, level, memLevel, windowBits, strategy };
}

/**
 * Levels by how often tools use them; where two levels make the same prefix (8 and 9 differ only in how far
 * they search, 6 and 7 likewise), the more common one comes first and the caller's full check decides.
 */
const LEVEL_ORDER = [9, 6, 1, 5, 4, 3, 2, 7, 8];

/**
 * Most likely first: the npm CLI (Node's zlib, level 9), Python's zipfile and java.util.zip (vanilla zlib's
 * default level 6), `gzip -9`-style level 9, Node's default level 6; then every level with memLevel 8, then
 * memLevel 9, then the other strategies, then smaller windows.
 */
function defaultCandidates(): DeflateRecipe[] {
  const list: DeflateRecipe[] = [
    recipe(ZLIB_CHROMIUM_ID, 9), recipe(ZLIB_VANILLA_ID, 6), recipe(ZLIB_VANILLA_ID, 9), recipe(ZLIB_CHROMIUM_ID, 6),
  ];
  for (const memLevel of [8, 9]) {
    for (const id of [ZLIB_VANILLA_ID, ZLIB_CHROMIUM_ID]) {
      for (const level of LEVEL_ORDER) list.push(recipe(id, level, memLevel));
    }
  }
  for (const id of [ZLIB_VANILLA_ID, ZLIB_CHROMIUM_ID]) {
    for (const level of [6, 9]) list.push(recipe(id, level, 8, Z_FILTERED));
    list.push(recipe(id, 6, 8, Z_HUFFMAN_ONLY), recipe(id, 6, 8, Z_RLE));
    for (let windowBits = 14; windowBits >= 9; windowBits--) list.push(recipe(id, 6, 8, Z_DEFAULT_STRATEGY, windowBits));
  }
  return dedupe(list);
}

function dedupe(list: DeflateRecipe[]): DeflateRecipe[] {
  const seen = new Set<string>();
  return list.filter((r) => {
    const key = `${r.deflater}/${r.level}/${r.memLevel}/${r.windowBits}/${r.strategy}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

export const CANDIDATES: readonly DeflateRecipe[] = defaultCandidates();

/**
 * Every candidate consistent with the prefixes, conclusive ones (that reproduced the whole stream or at least
 * MIN_EVIDENCE bytes of it) first, each group in candidate order. Empty: no shipped deflater reproduces it.
 */
export function findRecipes(modules: Readonly<Record<string, WebAssembly.Module>>, content: Uint8Array,
  original: Uint8Array, options: SearchOptions = {}): RecipeMatch[] {
  const conclusive: RecipeMatch[] = [];
  const inconclusive: RecipeMatch[] = [];
  const limit = options.limit ?? Infinity;
  for (const candidate of options.candidates ?? CANDIDATES) {
    const module = modules[candidate.deflater];
    if (!module) continue;
    const match = tryCandidate(module, candidate, content, original, options);
    if (!match) continue;
    (isConclusive(match) ? conclusive : inconclusive).push(match);
    if (conclusive.length >= limit) break;
  }
  return [...conclusive, ...inconclusive];
}

/**
 * The most likely recipe for the stream (see findRecipes), or null when no candidate conclusively reproduced
 * it (pass a longer prefix when the content is very compressible: a block of memLevel 8 holds 16 Ki symbols).
 */
export function findRecipe(modules: Readonly<Record<string, WebAssembly.Module>>, content: Uint8Array,
  original: Uint8Array, options: Omit<SearchOptions, "limit"> = {}): DeflateRecipe | null {
  const [best] = findRecipes(modules, content, original, { ...options, limit: 1 });
  return best && isConclusive(best) ? best.recipe : null;
}

function isConclusive(match: RecipeMatch): boolean {
  return match.exact || match.comparedBytes >= MIN_EVIDENCE;
}

function tryCandidate(module: WebAssembly.Module, candidate: DeflateRecipe, content: Uint8Array,
  original: Uint8Array, options: SearchOptions): RecipeMatch | null {
  const stream = new WasmDeflate(module, candidate);
  let compared = 0;
  let differs = false;
  const emit = (out: Uint8Array) => {
    if (differs) return;
    const n = Math.min(out.length, original.length - compared);
    for (let i = 0; i < n; i++) {
      if (out[i] !== original[compared + i]) {
        differs = true;
        return;
      }
    }
    compared += n;
    // Output past the end of a complete original cannot be right.
    if (n < out.length && options.originalComplete) differs = true;
  };
  for (let off = 0; off < content.length && !differs; off += PIECE) {
    stream.push(content.subarray(off, off + PIECE), emit);
    // The whole original prefix is reproduced and more content would only emit past it: conclusive.
    if (!options.originalComplete && compared === original.length && compared >= MIN_EVIDENCE) {
      return { recipe: candidate, comparedBytes: compared, exact: false };
    }
  }
  if (differs) return null;
  if (!options.contentComplete) return { recipe: candidate, comparedBytes: compared, exact: false };
  stream.finish(emit);
  if (differs) return null;
  const exact = options.originalComplete === true && compared === original.length;
  if (options.originalComplete && !exact) return null; // the candidate's stream ended early
  return { recipe: candidate, comparedBytes: compared, exact };
}
