// The deltaspace reference's inflated form (compressed-aware deltas, issue #18), made from reference.bin on
// demand and never stored. Inflating is unambiguous, so the form is a function of reference.bin's bytes (scan ->
// header -> segments inflated, containers.ts): a PUT learns its size and SHA-256 in two streamed passes over
// reference.bin (a scan, then a hash) and records them on the delta, with the reference.bin SHA-256 it was made
// from; the reference cache keeps those facts per reference.bin SHA-256 so later PUTs skip both passes. The codec
// reads the form by offset through form-cursor.ts, and through the block cache under the form's SHA-256, so
// blocks read once come from the edge next time.
//
// The form's layout has versions (containers.ts INFLATED_FORM_VERSION); a delta's dg-recompress names the one of
// both forms it was made between. Deltas written while the form was stored (`<deltaspace>/.dg/reference.inflated.bin`,
// dg-ref-sha256 = the form's SHA-256, no dg-ref-inflated-*) read the same way: the stored object held these very
// bytes, so only its version byte is read (a build that wrote v2 deltas may have kept a v1 form made before);
// keyspace.ts still collects it with reference.bin.
import type { SourceInfo, SourceReader } from "../codec/api";
import { S3Error } from "../errors";
import type { StoredObject } from "../storage/backend";
import { cachedSource } from "./body";
import { INFLATED_FORM_VERSION, encodeHeader, inflatedForm, inflatedFormSize, parseHeader, scanContainer } from "./containers";
import { readSidecar, type EngineContext } from "./context";
import { inflatedReferenceKey, parseKey, referenceKey } from "./deltaspace";
import { formSource, type FormLayout, type OriginalFrom } from "./form-cursor";
import { decodeMetadata, type DgRecord, type InflatedFormVersion } from "./metadata";
import type { ReferenceUse } from "./reference-source";
import { StreamHasher } from "./streams";

/** reference.bin is read in ranges of this size (one backend GET each; ≤ this much of it in memory). */
const ORIGINAL_PAGE = 1024 * 1024;

/** The deltaspace reference a PUT holds (pinned by its write intent). */
export interface ReferenceInUse {
  key: string;
  stored: StoredObject;
  sha256: string;
}

export interface ReferenceForm {
  /** SHA-256 of the reference.bin it is the inflated form of. */
  from: string;
  version: InflatedFormVersion;
  size: number;
  sha256: string;
  layout: FormLayout;
}

/**
 * PUT: the inflated form of the reference the PUT holds, from the reference cache's facts or by a scan and a
 * hash pass over reference.bin. null when reference.bin is not a container we can inflate (no compressed-aware delta).
 */
export async function referenceForm(ctx: EngineContext, reference: ReferenceInUse,
  version: InflatedFormVersion = INFLATED_FORM_VERSION): Promise<ReferenceForm | null> {
  const cached = await ctx.referenceCache?.inflatedForm?.(reference.sha256, version);
  const cachedLayout = cached && await layoutOf(cached.header, cached.size, version);
  if (cached && cachedLayout) return { from: reference.sha256, version, size: cached.size, sha256: cached.sha256, layout: cachedLayout };
  const layout = await scanReference(ctx, reference, version);
  if (!layout) return null;
  const hasher = new StreamHasher(false);
  for await (const chunk of inflatedForm(await pinnedFrom(ctx, reference)(0), layout.segments, layout.header)) await hasher.update(chunk);
  const { sha256 } = await hasher.finish();
  const size = inflatedFormSize(layout.header, layout.segments);
  await ctx.referenceCache?.rememberInflatedForm?.(reference.sha256, version, { size, sha256, header: layout.header });
  return { from: reference.sha256, version, size, sha256, layout };
}

/** The form as the encoder's source: through the block cache under the form's SHA-256 when there is one. */
export async function referenceFormSource(ctx: EngineContext, reference: ReferenceInUse, form: ReferenceForm,
  pattern?: { keptBlocks?: number }): Promise<SourceInfo> {
  const origin = formSource(form.layout, pinnedFrom(ctx, reference));
  const cache = ctx.referenceCache;
  if (!cache) return origin;
  // The next GET of a delta against this form then decodes from cached blocks without touching reference.bin.
  await cache.rememberReferenceSize?.(form.sha256, form.size);
  return cachedSource(cache, { sha256: form.sha256, size: form.size }, origin.read, pattern);
}

/**
 * GET and scrub: the codec source for a compressed-aware delta's reference, the inflated form of reference.bin,
 * confirmed to be the form the delta was made against. Warm (the cache knows the form by its SHA-256): blocks
 * come from the cache and reference.bin is only opened on a block miss. Cold: reference.bin's record is
 * checked before the decode starts. reference.bin must be the one the delta records (dg-ref-inflated-from); its
 * form must have the size the delta records. Either way the rebuilt object's size and SHA-256 are verified.
 */
