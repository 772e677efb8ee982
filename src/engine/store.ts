// PUT path: accept the body (buffered or staged), open a write intent with the coordinator, decide delta vs
// passthrough, seed the deltaspace's reference with a conditional create, encode with a size cap, write the
// variant and its sidecar, then commit: the coordinator removes the key's other variant, and only then is the
// PUT acknowledged (docs/ARCHITECTURE.md "Guarantees").
//
// I/O per path (B = body size, D = delta size; "staged" = B > bodyBufferLimit):
//   passthrough, buffered:  1 write B (+ sidecar)                     memory ≤ B
//   passthrough, staged:    write B (staging), read B, write B         memory: stream chunks only
//   delta, buffered:        reads of the reference by range (≤ its size), 1 write D (+ sidecar)
//   delta, staged:          write B (staging), read B (encode), reference range reads, write D
//   seeding upload:         + 1 write B (reference.bin); its self-delta is encoded from the body itself;
//                           + claimSeed() and seedDone() (two Durable Object calls: one seeder per deltaspace
//                           at a time; a concurrent first upload waits for it, then deltas against its reference)
//   D > deltaBufferLimit:   + write D and read D (spilled parts), then the final write D
//   always:                 coordinator begin() + commit() (two Durable Object calls in the Worker)
//   conditional (If-…):     + open() of the current object (HEAD of `.delta` and `<key>`) under the exclusive intent
//   gzip/zip content:       + two more reads of B (take apart, rebuild and compare: recompressed.ts), and at the
//                           deltaspace's first such PUT the inflated reference made from reference.bin (two reads
//                           of it, one write of its inflated size); the target is then the inflated form
//
// What a request that dies at each step leaves behind, and who reclaims it:
//   staging write / spilled parts   `.dg/tmp/…`, invisible: the request's finally; else the hourly cron (> 1 day)
//   after begin()                   an open intent: expires after 1 h (the coordinator's alarm closes it)
//   reference.bin seeded            pinned by the intent; collected when the intent closes (abort or expiry)
//                                   if no object is left in the deltaspace
//   variant (+ sidecar) written     a complete object (its reference is pinned), visible; at the intent's
//                                   close the coordinator keeps whichever variant a GET picks (newest)
import type { EngineObservations, PutInput, PutResult } from "./api";
import type { Variant } from "../coordination/api";
import { S3Error } from "../errors";
import type { StoredObject } from "../storage/backend";
import { acceptBody, referenceSource, type BodySource } from "./body";
import { STORED_CONTENT_TYPE, readSidecar, writeSidecar, type EngineContext } from "./context";
import { DeltaBuffer } from "./delta-buffer";
import type { SourceInfo } from "../codec/api";
import type { ContainerFormat } from "./containers";
import { ensureInflatedReference, inflatedTarget, planRecompression, sniffBody, type ReferenceInUse } from "./recompressed";
import { openObject } from "./fetch";
import { deltaKey, isEligibleName, parseUserKey, referenceKey, type ParsedKey } from "./deltaspace";
import {
  REFERENCE_ORIGINAL_NAME, decodeMetadata, deltaCommand, encodeMetadata, userMetadataBytes, type DgRecord,
} from "./metadata";

/** The encoder reads its source window front to back: keeping one reference block (not the decoder's three)
 *  saves 8 MiB per PUT at the default 4 MiB blocks (docs/ARCHITECTURE.md "Memory per request"). */
const ENCODER_READS = { keptBlocks: 1 };

/** AWS's limit on user-defined metadata (keys + values). */
const MAX_USER_METADATA_BYTES = 2048;

