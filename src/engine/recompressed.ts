// Compressed-aware deltas (issue #18): a gzip or zip upload is delta-compressed by its inflated content against
// the inflated form of the deltaspace's reference, and rebuilt on GET by recompressing with recorded recipes.
//
// The rule: a recipe is used only after the whole object has been rebuilt from its inflated form (every deflate
// stream recompressed) and compared byte for byte, and by SHA-256, with the upload — before the PUT is
// acknowledged. A stream that does not reproduce is kept as it is (a raw segment); an object with no stream
// left, or any doubt, takes today's path. GET checks size + SHA-256 of the rebuilt object as for every delta.
//
// The reference's side, the inflated form of reference.bin, is made on demand and never stored (reference-form.ts).
import type { DeflateRecipe } from "../deflate/api";
import { pinnedDeflaters } from "../deflate/pinned";
import type { StreamSample } from "../deflate/runtime-zlib";
import type { BodySource } from "./body";
import {
  ByteQueue, ContainerError, RecompressMismatchError, encodeHeader, inflatedForm, inflatedFormSize, rebuildOriginal, scanContainer,
  sniffFormat, type ContainerFormat, type DeflaterResolver, type Segment,
} from "./containers";
import type { EngineContext } from "./context";
import { generatorStream } from "./read-streams";
import { StreamHasher } from "./streams";

/** After this many deflate streams in a row that nothing reproduces, the rest of a zip is not searched. */
const MAX_MISSES_IN_A_ROW = 8;
/** Rebuild-and-compare rounds: each failed one keeps the stream that differed as it is. */
const MAX_VERIFY_ROUNDS = 3;
/**
 * Reproduced deflate streams must make up at least this share of the object. Below it the inflated form is mostly
 * compressed bytes kept as they are, and its delta does not pay (a Python zip, whose vanilla-zlib entries the
 * runtime's zlib reproduces only when tiny, measured in docs/PERFORMANCE.md "Compressed artifacts").
 */
const MIN_REPRODUCED_SHARE = 0.5;

export interface RecompressPlan {
  format: ContainerFormat;
  segments: Segment[];
  header: Uint8Array;
  /** Size of the inflated form (the codec's target). */
  formSize: number;
}

/** gzip or zip by the body's first bytes (the key's extension only made it eligible). */
export async function sniffBody(body: BodySource): Promise<ContainerFormat | null> {
  const head = await body.asSource().read(0, 4);
  return sniffFormat(head);
}

/**
 * Take the body apart, find a recipe per deflate stream, then rebuild the whole object from its inflated form
 * and compare it with the body. null: not a container, nothing reproduces, or over the size cap.
 */
export async function planRecompression(ctx: EngineContext, body: BodySource, format: ContainerFormat): Promise<RecompressPlan | null> {
  const scanned = await scanContainer(await body.stream(), { maxInflated: ctx.config.maxDeltaObjectSize, onStream: recipeSearch() });
  if (!scanned) return null;
  let segments = scanned.map(keepAsIsWithoutRecipe);
  for (let round = 0; round < MAX_VERIFY_ROUNDS; round++) {
    if (reproducedShare(segments, body.size) < MIN_REPRODUCED_SHARE) return null;
    const header = encodeHeader(segments, body.size);
    const differing = await checkedRebuild(ctx, body, segments, header);
    if (differing === null) return { format, segments, header, formSize: inflatedFormSize(header, segments) };
    if (differing < 0) return null;
    segments = segments.map((s, i) => (i === differing ? keepAsIs(s) : s));
  }
  return null;
}

function reproducedShare(segments: Segment[], size: number): number {
  return segments.reduce((n, s) => n + (s.kind === "deflate" ? s.length : 0), 0) / size;
}

/**
 * firstDifference through the isolate's deflaters (fast path where trusted). When a rebuild that may have used
 * the runtime's zlib differs, the shipped deflaters alone decide; if they disagree with it, the fast path made
 * other bytes than the deflater it stands in for, and the isolate stops using it.
 */
async function checkedRebuild(ctx: EngineContext, body: BodySource, segments: Segment[], header: Uint8Array): Promise<number | null> {
  const deflaters = pinnedDeflaters();
  const differing = await firstDifference(ctx, body, segments, header, (recipe) => deflaters.deflaterFor(recipe));
  const recipes = segments.flatMap((s) => (s.kind === "deflate" && s.recipe ? [s.recipe] : []));
  if (differing === null || !deflaters.mayUseFastPath(recipes)) return differing;
  const shippedOnly = await firstDifference(ctx, body, segments, header, (recipe) => deflaters.shippedFor(recipe));
  if (shippedOnly !== differing) deflaters.distrustFastPaths();
  return shippedOnly;
}

