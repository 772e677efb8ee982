// Recompressing inflated content with a recipe, verified (issue #18). A recipe names a SHIPPED deflater (a wasm
// module, wasm-deflater.ts); a runtime fast path (node-zlib.ts) may stand in for it, but only while it gives
// the same bytes: it is first checked against the shipped deflater on a fixed probe (once per parameter set and
// isolate), and every output is checked against the expected size and SHA-256. A fast path that produced wrong
// bytes is switched off for the isolate, and the shipped deflater takes over:
//   - transparently when nothing was released yet (outputs up to `holdBackBytes` are held until verified);
//   - otherwise the stream errors (the caller's response aborts; no wrong byte ever completes a stream), and the
//     next call uses the shipped deflater.
// Memory: one deflater instance (≤ 2 MiB wasm, or native zlib's ~0.5 MiB), the held-back output
// (≤ holdBackBytes + one chunk), and the probe (192 KiB, plus its two compressed copies) while a fast path is
// being checked.

import type { DeflateParams, DeflateRecipe, Deflater } from "./api";
import { bytesToHex } from "../encoding";
import { concat, deflateWhole, wasmDeflater } from "./wasm-deflater";

/** The recipe names a deflater this build does not ship. */
export class UnknownDeflaterError extends Error {}

/** The recompressed bytes were not the expected ones (wrong recipe or content, or a fast path that differs). */
export class RecompressMismatchError extends Error {}

export interface ExpectedOutput {
  /** Size in bytes of the raw deflate stream the recipe must reproduce. */
  size: number;
  /** Its SHA-256, lowercase hex. */
  sha256: string;
}

export interface RecompressorOptions {
  /** Outputs up to this many bytes are held back until verified, so a wrong fast path is replaced invisibly. */
  holdBackBytes?: number;
}

export type FastPathState = "none" | "unchecked" | "trusted" | "refused" | "disabled";

const DEFAULT_HOLD_BACK = 1 << 20;

/** `content` through the deflater with the recipe's parameters (no verification). */
export function recompress(deflater: Deflater, recipe: DeflateParams, content: ReadableStream<Uint8Array>):
  ReadableStream<Uint8Array> {
  return content.pipeThrough(deflater.deflateRaw(recipe));
}

export class Recompressor {
  private readonly shipped = new Map<string, Deflater>();
  private readonly probes = new Map<string, Promise<boolean>>();
  private readonly disabled = new Set<string>();
  private readonly holdBackBytes: number;

  /**
   * @param modules the shipped deflaters' wasm modules by deflater id (src/deflate/modules.ts in the Worker)
   * @param fastPaths runtime deflaters standing in for shipped ones, by the id they stand in for
   */
  constructor(private readonly modules: Readonly<Record<string, WebAssembly.Module>>,
    private readonly fastPaths: Readonly<Record<string, Deflater>> = {}, options: RecompressorOptions = {}) {
    this.holdBackBytes = options.holdBackBytes ?? DEFAULT_HOLD_BACK;
    for (const [id, module] of Object.entries(modules)) this.shipped.set(id, wasmDeflater(id, module));
  }

  /** The shipped (pinned) deflater a recipe names; throws UnknownDeflaterError for any other id. */
  shippedDeflater(id: string): Deflater {
    const deflater = this.shipped.get(id);
    if (!deflater) throw new UnknownDeflaterError(`deflater "${id}" is not shipped by this build`);
    return deflater;
  }

  /** What this isolate currently does with the fast path for a recipe's deflater and parameters. */
  async fastPathState(recipe: DeflateRecipe): Promise<FastPathState> {
    if (!this.fastPaths[recipe.deflater]) return "none";
    if (this.disabled.has(recipe.deflater)) return "disabled";
    const probe = this.probes.get(probeKey(recipe));
    if (!probe) return "unchecked";
    return (await probe) ? "trusted" : "refused";
  }

  /**
   * Recompresses the content to exactly `expected`, or errors: the fast path when it is trusted, the shipped
   * deflater otherwise or after the fast path got it wrong. `openContent` may be called twice (once more for the
   * fallback), each time for the whole inflated content from its start.
   */
  verifiedRecompress(recipe: DeflateRecipe, openContent: () => Promise<ReadableStream<Uint8Array>>,
    expected: ExpectedOutput): ReadableStream<Uint8Array> {
    const shipped = this.shippedDeflater(recipe.deflater); // unknown ids fail before any stream exists
    const self = this;
    async function* run(): AsyncGenerator<Uint8Array> {
      const fast = await self.trustedFastPath(recipe);
      if (fast) {
        const outcome = yield* self.attempt(fast, recipe, await openContent(), expected);
        if (outcome === "ok") return;
        self.disabled.add(recipe.deflater);
        if (outcome === "mismatch-after-release") {
          throw new RecompressMismatchError(`the runtime's zlib no longer reproduces ${recipe.deflater}; ` +
            "switched to the shipped deflater for the next reads");
        }
      }
      const outcome = yield* self.attempt(shipped, recipe, await openContent(), expected);
      if (outcome !== "ok") {
        throw new RecompressMismatchError(`${recipe.deflater} with ${JSON.stringify(paramsOf(recipe))} did not ` +
          `reproduce the expected ${expected.size} bytes (sha256 ${expected.sha256})`);
      }
    }
    return generatorStream(run());
  }

