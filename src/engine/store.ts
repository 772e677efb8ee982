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
//   always:                 coordinator begin() + commit() (two Durable Object calls in the Worker); the
//                           commit carries what was stored (sizes, form, a seeded reference) for the savings totals
//   conditional (If-…):     + open() of the current object (HEAD of `.delta` and `<key>`) under the exclusive intent
//   gzip/zip content:       + two more reads of B (take apart, rebuild and compare: recompressed.ts); the target
//                           is then the inflated form, its source the reference's inflated form made on demand
//                           (reference-form.ts: two reads of reference.bin to learn its size and SHA-256 unless
//                           the reference cache knows them, then reads of it as the encoder asks; nothing written)
//
// What a request that dies at each step leaves behind, and who reclaims it:
//   staging write / spilled parts   `.dg/tmp/…`, invisible: the request's finally; else the hourly cron (> 1 day)
//   after begin()                   an open intent: expires after 1 h (the coordinator's alarm closes it)
//   reference.bin seeded            pinned by the intent; collected when the intent closes (abort or expiry)
//                                   if no object is left in the deltaspace
//   variant (+ sidecar) written     a complete object (its reference is pinned), visible; at the intent's
//                                   close the coordinator keeps whichever variant a GET picks (newest)
import type { EngineObservations, PassthroughReason, PutInput, PutResult } from "./api";
import type { CommitFacts, ReferenceFacts, Variant } from "../coordination/api";
import { S3Error } from "../errors";
import type { StoredObject } from "../storage/backend";
import { acceptBody, referenceSource, type BodySource } from "./body";
import { STORED_CONTENT_TYPE, readSidecar, writeSidecar, type EngineContext } from "./context";
import { DeltaBuffer } from "./delta-buffer";
import type { SourceInfo } from "../codec/api";
import type { ContainerFormat } from "./containers";
import { inflatedTarget, planRecompression, sniffBody } from "./recompressed";
import { referenceForm, referenceFormSource, type ReferenceInUse } from "./reference-form";
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

/**
 * How a re-baseline (rebaseline.ts) rewrites an object it did not receive from a client: the same bytes and
 * record, so its Last-Modified stays (`createdAt`), and as a plain object when it must not depend on the
 * deltaspace's reference (`passthrough`).
 */
export interface Rewrite {
  createdAt: Date;
  passthrough: boolean;
}

export async function storeObject(ctx: EngineContext, key: string, input: PutInput, rewrite?: Rewrite): Promise<PutResult> {
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
      const seeding: Seeding = {
        claim: () => ctx.coordinator.claimSeed(ticket),
        done: (references) => ctx.coordinator.seedDone(ticket, references),
      };
      const { result, variant, facts } = await storeVariant(ctx, parsed, body, input, userMetadata, seeding, rewrite);
      await ctx.coordinator.commit(ticket, variant, facts);
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
  /** For the savings totals: what the key now occupies (variant + sidecar) and the reference this PUT created. */
  facts: CommitFacts;
}

/** What a store path wrote: the answer, its sidecar's bytes, the reference it created. */
interface Written {
  result: PutResult;
  sidecarBytes: number;
  references?: ReferenceFacts[];
}

/** The coordinator's turn to create the deltaspace's reference (one seeder at a time), and its end. */
interface Seeding {
  claim(): Promise<boolean>;
  /** `references`: the reference objects this PUT created (for the savings totals); none when it found one there. */
  done(references?: ReferenceFacts[]): Promise<void>;
}

async function storeVariant(
  ctx: EngineContext, parsed: ParsedKey, body: BodySource, input: PutInput, userMetadata: Record<string, string>,
  seeding: Seeding, rewrite?: Rewrite,
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
    createdAt: rewrite?.createdAt ?? new Date(),
    http: { ...(input.http ?? {}) },
    userMetadata,
    checksums: { ...(input.checksums ?? {}) },
  };
  const references: ReferenceFacts[] = [];
  let reason: PassthroughReason | null = rewrite?.passthrough ? "rewrite" : whyNoDelta(ctx, parsed, body.size);
  if (!reason) {
    const stored = await tryStoreDelta(ctx, parsed, body, base, seeding, input.observe, (made) => { references.push(...made); });
    if ("result" in stored) return { result: stored.result, variant: "delta", facts: commitFacts({ ...stored, references }, "delta") };
    reason = stored.passthrough;
  }
  // A seeding upload whose own delta did not pay keeps the reference it created: still booked.
  const written = { ...(await storePassthrough(ctx, parsed, body, base)), references };
  return { result: { ...written.result, passthroughReason: reason }, variant: "plain", facts: commitFacts(written, "direct") };
}

