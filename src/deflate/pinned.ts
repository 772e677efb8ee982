// The deflaters compressed-aware deltas use (issue #18): recipes name only the SHIPPED, pinned deflaters
// (wasm-deflater.ts; ids in docs/STORAGE_FORMAT.md "Deflaters"), found by their recipe search (recipe-search.ts).
// The runtime's node:zlib stands in for the shipped Chromium zlib as a fast path, but only for parameters
// where it reproduced the shipped deflater's bytes on a fixed probe (once per parameter set and isolate), and
// only until a rebuild through it fails its check: then the isolate switches to the shipped deflater for good
// (`distrustFastPaths`). Every rebuild is checked whole (the PUT compares it with the upload byte for byte,
// the GET against the recorded SHA-256), so a fast path that drifts costs one failed check, never wrong bytes.
//
// Why not Recompressor.verifiedRecompress per stream: it needs each stream's own SHA-256, which the inflated
// form (format v1) does not record; the whole-object check gives the same guarantee.
import type { DeflateParams, DeflateRecipe, Deflater } from "./api";
import { deflaterModules } from "./modules";
import { nodeZlibDeflater } from "./node-zlib";
import { equalBytes, probeContent, recompress } from "./recompress";
import { CANDIDATES, findRecipes } from "./recipe-search";
import { RUNTIME_ZLIB_ID, runtimeZlib, type RecipeGuess, type StreamSample } from "./runtime-zlib";
import { ZLIB_CHROMIUM_ID, deflateWhole, wasmDeflater } from "./wasm-deflater";

export class PinnedDeflaters {
  private readonly shipped = new Map<string, Deflater>();
  private readonly probes = new Map<string, Promise<boolean>>();
  private fastPathsOff = false;

  constructor(private readonly modules: Readonly<Record<string, WebAssembly.Module>>,
    private readonly fastPaths: Readonly<Record<string, Deflater>> = {}) {
    for (const [id, module] of Object.entries(modules)) this.shipped.set(id, wasmDeflater(id, module));
  }

  /**
   * Which shipped deflater and parameters reproduce a stream: `preferred` first (the previous entry's recipe:
   * one tool usually made a whole zip), then the search's candidates. `verified` only when the whole stream
   * was reproduced; a guess from a prefix is checked by the caller's whole rebuild before it is used.
   */
  findRecipe(sample: StreamSample, preferred?: DeflateRecipe): RecipeGuess | null {
    const candidates = preferred && this.shipped.has(preferred.deflater)
      ? [preferred, ...CANDIDATES.filter((c) => key(c) !== key(preferred))] : CANDIDATES;
    const complete = { contentComplete: sample.whole, originalComplete: sample.whole };
    const [best] = findRecipes(this.modules, sample.content, sample.compressed, { ...complete, candidates, limit: 1 });
    return best ? { recipe: best.recipe, verified: best.exact } : null;
  }

  /** The deflater for a recipe: the fast path while it is trusted for these parameters, else the shipped one. */
  async deflaterFor(recipe: DeflateRecipe): Promise<Deflater | null> {
    // Objects written by a build that named the runtime's zlib itself (never written since) stay readable.
    if (recipe.deflater === RUNTIME_ZLIB_ID) return runtimeZlib;
    const shipped = this.shipped.get(recipe.deflater);
    if (!shipped) return null;
    return (await this.trustedFastPath(recipe)) ?? shipped;
  }

  /** The shipped deflater alone (no fast path): the second opinion after a failed check. */
  shippedFor(recipe: DeflateRecipe): Deflater | null {
    return this.shipped.get(recipe.deflater) ?? null;
  }

  /** A rebuild that may have used a fast path failed its check: the shipped deflaters from now on. */
  distrustFastPaths(): void {
    if (!this.fastPathsOff && this.probes.size > 0) console.warn("deflate: a rebuild through the runtime's zlib failed its check; using the shipped deflaters only");
    this.fastPathsOff = true;
  }

  /** Whether a rebuild with these recipes may have gone through a fast path. */
  mayUseFastPath(recipes: Iterable<DeflateRecipe>): boolean {
    if (this.fastPathsOff) return false;
    for (const recipe of recipes) if (this.fastPaths[recipe.deflater]) return true;
    return false;
  }

  private async trustedFastPath(recipe: DeflateRecipe): Promise<Deflater | undefined> {
    const fast = this.fastPaths[recipe.deflater];
    if (!fast || this.fastPathsOff) return undefined;
    let probe = this.probes.get(key(recipe));
    if (!probe) {
      probe = this.probe(fast, recipe);
      this.probes.set(key(recipe), probe);
    }
    return (await probe) ? fast : undefined;
  }

  /** Does the fast path make the shipped deflater's bytes for these parameters, on the fixed probe content? */
  private async probe(fast: Deflater, recipe: DeflateRecipe): Promise<boolean> {
    const content = probeContent();
    const params = paramsOf(recipe);
    try {
      const want = deflateWhole(this.modules[recipe.deflater], params, content);
      const got = await collect(recompress(fast, params, new Blob([content]).stream()));
      return equalBytes(got, want);
    } catch {
      return false; // a fast path that cannot even run is not trusted
    }
  }
}

let isolateDeflaters: PinnedDeflaters | undefined;

/** The Worker's deflaters (one per isolate): the shipped modules, node:zlib standing in for the Chromium zlib. */
export function pinnedDeflaters(): PinnedDeflaters {
  isolateDeflaters ??= new PinnedDeflaters(deflaterModules, { [ZLIB_CHROMIUM_ID]: nodeZlibDeflater() });
  return isolateDeflaters;
}

/**
 * Swaps the isolate's deflaters and returns the previous ones, for tests that must make the fast path go wrong
 * under the whole engine (as setIsolateCodecBudget does for the codec budget). Never called by the Worker.
 */
export function replaceIsolateDeflaters(next: PinnedDeflaters): PinnedDeflaters {
  const previous = pinnedDeflaters();
  isolateDeflaters = next;
  return previous;
}

function key(r: DeflateRecipe): string {
  return `${r.deflater}/${r.level}/${r.memLevel}/${r.windowBits}/${r.strategy}`;
}

function paramsOf(r: DeflateParams): DeflateParams {
  return { level: r.level, memLevel: r.memLevel, windowBits: r.windowBits, strategy: r.strategy };
}

async function collect(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(stream).arrayBuffer());
}
