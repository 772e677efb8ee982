// Reading a delta object: from the rebuilt-object cache when it holds a verified copy; else decoded through the
// streaming codec against its reference. A whole rebuild is hashed on the way and errors instead of ending
// when its size or SHA-256 differs from the recorded original; a range decodes only the windows that hold it.
// A compressed-aware delta decodes its inflated form against the reference's inflated form (made on demand,
// reference-form.ts), and is recompressed (recompressed.ts) before the check.
// A client that stalls while another job waits for the codec gets the rest from a spill (stall-release.ts).
import type { EngineObservations, ObjectInfo, ResolvedRange } from "./api";
import { ObjectChangedError, S3Error } from "../errors";
import { isCodecError } from "../codec/errors";
import type { EngineContext } from "./context";
import type { DgRecord } from "./metadata";
import { DeltaBuffer } from "./delta-buffer";
import { releaseCodecWhenStalled } from "./stall-release";
import { exactLength, generatorStream, onFailure, primed } from "./read-streams";
import { deltaReferenceSource, type ReferenceUse } from "./reference-source";
import { inflatedReferenceSource } from "./reference-form";
import { fastPathSuspect, rebuiltFromInflatedForm } from "./recompressed";
import type { Resolved } from "./resolve";
import { largeChunks, lazyStream, verifyingSlice } from "./streams";
import { continuedFromCopy, failedStream } from "./plain-copy";

export async function readDelta(
  ctx: EngineContext, key: string, resolved: Resolved, info: ObjectInfo, range?: ResolvedRange, observe?: EngineObservations,
): Promise<ReadableStream<Uint8Array>> {
  const { record } = resolved;
  const kept = await keptRebuild(ctx, key, record!, info, range);
  if (kept) {
    await resolved.body?.discard();
    if (observe) observe.cache = "rebuilt";
    return kept;
  }
  const recompress = record!.recompress;
  let reference: ReferenceUse;
  try {
    if (!ctx.codec) throw new S3Error("InternalError", "Delta decoding is not available.");
    if (recompress && recompress.formSize < 0) {
      throw new S3Error("InternalError", `The stored delta of ${JSON.stringify(key)} has a compressed-aware format this version cannot read.`, { Key: key });
    }
    reference = recompress ? await inflatedReferenceSource(ctx, key, record!) : await deltaReferenceSource(ctx, key, record!);
    if (observe) observe.cache = reference.warm ? "reference" : "miss";
  } catch (error) {
    await resolved.body?.discard();
    // A re-baseline may have retired the reference since this read resolved the delta: its plain copy has the bytes.
    const fromCopy = continuedFromCopy(ctx, key, record!, failedStream(error), 0, info.size);
    return primed(fromCopy.pipeThrough(verifyingSlice({
      size: info.size,
      sha256: record!.sha256,
      range,
      onMismatch: (what) => new S3Error("InternalError", `The object's plain copy failed its ${what} check; no wrong bytes are served.`, { Key: key }),
    })), key);
  }
  // A compressed-aware delta decodes to the inflated form, whose offsets are not the object's: ranges rebuild all.
  if (!recompress && range && (range.start > 0 || range.end < info.size - 1)) {
    const ranged = await readDeltaRange(ctx, key, resolved, info, range, reference, observe);
    if (ranged) return ranged;
  }
  const { source, evict } = reference;
  const delta = storedDeltaBody(ctx, resolved, key);
  const decoded = decodeGivingBackWhenStalled(ctx, ctx.codec!.decode(source, delta,
    { ...ctx.config.codec, maxOutputSize: recompress ? recompress.formSize : info.size, onStats: decodeTimer(observe) }));
  // The plain copy holds the object's bytes, so it continues the recompressed stream, not the inflated form.
  const rebuilt = continuedFromCopy(ctx, key, record!, recompress ? rebuiltFromInflatedForm(decoded) : decoded, 0, info.size);
  const verified = rebuilt.pipeThrough(verifyingSlice({
    size: info.size,
    sha256: record!.sha256,
    range,
    onMismatch: (what) => {
      if (recompress) fastPathSuspect();
      return new S3Error("InternalError", `Rebuilt object failed its ${what} check; no wrong bytes are served.`, { Key: key });
    },
  }));
  const checked = evict ? onFailure(verified, evict) : verified;
  // A whole, verified rebuild may be kept for the next GET (what is kept is only stored once the SHA-256 matched).
  const object = { sha256: record!.sha256, size: info.size };
  const whole = !range || (range.start === 0 && range.end === info.size - 1);
  return primed(whole && ctx.rebuiltCache?.accepts(object) ? ctx.rebuiltCache.tap(object, checked) : checked, key);
}

/**
 * The object from the rebuilt-object cache, if kept there: checked against its size and SHA-256 like a rebuild
 * (a range still hashes the whole object), and evicted when it fails, so a damaged entry never serves wrong bytes.
 */