export async function inflatedReferenceSource(ctx: EngineContext, key: string, record: DgRecord): Promise<ReferenceUse> {
  const named = record.refSha256;
  if (!named || !/^[0-9a-f]{64}$/.test(named)) {
    throw new S3Error("InternalError", `The stored delta of ${JSON.stringify(key)} does not name the reference it was made against.`, { Key: key });
  }
  const cache = ctx.referenceCache;
  const cachedSize = (await cache?.referenceSize?.(named)) ?? null;
  const recordedSize = record.recompress?.reference?.size ?? null;
  let origin: Promise<SourceInfo> | undefined;
  const openOrigin = () => formOrigin(ctx, key, record, recordedSize ?? cachedSize);
  if (cachedSize === null) await (origin = openOrigin());
  const size = recordedSize ?? cachedSize ?? (await origin!).size;
  const read: SourceReader = async (offset, length) => (await (origin ??= openOrigin())).read(offset, length);
  if (!cache) return { source: { size, read }, warm: false };
  const ref = { sha256: named, size };
  return { source: cachedSource(cache, ref, read), evict: () => cache.evictReference?.(ref) ?? Promise.resolve(), warm: cachedSize !== null };
}

/** reference.bin, checked against the delta's record, as its inflated form read on demand. */
async function formOrigin(ctx: EngineContext, key: string, record: DgRecord, expectedSize: number | null): Promise<SourceInfo> {
  const refKey = referenceKey(parseKey(key).deltaspace);
  const stored = await ctx.backend.head(refKey);
  if (!stored) throw new S3Error("InternalError", `The reference for ${JSON.stringify(key)} is missing.`, { Key: key });
  const refSha = (decodeMetadata(stored.metadata) ?? await readSidecar(ctx, refKey))?.sha256;
  const from = record.recompress?.reference?.from;
  const version = await referenceFormVersion(ctx, key, record);
  const notIt = () => new S3Error("InternalError", `The reference of ${JSON.stringify(key)} is not the one its delta was made against.`, { Key: key });
  if (from && refSha !== from) throw notIt();
  const reference = { key: refKey, stored, sha256: refSha ?? "" };
  const cached = refSha ? await ctx.referenceCache?.inflatedForm?.(refSha, version) : null;
  if (cached && cached.sha256 !== record.refSha256) throw notIt();
  const layout = (cached && await layoutOf(cached.header, cached.size, version)) || await scanReference(ctx, reference, version);
  if (!layout) throw new S3Error("InternalError", `The reference of ${JSON.stringify(key)} is not a container its delta can have been made against.`, { Key: key });
  const source = formSource(layout, pinnedFrom(ctx, reference));
  if (expectedSize !== null && source.size !== expectedSize) throw notIt();
  await ctx.referenceCache?.rememberReferenceSize?.(record.refSha256!, source.size);
  return source;
}

/**
 * The layout version of the reference form a delta was made against: its dg-recompress when it records the form
 * (dg-ref-inflated-*). A delta made while the form was stored names no version of it: v1 deltas had v1 forms, but
 * a v2 delta may have been made against a v1 form stored before, so the stored form's version byte says (v2 when
 * it is gone: what the build that wrote v2 deltas made).
 */
async function referenceFormVersion(ctx: EngineContext, key: string, record: DgRecord): Promise<InflatedFormVersion> {
  const written = record.recompress?.formVersion ?? INFLATED_FORM_VERSION;
  if (record.recompress?.reference || written === 1) return written;
  const stored = await ctx.backend.get(inflatedReferenceKey(parseKey(key).deltaspace), { offset: 0, length: 5 });
  const head = stored ? new Uint8Array(await new Response(stored.body).arrayBuffer()) : null;
  return head?.[4] === 1 ? 1 : written;
}

/** reference.bin taken apart (one streamed inflate pass); null when it is not a container. */
async function scanReference(ctx: EngineContext, reference: ReferenceInUse, version: InflatedFormVersion): Promise<FormLayout | null> {
  const segments = await scanContainer(await pinnedFrom(ctx, reference)(0), { maxInflated: ctx.config.maxDeltaObjectSize });
  return segments && { header: encodeHeader(segments, reference.stored.size, version), segments };
}

/** A cached header read back; null (not used) when it is not of this version, does not parse or does not add up to the size. */
async function layoutOf(header: Uint8Array, size: number, version: InflatedFormVersion): Promise<FormLayout | null> {
  if (header[4] !== version) return null;
  try {
    const { segments } = await parseHeader(header);
    return inflatedFormSize(header, segments) === size ? { header, segments } : null;
  } catch {
    return null;
  }
}

/**
 * reference.bin from an offset to its end, pinned to the ETag the caller confirmed (if it is replaced mid-read the
 * read fails instead of mixing two references' bytes), fetched a page at a time as the form needs it: a cursor
 * that restarts elsewhere drops at most one page, and holds no open backend read while the codec waits.
 */
function pinnedFrom(ctx: EngineContext, reference: ReferenceInUse): OriginalFrom {
  const size = reference.stored.size;
  return async (offset) => {
    let at = offset;
    return new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (at >= size) return controller.close();
        const length = Math.min(ORIGINAL_PAGE, size - at);
        const object = await ctx.backend.get(reference.key, { offset: at, length });
        if (!object || object.etag !== reference.stored.etag) {
          await object?.body.cancel().catch(() => {});
          throw new S3Error("InternalError", "The deltaspace's reference changed while its inflated form was being read.");
        }
        const page = new Uint8Array(await new Response(object.body).arrayBuffer());
        if (page.byteLength !== length) throw new S3Error("InternalError", "The deltaspace's reference was shorter than recorded.");
        at += length;
        controller.enqueue(page);
      },
    }, { highWaterMark: 0 });
  };
}