export async function storeObject(ctx: EngineContext, key: string, input: PutInput): Promise<PutResult> {
  const parsed = parseUserKey(key);
  const userMetadata = lowerCaseKeys(input.userMetadata ?? {});
  if (userMetadataBytes(userMetadata) > MAX_USER_METADATA_BYTES) {
    throw new S3Error("MetadataTooLarge", `Your metadata headers exceed the maximum allowed metadata size (${MAX_USER_METADATA_BYTES} bytes).`);
  }
  if (!Number.isSafeInteger(input.size) || input.size < 0) throw new S3Error("InvalidArgument", "The body size is invalid.");

  const body = await acceptBody(ctx.backend, input.body, input.size, ctx.config.bodyBufferLimit, input.source);
  try {
    const ticket = await ctx.coordinator.begin(parsed.key, { exclusive: Boolean(input.precondition) });
    try {
      if (input.precondition) input.precondition((await openObject(ctx, parsed.key))?.info ?? null);
      const seeding: Seeding = { claim: () => ctx.coordinator.claimSeed(ticket), done: () => ctx.coordinator.seedDone(ticket) };
      const { result, variant } = await storeVariant(ctx, parsed, body, input, userMetadata, seeding);
      await ctx.coordinator.commit(ticket, variant);
      return result;
    } catch (error) {
      await ctx.coordinator.abort(ticket).catch((e) => console.warn(`engine: could not close write intent: ${e}`));
      throw error;
    }
  } finally {
    await body.dispose().catch((error) => console.warn(`engine: could not remove staged upload: ${error}`));
  }
}

interface StoredVariant {
  result: PutResult;
  variant: Variant;
}

/** The coordinator's turn to create the deltaspace's reference (one seeder at a time), and its end. */
interface Seeding {
  claim(): Promise<boolean>;
  done(): Promise<void>;
}

async function storeVariant(
  ctx: EngineContext, parsed: ParsedKey, body: BodySource, input: PutInput, userMetadata: Record<string, string>,
  seeding: Seeding,
): Promise<StoredVariant> {
  const base: DgRecord = {
    kind: "passthrough",
    tool: ctx.config.tool,
    originalName: parsed.name,
    sha256: body.sha256,
    size: body.size,
    md5: body.md5,
    multipartEtag: input.multipartEtag,
    partSizes: input.partSizes,
    createdAt: new Date(),
    http: { ...(input.http ?? {}) },
    userMetadata,
    checksums: { ...(input.checksums ?? {}) },
  };
  if (wantsDelta(ctx, parsed, body.size)) {
    const stored = await tryStoreDelta(ctx, parsed, body, base, seeding, input.observe);
    if (stored) return { result: stored, variant: "delta" };
  }
  return { result: await storePassthrough(ctx, parsed, body, base), variant: "plain" };
}

function wantsDelta(ctx: EngineContext, parsed: ParsedKey, size: number): boolean {
  const { config } = ctx;
  return Boolean(ctx.codec) && config.compression && size > 0 && size <= config.maxDeltaObjectSize
    && isEligibleName(parsed.name, config.deltaExtensions);
}

async function storePassthrough(ctx: EngineContext, parsed: ParsedKey, body: BodySource, base: DgRecord): Promise<PutResult> {
  const record: DgRecord = { ...base, kind: "passthrough", note: "passthrough" };
  const stored = await ctx.backend.put(parsed.key, await body.stream(), body.size, {
    metadata: encodeMetadata(record),
    contentType: STORED_CONTENT_TYPE,
  });
  if (!stored) throw new S3Error("InternalError", "The backend refused the write.");
  // The old variant goes at commit (the coordinator), after this one is whole: a GET never finds neither.
  await writeSidecar(ctx, parsed.key, record);
  return { etag: base.multipartEtag ?? body.md5, storageType: "passthrough", storedSize: stored.size, size: body.size };
}