async function keptRebuild(ctx: EngineContext, key: string, record: DgRecord, info: ObjectInfo,
  range?: ResolvedRange): Promise<ReadableStream<Uint8Array> | null> {
  const cache = ctx.rebuiltCache;
  const object = { sha256: record.sha256, size: info.size };
  if (!cache?.accepts(object)) return null;
  const body = await cache.match(object).catch(() => null);
  if (!body) return null;
  // The cache hands its body out in 4 KiB pieces; hashing them one by one costs more than decoding.
  const verified = generatorStream(largeChunks(body)).pipeThrough(verifyingSlice({
    size: info.size,
    sha256: record.sha256,
    range,
    onMismatch: (what) => new S3Error("InternalError", `A cached rebuild failed its ${what} check; no wrong bytes are served.`, { Key: key }),
  }));
  return primed(onFailure(verified, () => cache.evict(object)), key);
}

/**
 * A range of a delta object decodes only the VCDIFF windows that hold it (codec `targetRange`: earlier
 * windows are parsed without reading the reference, decoding stops after the range). The whole object's
 * SHA-256 cannot be checked without rebuilding it all, so each decoded window is checked against the Adler-32
 * xdelta3 stores with it, and the answer against the range's length. A delta without window checksums
 * (xdelta3 -n) gives null before any byte: the caller rebuilds the whole object and checks its SHA-256.
 */
async function readDeltaRange(ctx: EngineContext, key: string, resolved: Resolved, info: ObjectInfo,
  range: ResolvedRange, { source, evict }: ReferenceUse, observe?: EngineObservations): Promise<ReadableStream<Uint8Array> | null> {
  const delta = storedDeltaBody(ctx, resolved, key);
  const rebuilt = decodeGivingBackWhenStalled(ctx,
    ctx.codec!.decode(source, delta, { ...ctx.config.codec, maxOutputSize: info.size, targetRange: range, onStats: decodeTimer(observe) }));
  const reader = rebuilt.getReader();
  const first = await reader.read().then((result) => ({ result }), (error: unknown) => ({ error }));
  if ("error" in first && isCodecError(first.error) && first.error.kind === "unverifiable") return null;
  const resumed = new ReadableStream<Uint8Array>({
    start(controller) {
      if ("error" in first) controller.error(first.error);
      else if (first.result.done) controller.close();
      else controller.enqueue(first.result.value);
    },
    async pull(controller) {
      const next = await reader.read();
      if (next.done) controller.close();
      else controller.enqueue(next.value);
    },
    cancel: (reason) => reader.cancel(reason),
  }, { highWaterMark: 0 });
  const length = range.end - range.start + 1;
  const checked = continuedFromCopy(ctx, key, resolved.record!, resumed, range.start, length).pipeThrough(exactLength(length,
    () => new S3Error("InternalError", "A ranged rebuild returned the wrong number of bytes; no wrong bytes are served.", { Key: key })));
  return primed(evict ? onFailure(checked, evict) : checked, key);
}

/** Reports the decode's duration to `observe.decoded` when the codec finishes the job (only a job that ended well). */
function decodeTimer(observe: EngineObservations | undefined): (() => void) | undefined {
  const decoded = observe?.decoded;
  if (!decoded) return undefined;
  const started = Date.now();
  return () => decoded(Date.now() - started);
}

/** A client that stops reading never holds the codec while another job waits for it (stall-release.ts). */
function decodeGivingBackWhenStalled(ctx: EngineContext, decoded: ReadableStream<Uint8Array>): ReadableStream<Uint8Array> {
  const codec = ctx.codec;
  if (!codec) return decoded;
  return releaseCodecWhenStalled(decoded, {
    contended: () => codec.contended(),
    spill: () => new DeltaBuffer(ctx.backend, ctx.config.deltaBufferLimit, "rebuilt"),
  });
}

/**
 * The delta's bytes for the decoder: the body fetched at open when there is one (no second read), else one GET
 * pinned to the ETag seen at open, made when the decoder first pulls. A body held while the codec is busy is
 * given up for the late GET: a request queued behind another codec job then holds no open backend read, which
 * could starve the job that is running (parallel ranged GETs of one rebuilt object, as `aws s3 cp` issues them).
 */
function storedDeltaBody(ctx: EngineContext, { stored, body }: Resolved, key: string): ReadableStream<Uint8Array> {
  const held = body?.take();
  if (held && !ctx.codec?.busy()) return held;
  held?.cancel().catch(() => {});
  return lazyStream(async () => {
    const object = await ctx.backend.get(stored.key);
    if (!object || object.etag !== stored.etag) {
      await object?.body.cancel().catch(() => {});
      throw new ObjectChangedError(key);
    }
    return object.body;
  });
}