/** The recipe search over a container's streams, preferring the last stream's recipe (one tool made the zip). */
function recipeSearch(): (seen: StreamSample) => DeflateRecipe | undefined {
  const deflaters = pinnedDeflaters();
  let preferred: DeflateRecipe | undefined;
  let missesInARow = 0;
  return (seen) => {
    if (missesInARow >= MAX_MISSES_IN_A_ROW) return undefined;
    const guess = deflaters.findRecipe(seen, preferred);
    if (!guess) {
      missesInARow++;
      return undefined;
    }
    missesInARow = 0;
    preferred = guess.recipe;
    return guess.recipe;
  };
}

function keepAsIsWithoutRecipe(segment: Segment): Segment {
  return segment.kind === "deflate" && !segment.recipe ? keepAsIs(segment) : segment;
}

function keepAsIs(segment: Segment): Segment {
  return { kind: "raw", length: segment.length };
}

/**
 * Rebuild the object from its inflated form and compare it with the body, byte for byte and by SHA-256.
 * null: identical. Else the index of the segment that differs (or failed to rebuild); -1 when it is not known.
 */
async function firstDifference(ctx: EngineContext, body: BodySource, segments: Segment[], header: Uint8Array,
  deflaterFor: DeflaterResolver): Promise<number | null> {
  const form = generatorStream(inflatedForm(await body.stream(), segments, header));
  const rebuilt = rebuildOriginal(form, deflaterFor);
  const original = new ByteQueue((await body.stream()).getReader());
  const hasher = new StreamHasher(false);
  let offset = 0;
  try {
    for (;;) {
      const next = await rebuilt.next();
      if (next.done) break;
      await hasher.update(next.value);
      const at = await mismatchIn(original, next.value);
      if (at >= 0) return segmentAt(segments, offset + at);
      offset += next.value.byteLength;
    }
    if (!(await original.atEnd())) return segmentAt(segments, offset);
    return (await hasher.finish()).sha256 === body.sha256 && offset === body.size ? null : -1;
  } catch (error) {
    if (error instanceof ContainerError) return error.segment ?? -1;
    throw error;
  } finally {
    await rebuilt.return(undefined).catch(() => {});
    await original.cancel();
  }
}

/** Offset of the first byte of `chunk` that differs from the queue's next bytes (consumed), or -1. */
async function mismatchIn(original: ByteQueue, chunk: Uint8Array): Promise<number> {
  let at = 0;
  while (at < chunk.byteLength) {
    if (!(await original.fill(1))) return at;
    const piece = original.takeSome(chunk.byteLength - at);
    for (let i = 0; i < piece.byteLength; i++) if (piece[i] !== chunk[at + i]) return at + i;
    at += piece.byteLength;
  }
  return -1;
}

function segmentAt(segments: Segment[], offset: number): number {
  let end = 0;
  for (let i = 0; i < segments.length; i++) {
    end += segments[i].length;
    if (offset < end) return i;
  }
  return -1;
}

/** The inflated form of the body, as the codec's target. */
export async function inflatedTarget(body: BodySource, plan: RecompressPlan): Promise<ReadableStream<Uint8Array>> {
  return generatorStream(inflatedForm(await body.stream(), plan.segments, plan.header));
}

/**
 * The original object rebuilt from its (decoded) inflated form; the caller verifies size and SHA-256 (and calls
 * fastPathSuspect when that fails). A segment that recompressed to another length switches the fast path off.
 */
export function rebuiltFromInflatedForm(form: ReadableStream<Uint8Array>): ReadableStream<Uint8Array> {
  const deflaters = pinnedDeflaters();
  return generatorStream(offFastPathOnMismatch(rebuildOriginal(form, (recipe) => deflaters.deflaterFor(recipe))));
}

async function* offFastPathOnMismatch(rebuilt: AsyncGenerator<Uint8Array>): AsyncGenerator<Uint8Array> {
  try {
    yield* rebuilt;
  } catch (error) {
    if (error instanceof RecompressMismatchError) fastPathSuspect();
    throw error;
  }
}

/**
 * A compressed-aware rebuild failed its whole-object check: the runtime's zlib may have made other bytes than
 * the shipped deflater it stands in for, so this isolate stops using it (the next read uses the shipped one).
 */
export function fastPathSuspect(): void {
  pinnedDeflaters().distrustFastPaths();
}