/** Store as a delta when it pays; null means "store passthrough instead". */
async function tryStoreDelta(
  ctx: EngineContext, parsed: ParsedKey, body: BodySource, base: DgRecord, seeding: Seeding, observe?: EngineObservations,
): Promise<PutResult | null> {
  const refKey = referenceKey(parsed.deltaspace);
  const reference = await ensureReference(ctx, refKey, parsed, body, base, seeding);
  if (!reference) return null;
  // The next GET of a delta against this reference can then decode from cached blocks without reading its metadata.
  await ctx.referenceCache?.rememberReferenceSize?.(reference.sha256, reference.stored.size);

  // The seeding upload keeps its plain self-delta (DeltaGlider reads it); later versions may go compressed-aware.
  const format = !reference.seeded && ctx.config.compressedDeltas ? await sniffBody(body) : null;
  if (format) {
    const stored = await tryStoreRecompressed(ctx, parsed, body, base, { key: refKey, ...reference }, format, observe);
    if (stored) return stored;
    // A plain delta of gzip content is 87–99.7 % of it (docs/PERFORMANCE.md): not worth the encode.
    if (format === "gzip") return null;
  }
  const source = reference.seeded
    ? body.asSource()
    : referenceSource(ctx.backend, refKey, reference.stored, reference.sha256, ctx.referenceCache, ENCODER_READS);
  const delta = await timed(observe, async () => encodeWithinRatio(ctx, source, await body.stream(), body.size, body.size));
  if (!delta) return null;
  return writeDelta(ctx, parsed, base, delta, { refKey, refSha256: reference.sha256 }, reference.seeded ? "reference" : "delta");
}

/**
 * A compressed-aware delta (recompressed.ts): planned and verified (the whole object rebuilt from its inflated
 * form and compared with the body), then the inflated form encoded against the deltaspace's inflated reference.
 * null: take today's path. Anything unexpected in here also means today's path, never a failed PUT.
 */
async function tryStoreRecompressed(
  ctx: EngineContext, parsed: ParsedKey, body: BodySource, base: DgRecord, reference: ReferenceInUse,
  format: ContainerFormat, observe?: EngineObservations,
): Promise<PutResult | null> {
  let encoded: { delta: DeltaBuffer; refSha256: string; formSize: number } | null;
  try {
    encoded = await timed(observe, async () => {
      const plan = await planRecompression(ctx, body, format);
      const inflated = plan && await ensureInflatedReference(ctx, parsed.deltaspace, reference);
      if (!plan || !inflated) return null;
      const source = referenceSource(ctx.backend, inflated.key, inflated.stored, inflated.sha256, ctx.referenceCache, ENCODER_READS);
      const delta = await encodeWithinRatio(ctx, source, await inflatedTarget(body, plan), plan.formSize, body.size);
      return delta && { delta, refSha256: inflated.sha256, formSize: plan.formSize };
    });
  } catch (error) {
    if (error instanceof S3Error && error.code !== "InternalError") throw error;
    console.warn(`engine: compressed-aware delta failed, taking the plain path: ${error}`);
    return null;
  }
  if (!encoded) return null;
  return writeDelta(ctx, parsed, base, encoded.delta,
    { refKey: reference.key, refSha256: encoded.refSha256, recompress: { formSize: encoded.formSize } }, "delta");
}

async function timed<T>(observe: EngineObservations | undefined, work: () => Promise<T>): Promise<T> {
  const started = Date.now();
  try {
    return await work();
  } finally {
    if (observe) observe.codecMs = (observe.codecMs ?? 0) + (Date.now() - started);
  }
}

/** Write `<name>.delta` (+ sidecar) for an encoded delta; the buffer is discarded either way. */
async function writeDelta(
  ctx: EngineContext, parsed: ParsedKey, base: DgRecord, delta: DeltaBuffer,
  against: Pick<DgRecord, "refKey" | "refSha256" | "recompress">, storageType: "reference" | "delta",
): Promise<PutResult> {
  try {
    const record: DgRecord = {
      ...base,
      kind: "delta",
      note: "delta",
      ...against,
      deltaSize: delta.size,
      deltaCmd: deltaCommand(parsed.name),
    };
    const storedKey = deltaKey(parsed.key);
    const stored = await delta.writeTo(storedKey, { metadata: encodeMetadata(record), contentType: STORED_CONTENT_TYPE });
    if (!stored) throw new S3Error("InternalError", "The backend refused the write.");
    // No re-check of the reference: our open intent pins it (the coordinator collects no reference of a
    // deltaspace with an open write), so it is still the one we encoded against.
    await writeSidecar(ctx, storedKey, record);
    return { etag: base.multipartEtag ?? base.md5!, storageType, storedSize: stored.size, size: base.size! };
  } finally {
    await delta.discard();
  }
}