function commitFacts(written: Written, form: "delta" | "direct"): CommitFacts {
  const { result } = written;
  return {
    object: { form, size: result.size, variantBytes: result.storedSize, storedBytes: result.storedSize + written.sidecarBytes },
    storageType: result.storageType,
    references: written.references?.length ? written.references : undefined,
  };
}

/** Why this write cannot be a delta at all, or null when it may be one. */
function whyNoDelta(ctx: EngineContext, parsed: ParsedKey, size: number): PassthroughReason | null {
  const { config } = ctx;
  if (!ctx.codec || !config.compression || !isEligibleName(parsed.name, config.deltaExtensions)) return "ineligible";
  if (size === 0) return "empty";
  if (size > config.maxDeltaObjectSize) return "too-large";
  return null;
}

async function storePassthrough(ctx: EngineContext, parsed: ParsedKey, body: BodySource, base: DgRecord): Promise<Written> {
  const record: DgRecord = { ...base, kind: "passthrough", note: "passthrough" };
  const stored = await ctx.backend.put(parsed.key, await body.stream(), body.size, {
    metadata: encodeMetadata(record),
    contentType: STORED_CONTENT_TYPE,
  });
  if (!stored) throw new S3Error("InternalError", "The backend refused the write.");
  // The old variant goes at commit (the coordinator), after this one is whole: a GET never finds neither.
  const sidecarBytes = await writeSidecar(ctx, parsed.key, record);
  return { result: { etag: base.multipartEtag ?? body.md5, storageType: "passthrough", storedSize: stored.size, size: body.size }, sidecarBytes };
}

/** Store as a delta when it pays; else why not (the caller stores it as-is). */
async function tryStoreDelta(
  ctx: EngineContext, parsed: ParsedKey, body: BodySource, base: DgRecord, seeding: Seeding, observe: EngineObservations | undefined,
  onReferences: (references: ReferenceFacts[]) => void,
): Promise<Written | { passthrough: PassthroughReason }> {
  const refKey = referenceKey(parsed.deltaspace);
  const reference = await ensureReference(ctx, refKey, parsed, body, base, seeding);
  if (!reference) return { passthrough: "no-reference" };
  if (reference.seeded) onReferences([{ key: refKey, storedBytes: reference.storedBytes }]);
  // The next GET of a delta against this reference can then decode from cached blocks without reading its metadata.
  await ctx.referenceCache?.rememberReferenceSize?.(reference.sha256, reference.stored.size);

  // The seeding upload keeps its plain self-delta (DeltaGlider reads it); later versions may go compressed-aware.
  const format = !reference.seeded && ctx.config.compressedDeltas ? await sniffBody(body) : null;
  if (format) {
    const stored = await tryStoreRecompressed(ctx, parsed, body, base, { key: refKey, ...reference }, format, observe);
    if (stored) return stored;
    // A plain delta of gzip content is 87–99.7 % of it (docs/PERFORMANCE.md): not worth the encode.
    if (format === "gzip") return { passthrough: "ratio" };
  }
  const source = reference.seeded
    ? body.asSource()
    : referenceSource(ctx.backend, refKey, reference.stored, reference.sha256, ctx.referenceCache, ENCODER_READS);
  const delta = await timed(observe, async () => encodeWithinRatio(ctx, source, await body.stream(), body.size, body.size));
  if (!(delta instanceof DeltaBuffer)) return delta;
  return writeDelta(ctx, parsed, base, delta, { refKey, refSha256: reference.sha256 }, reference.seeded ? "reference" : "delta");
}

/**
 * A compressed-aware delta (recompressed.ts): planned and verified (the whole object rebuilt from its inflated
 * form and compared with the body), then the inflated form encoded against the inflated form of the reference,
 * made on demand from reference.bin (reference-form.ts; nothing is stored for it). null: take today's path.
 * Anything unexpected in here also means today's path, never a failed PUT.
 */