  /** The fast path for this recipe once it has reproduced the shipped deflater on the probe, else undefined. */
  private async trustedFastPath(recipe: DeflateRecipe): Promise<Deflater | undefined> {
    const fast = this.fastPaths[recipe.deflater];
    if (!fast || this.disabled.has(recipe.deflater)) return undefined;
    const key = probeKey(recipe);
    let probe = this.probes.get(key);
    if (!probe) {
      probe = this.probeFastPath(fast, recipe);
      this.probes.set(key, probe);
    }
    return (await probe) ? fast : undefined;
  }

  private async probeFastPath(fast: Deflater, recipe: DeflateRecipe): Promise<boolean> {
    const content = probeContent();
    const want = deflateWhole(this.modules[recipe.deflater], paramsOf(recipe), content);
    try {
      const got = await collect(recompress(fast, paramsOf(recipe), singleChunk(content)));
      return equalBytes(got, want);
    } catch {
      return false; // a fast path that cannot even run is not trusted
    }
  }

  /**
   * One recompression, checked: yields output as it is verified to be releasable and reports whether it matched.
   * Held back: everything while the output is ≤ holdBackBytes, and always the last chunk until the end.
   */
  private async *attempt(deflater: Deflater, recipe: DeflateRecipe, content: ReadableStream<Uint8Array>,
    expected: ExpectedOutput): AsyncGenerator<Uint8Array, "ok" | "mismatch-before-release" | "mismatch-after-release"> {
    const hash = new crypto.DigestStream("SHA-256");
    hash.digest.catch(() => { /* rejects when an early mismatch aborts the hash; nobody waits for it then */ });
    const hashWriter = hash.getWriter();
    const reader = recompress(deflater, paramsOf(recipe), content).getReader();
    let held: Uint8Array[] = [];
    let heldBytes = 0;
    let released = false;
    let total = 0;
    const mismatch = (): "mismatch-after-release" | "mismatch-before-release" =>
      released ? "mismatch-after-release" : "mismatch-before-release";
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        if (value.length === 0) continue;
        total += value.length;
        if (total > expected.size) return mismatch();
        await hashWriter.write(value);
        held.push(value);
        heldBytes += value.length;
        if (released || heldBytes > this.holdBackBytes) {
          // Release all but the newest chunk: the stream can then never complete with unverified bytes.
          while (held.length > 1) yield held.shift()!;
          heldBytes = held[0].length;
          released = true;
        }
      }
      await hashWriter.close();
      const sha256 = bytesToHex(await hash.digest);
      if (total !== expected.size || sha256 !== expected.sha256.toLowerCase()) return mismatch();
      for (const chunk of held) yield chunk;
      held = [];
      return "ok";
    } finally {
      reader.cancel().catch(() => {});
      hashWriter.abort().catch(() => {});
    }
  }
}

function paramsOf(r: DeflateParams): DeflateParams {
  return { level: r.level, memLevel: r.memLevel, windowBits: r.windowBits, strategy: r.strategy };
}

function probeKey(r: DeflateRecipe): string {
  return `${r.deflater}/${r.level}/${r.memLevel}/${r.windowBits}/${r.strategy}`;
}

let probe: Uint8Array | undefined;

/**
 * 192 KiB that make a deflater show its choices: text-like words with long-distance repeats (lazy matching,
 * chain limits, matches across the 32 KiB window slide), a run of one byte, and incompressible bytes (stored
 * vs. Huffman block choices). Deterministic (xorshift32), so every isolate probes with the same bytes.
 */
export function probeContent(): Uint8Array {
  if (probe) return probe;
  const out = new Uint8Array(192 * 1024);
  let x = 0x9e3779b9;
  const next = () => {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    return x;
  };
  const words = Array.from({ length: 400 }, () => {
    const len = 2 + (next() % 9);
    return Array.from({ length: len }, () => 97 + (next() % 26));
  });
  let i = 0;
  while (i < 128 * 1024) {
    const r = next();
    if (r % 50 === 0 && i > 40_000) {
      // repeat an older stretch, sometimes beyond the window (so only a slid window can't find it)
      const len = 20 + (r >>> 8) % 400;
      const from = (r >>> 16) % (i - len);
      for (let k = 0; k < len && i < out.length; k++) out[i++] = out[from + k];
    } else {
      for (const c of words[(r >>> 4) % words.length]) out[i++] = c;
      out[i++] = r % 7 === 0 ? 10 : 32;
    }
  }
  out.fill(0x41, i, i + 8192);
  for (i += 8192; i < out.length; i++) out[i] = next() & 0xff;
  probe = out;
  return out;
}

async function collect(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return concat(parts);
    parts.push(value);
  }
}

function singleChunk(bytes: Uint8Array): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(bytes);
      controller.close();
    },
  });
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function generatorStream(gen: AsyncGenerator<Uint8Array>): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { done, value } = await gen.next();
        if (done) controller.close();
        else controller.enqueue(value);
      } catch (e) {
        controller.error(e);
      }
    },
    async cancel(reason) {
      await gen.return(undefined as never).catch(() => {});
      void reason;
    },
  });
}