interface ReferenceState {
  stored: StoredObject;
  sha256: string;
  /** This PUT created it (so its bytes are the body's). */
  seeded: boolean;
}

/**
 * The deltaspace's reference, seeding it from this body when there is none. Only the write whose turn the
 * coordinator gives (claimSeed; concurrent first uploads wait for it) creates it, with a conditional create,
 * so first uploads in many isolates agree on one reference even on a server whose create-if-absent is emulated
 * (HEAD then PUT). null when the reference's content hash is unknown (stripped metadata, no sidecar), or when
 * the wait for another seeder ran out and its reference is not there: no delta.
 */
async function ensureReference(
  ctx: EngineContext, refKey: string, parsed: ParsedKey, body: BodySource, base: DgRecord, seeding: Seeding,
): Promise<ReferenceState | null> {
  const existing = await ctx.backend.head(refKey);
  if (existing) return referenceOf(ctx, refKey, existing);
  if (await seeding.claim()) {
    try {
      return await seedReference(ctx, refKey, parsed, body, base);
    } finally {
      // Best effort: the intent's close ends the turn too.
      await seeding.done().catch((error) => console.warn(`engine: could not end the seeding turn: ${error}`));
    }
  }
  const late = await ctx.backend.head(refKey);
  return late && referenceOf(ctx, refKey, late);
}

/** Create the reference from this body unless one is there by now (conditional create); else use that one. */
async function seedReference(ctx: EngineContext, refKey: string, parsed: ParsedKey, body: BodySource, base: DgRecord): Promise<ReferenceState | null> {
  const record: DgRecord = {
    ...base,
    kind: "reference",
    note: "reference",
    originalName: REFERENCE_ORIGINAL_NAME,
    sourceName: parsed.key,
    multipartEtag: undefined,
    partSizes: undefined,
    userMetadata: {},
    checksums: {},
    http: {},
  };
  const created = await ctx.backend.put(refKey, await body.stream(), body.size, {
    metadata: encodeMetadata(record),
    contentType: STORED_CONTENT_TYPE,
    onlyIfAbsent: true,
  });
  if (created) {
    await writeSidecar(ctx, refKey, record);
    return { stored: created, sha256: body.sha256, seeded: true };
  }
  const existing = await ctx.backend.head(refKey); // an earlier seeder stored it
  return existing && referenceOf(ctx, refKey, existing);
}

/** An existing reference with its content hash; null when that is unknown (stripped metadata, no sidecar). */
async function referenceOf(ctx: EngineContext, refKey: string, existing: StoredObject): Promise<ReferenceState | null> {
  const record = decodeMetadata(existing.metadata) ?? await readSidecar(ctx, refKey);
  if (!record?.sha256) return null;
  return { stored: existing, sha256: record.sha256, seeded: false };
}

/**
 * Encode the target against the source; stop as soon as the delta reaches maxDeltaRatio × the original's size
 * (not worth keeping) and return null. A codec failure also means passthrough: the bytes are still stored,
 * just not compressed.
 */
async function encodeWithinRatio(
  ctx: EngineContext, source: SourceInfo, target: ReadableStream<Uint8Array>, targetSize: number, originalSize: number,
): Promise<DeltaBuffer | null> {
  const limit = ctx.config.maxDeltaRatio * originalSize;
  const buffer = new DeltaBuffer(ctx.backend, ctx.config.deltaBufferLimit);
  const reader = ctx.codec!.encode(source, target, { ...ctx.config.codec, targetSize }).getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (buffer.size + value.byteLength >= limit) {
        await reader.cancel("delta too large").catch(() => {});
        await buffer.discard();
        return null;
      }
      await buffer.add(value);
    }
    return buffer;
  } catch (error) {
    await reader.cancel(error).catch(() => {});
    await buffer.discard();
    if (error instanceof S3Error && error.code !== "InternalError") throw error;
    console.warn(`engine: delta encode failed, storing passthrough: ${error}`);
    return null;
  }
}

function lowerCaseKeys(record: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(record).map(([k, v]) => [k.toLowerCase(), v]));
}