async function tryStoreRecompressed(
  ctx: EngineContext, parsed: ParsedKey, body: BodySource, base: DgRecord, reference: ReferenceInUse,
  format: ContainerFormat, observe: EngineObservations | undefined,
): Promise<Written | null> {
  let encoded: { delta: DeltaBuffer; against: NonNullable<DgRecord["recompress"]>; refSha256: string } | null;
  try {
    encoded = await timed(observe, async () => {
      const plan = await planRecompression(ctx, body, format);
      const form = plan && await referenceForm(ctx, reference);
      if (!plan || !form) return null;
      const source = await referenceFormSource(ctx, reference, form, ENCODER_READS);
      const delta = await encodeWithinRatio(ctx, source, await inflatedTarget(body, plan), plan.formSize, body.size);
      if (!(delta instanceof DeltaBuffer)) return null;
      return { delta, refSha256: form.sha256, against: { formSize: plan.formSize, formVersion: form.version, reference: { size: form.size, from: form.from } } };
    });
  } catch (error) {
    if (error instanceof S3Error && error.code !== "InternalError") throw error;
    console.warn(`engine: compressed-aware delta failed, taking the plain path: ${error}`);
    return null;
  }
  if (!encoded) return null;
  return writeDelta(ctx, parsed, base, encoded.delta, { refKey: reference.key, refSha256: encoded.refSha256, recompress: encoded.against }, "delta");
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
): Promise<Written> {
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
    const sidecarBytes = await writeSidecar(ctx, storedKey, record);
    return { result: { etag: base.multipartEtag ?? base.md5!, storageType, storedSize: stored.size, size: base.size! }, sidecarBytes };
  } finally {
    await delta.discard();
  }
}

interface ReferenceState {
  stored: StoredObject;
  sha256: string;
  /** This PUT created it (so its bytes are the body's). */
  seeded: boolean;
  /** When seeded: reference.bin and its sidecar, in bytes. */
  storedBytes: number;
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
    let state: ReferenceState | null = null;
    try {
      state = await seedReference(ctx, refKey, parsed, body, base);
      return state;
    } finally {
      // Best effort: the intent's close ends the turn too (and then books the reference from storage).
      const created = state?.seeded ? [{ key: refKey, storedBytes: state.storedBytes }] : undefined;
      await seeding.done(created).catch((error) => console.warn(`engine: could not end the seeding turn: ${error}`));
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
    const sidecarBytes = await writeSidecar(ctx, refKey, record);
    return { stored: created, sha256: body.sha256, seeded: true, storedBytes: created.size + sidecarBytes };
  }
  const existing = await ctx.backend.head(refKey); // an earlier seeder stored it
  return existing && referenceOf(ctx, refKey, existing);
}

/** An existing reference with its content hash; null when that is unknown (stripped metadata, no sidecar). */
async function referenceOf(ctx: EngineContext, refKey: string, existing: StoredObject): Promise<ReferenceState | null> {
  const record = decodeMetadata(existing.metadata) ?? await readSidecar(ctx, refKey);
  if (!record?.sha256) return null;
  return { stored: existing, sha256: record.sha256, seeded: false, storedBytes: existing.size };
}

/**
 * Encode the target against the source; stop as soon as the delta reaches maxDeltaRatio × the original's size
 * (not worth keeping) and say so. A codec failure also means passthrough: the bytes are still stored,
 * just not compressed.
 */
async function encodeWithinRatio(
  ctx: EngineContext, source: SourceInfo, target: ReadableStream<Uint8Array>, targetSize: number, originalSize: number,
): Promise<DeltaBuffer | { passthrough: "ratio" | "codec-error" }> {
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
        return { passthrough: "ratio" };
      }
      await buffer.add(value);
    }
    return buffer;
  } catch (error) {
    await reader.cancel(error).catch(() => {});
    await buffer.discard();
    if (error instanceof S3Error && error.code !== "InternalError") throw error;
    console.warn(`engine: delta encode failed, storing passthrough: ${error}`);
    return { passthrough: "codec-error" };
  }
}

function lowerCaseKeys(record: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(record).map(([k, v]) => [k.toLowerCase(), v]));
}
