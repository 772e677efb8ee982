// Re-baseline (bad anchor): move a deltaspace onto a better reference and re-encode its objects, while every
// object stays readable byte-exact and concurrent writes stay correct. DeltaGlider's format has one
// reference.bin per deltaspace, which is never overwritten, so the move goes through plain objects:
//
//   unpack   every `.delta` is rewritten as a plain object with the same bytes and record (Last-Modified kept),
//            through the normal write path: a write intent, the new variant written before the commit deletes
//            the old one; the intent is exclusive and the write conditional on the object being the version
//            read, so a client's write of the key is never undone (it wins; the key is seen again later)
//   retire   once no `.delta` is left, the coordinator deletes reference.bin — under the deltaspace's lock and
//            only while no write is open there, the very rule of reference collection (docs "Guarantees")
//   seed     the chosen object is rewritten through the normal path: with no reference in place, it seeds one
//   repack   every other eligible plain object is rewritten through the normal path: a delta when it pays
//
// Storage is the state: which step comes next is read from the reference (absent → seed; the one the run
// started from → unpack/retire; any other → repack), and every prefix of the steps leaves each object
// readable (each is a whole variant before its other variant goes). The plan (`.dg/rebaseline/…`: the chosen
// key, the reference it started from, the sizes before, how far repack got) only lets an interrupted run
// resume where it was and report before/after; it is deleted when the run is done. A reader that resolved a
// `.delta` just before its unpack and reads the reference after its retirement continues from the plain copy
// (plain-copy.ts). Each call does what its time budget allows; the caller calls again until `done`.
import type { ObjectInfo } from "./api";
import { S3Error } from "../errors";
import type { StoredObject } from "../storage/backend";
import { readSidecar, STORED_CONTENT_TYPE, type EngineContext } from "./context";
import {
  INTERNAL_PREFIX, REFERENCE_NAME, classifyStoredKey, deltaspaceListPrefix, inflatedReferenceKey, isEligibleName, parseKey, referenceKey,
} from "./deltaspace";
import { openObject } from "./fetch";
import { decodeMetadata } from "./metadata";
import { ChunkPrint, sampleRateFor } from "./resemblance";
import { storeObject } from "./store";
import { asBytes } from "./streams";

/** Where a deltaspace's plan lives while a re-baseline of it runs (hidden, like all of `.dg/`). */
const PLAN_PREFIX = `${INTERNAL_PREFIX}rebaseline/`;

/** Time one call may spend before it answers "not done yet" (the object in hand is finished first). */
export const DEFAULT_REBASELINE_MS = 20_000;

/** How a deltaspace's bytes are stored (sidecars not counted: tiny, and equal before and after). */
export interface DeltaspaceUsage {
  objects: number;
  deltas: number;
  direct: number;
  logicalBytes: number;
  /** Deltas + direct objects + reference.bin. */
  storedBytes: number;
  referenceBytes: number;
  savedBytes: number;
  savedPercent: number;
}

export interface RebaselineStep {
  action: "plan" | "unpack" | "retire" | "seed" | "repack" | "finish";
  key?: string;
  /** What the step did: the storage type written, "changed" (a client wrote the key meanwhile: theirs stands), "absent", "busy"… */
  outcome: string;
}

export interface RebaselineOptions {
  /** The user key to seed the new reference from; default: the best by `evaluateRebaseline`. */
  reference?: string;
  maxMs?: number;
  /** Called after every step (progress reports; tests interrupt a run here). */
  onStep?: (step: RebaselineStep) => void | Promise<void>;
  now?: () => number;
}

export interface RebaselineProgress {
  deltaspace: string;
  reference: string;
  done: boolean;
  steps: RebaselineStep[];
  before: DeltaspaceUsage;
  after: DeltaspaceUsage | null;
}

interface Plan {
  v: 1;
  deltaspace: string;
  /** The user key the new reference is seeded from, and its content when the plan was made. */
  target: string;
  targetSha256: string;
  /** The reference the run moves away from (null: there was none). */
  fromSha256: string | null;
  startedAt: string;
  before: DeltaspaceUsage;
  /** repack has handled every key up to this one (listing order). */
  repacked: string | null;
}

export async function rebaseline(ctx: EngineContext, deltaspace: string, options: RebaselineOptions = {}): Promise<RebaselineProgress> {
  const now = options.now ?? Date.now;
  const deadline = now() + (options.maxMs ?? DEFAULT_REBASELINE_MS);
  const steps: RebaselineStep[] = [];
  const step = async (done: RebaselineStep) => {
    steps.push(done);
    await options.onStep?.(done);
  };
  let plan = await readPlan(ctx, deltaspace);
  if (plan && options.reference !== undefined && options.reference !== plan.target) {
    throw new S3Error("ConditionalRequestConflict", `A re-baseline of this deltaspace onto ${JSON.stringify(plan.target)} is in progress; finish it first.`);
  }
  if (!plan) {
    plan = await makePlan(ctx, deltaspace, options.reference);
    await writePlan(ctx, plan);
    await step({ action: "plan", key: plan.target, outcome: plan.fromSha256 ? "moving off the current reference" : "no reference yet" });
  }
  const started: Plan = plan;
  const progress = (done: boolean, after: DeltaspaceUsage | null): RebaselineProgress =>
    ({ deltaspace, reference: started.target, done, steps, before: started.before, after });

  while (now() < deadline) {
    const phase = await phaseOf(ctx, plan);
    if (phase === "unpack") {
      const deltas = await deltaKeys(ctx, deltaspace);
      if (deltas.length === 0) {
        const outcome = await ctx.coordinator.retireReference(deltaspace);
        await step({ action: "retire", outcome });
        if (outcome === "busy") await sleep(200); // a write in the deltaspace is open: it pins the reference
        continue;
      }
      for (const key of deltas) {
        if (now() >= deadline) break;
        await step({ action: "unpack", key, outcome: await rewrite(ctx, key, true) });
      }
    } else if (phase === "seed") {
      const outcome = await rewrite(ctx, plan.target, false);
      if (outcome === "absent") {
        await deletePlan(ctx, deltaspace);
        throw new S3Error("NoSuchKey", `The chosen reference ${JSON.stringify(plan.target)} was deleted during the re-baseline; every object is readable (stored plain). Run it again to choose another.`);
      }
      await step({ action: "seed", key: plan.target, outcome });
    } else {
      const next = await nextToRepack(ctx, plan);
      if (next === null) {
        const after = await measureDeltaspace(ctx, deltaspace);
        await deletePlan(ctx, deltaspace);
        await step({ action: "finish", outcome: `stored ${plan.before.storedBytes} → ${after.storedBytes} bytes` });
        return progress(true, after);
      }
      const outcome = await rewrite(ctx, next, false);
      plan = { ...plan, repacked: next };
      await writePlan(ctx, plan);
      await step({ action: "repack", key: next, outcome });
    }
  }
  return progress(false, null);
}

/** Which step comes next, read from storage: the reference there now decides. */
async function phaseOf(ctx: EngineContext, plan: Plan): Promise<"unpack" | "seed" | "repack"> {
  const reference = await ctx.backend.head(referenceKey(plan.deltaspace));
  if (!reference) return "seed";
  const sha = await recordedSha(ctx, reference);
  // The old one is still there: unpack. The chosen content, or one seeded meanwhile by a client's first upload: repack.
  return sha === plan.targetSha256 || sha !== plan.fromSha256 ? "repack" : "unpack";
}

/**
 * Rewrite one object with the bytes it holds, through the normal write path: an exclusive write intent, and
 * only if the key still holds the version that was read (a client's write since then stands). `passthrough`:
 * as a plain object; else as a normal PUT would store it (seeding, a delta when it pays).
 */
async function rewrite(ctx: EngineContext, key: string, passthrough: boolean): Promise<string> {
  const opened = await openObject(ctx, key, { forRead: true });
  if (!opened) return "absent";
  const { info } = opened;
  let body: ReadableStream<Uint8Array>;
  try {
    body = await opened.read();
  } catch (error) {
    await opened.discard();
    throw new S3Error("InternalError", `${JSON.stringify(key)} cannot be read, so it cannot be re-encoded (scrub the deltaspace): ${(error as Error).message}`);
  }
  try {
    const result = await storeObject(ctx, key, {
      body,
      size: info.size,
      http: info.http,
      userMetadata: info.userMetadata,
      checksums: info.checksums,
      multipartEtag: info.etag.includes("-") ? info.etag : undefined,
      partSizes: info.partSizes,
      precondition: (current) => {
        if (!sameVersion(current, info)) throw new S3Error("PreconditionFailed", "The object was written since it was read.");
      },
    }, { createdAt: info.lastModified, passthrough });
    return result.storageType;
  } catch (error) {
    if (error instanceof S3Error && error.code === "PreconditionFailed") return "changed";
    if (error instanceof S3Error && (error.code === "ConditionalRequestConflict" || error.code === "SlowDown")) return "busy";
    throw error;
  }
}

function sameVersion(current: ObjectInfo | null, read: ObjectInfo): boolean {
  return current !== null && current.etag === read.etag && current.sha256 === read.sha256
    && current.size === read.size && current.lastModified.getTime() === read.lastModified.getTime();
}

/** User keys stored as `.delta` directly in the deltaspace. */
async function deltaKeys(ctx: EngineContext, deltaspace: string): Promise<string[]> {
  const keys: string[] = [];
  await forEachStored(ctx, deltaspace, undefined, false, (stored) => {
    const kind = classifyStoredKey(stored.key);
    if (kind.kind === "delta") keys.push(kind.userKey);
    return true;
  });
  return keys;
}

/** The next plain object after the plan's repack position that a normal PUT would try as a delta. */
async function nextToRepack(ctx: EngineContext, plan: Plan): Promise<string | null> {
  let found: string | null = null;
  await forEachStored(ctx, plan.deltaspace, plan.repacked ?? undefined, true, (stored) => {
    if (classifyStoredKey(stored.key).kind !== "object" || !deltaCandidate(ctx, stored)) return true;
    const record = decodeMetadata(stored.metadata);
    if (!record?.sha256) return true; // not ours to re-encode (no recorded content)
    found = stored.key;
    return false;
  });
  return found;
}

function deltaCandidate(ctx: EngineContext, stored: StoredObject): boolean {
  const { config } = ctx;
  return config.compression && stored.size > 0 && stored.size <= config.maxDeltaObjectSize
    && isEligibleName(parseKey(stored.key).name, config.deltaExtensions);
}

/** Visit the objects stored directly in a deltaspace in listing order, while `visit` returns true. */
async function forEachStored(
  ctx: EngineContext, deltaspace: string, startAfter: string | undefined, includeMetadata: boolean,
  visit: (stored: StoredObject) => boolean,
): Promise<void> {
  const prefix = deltaspaceListPrefix(deltaspace);
  let cursor: string | undefined;
  do {
    const page = await ctx.backend.list({ prefix, delimiter: "/", startAfter, cursor, limit: 1000, includeMetadata });
    for (const stored of page.objects) {
      if (prefix === "" && stored.key.startsWith(INTERNAL_PREFIX)) continue;
      if (!visit(stored)) return;
    }
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor);
}

/** Count a deltaspace's objects and bytes, logical and stored (one listing with metadata, one HEAD). */
export async function measureDeltaspace(ctx: EngineContext, deltaspace: string): Promise<DeltaspaceUsage> {
  const usage = { objects: 0, deltas: 0, direct: 0, logicalBytes: 0, storedBytes: 0, referenceBytes: 0 };
  const stored: StoredObject[] = [];
  await forEachStored(ctx, deltaspace, undefined, true, (object) => { stored.push(object); return true; });
  for (const object of stored) {
    const kind = classifyStoredKey(object.key);
    if (parseKey(object.key).name === REFERENCE_NAME) {
      usage.referenceBytes += object.size;
      usage.storedBytes += object.size;
    } else if (kind.kind === "delta") {
      const record = decodeMetadata(object.metadata) ?? await readSidecar(ctx, object.key);
      usage.deltas++;
      usage.logicalBytes += record?.size ?? 0;
      usage.storedBytes += object.size;
    } else if (kind.kind === "object") {
      usage.direct++;
      usage.logicalBytes += object.size;
      usage.storedBytes += object.size;
    }
  }
  // The inflated reference (compressed-aware deltas) sits in the deltaspace's `.dg/` folder, outside this listing.
  const inflated = await ctx.backend.head(inflatedReferenceKey(deltaspace));
  if (inflated) {
    usage.referenceBytes += inflated.size;
    usage.storedBytes += inflated.size;
  }
  usage.objects = usage.deltas + usage.direct;
  return withSavings(usage);
}

function withSavings(usage: Omit<DeltaspaceUsage, "savedBytes" | "savedPercent">): DeltaspaceUsage {
  const savedBytes = usage.logicalBytes - usage.storedBytes;
  return { ...usage, savedBytes, savedPercent: usage.logicalBytes ? round1((100 * savedBytes) / usage.logicalBytes) : 0 };
}

// ------------------------------------------------------------------------------------------ evaluation

export interface ReferenceCandidate {
  key: string;
  size: number;
  /** Estimated stored bytes of the deltaspace with this object as its reference. */
  estimatedStoredBytes: number;
}

export interface RebaselineEvaluation {
  deltaspace: string;
  current: DeltaspaceUsage;
  /** The user key the current reference was seeded from (null: no reference, or not recorded). */
  currentReference: string | null;
  /** Best first (at most 5). */
  candidates: ReferenceCandidate[];
  best: ReferenceCandidate | null;
  /** current.storedBytes − best.estimatedStoredBytes (negative: the current reference is better). */
  estimatedSavingBytes: number;
}

/** Bytes a delta costs beyond the data it carries (VCDIFF header, window headers, LZMA framing). */
const DELTA_OVERHEAD = 64;

/**
 * What a re-baseline would reach: each eligible object is read once (rebuilt if it is a delta) into chunk
 * fingerprints (resemblance.ts); for each candidate reference the deltaspace's stored size is estimated as
 * its size + for every other object the bytes it does not share with it (or the object's size when that
 * would not pass maxDeltaRatio, as a PUT decides). Reads only.
 */
export async function evaluateRebaseline(ctx: EngineContext, deltaspace: string): Promise<RebaselineEvaluation> {
  const current = await measureDeltaspace(ctx, deltaspace);
  const objects = await eligibleObjects(ctx, deltaspace);
  const sample = sampleRateFor(Math.max(0, ...objects.map((o) => o.size)));
  const prints = new Map<string, ChunkPrint>();
  for (const object of objects) {
    const print = await fingerprint(ctx, object.key, sample);
    if (print) prints.set(object.key, print);
  }
  const untouched = current.storedBytes - current.referenceBytes - objects.reduce((sum, o) => sum + o.storedSize, 0);
  const candidates = [...prints.entries()].map(([key, reference]) => {
    let stored = reference.size + untouched;
    for (const [other, print] of prints) {
      if (other === key) stored += DELTA_OVERHEAD;
      else {
        const novel = print.novelBytes(reference) + DELTA_OVERHEAD;
        stored += novel < ctx.config.maxDeltaRatio * print.size ? novel : print.size;
      }
    }
    return { key, size: reference.size, estimatedStoredBytes: stored };
  }).sort((a, b) => a.estimatedStoredBytes - b.estimatedStoredBytes || (a.key < b.key ? -1 : 1));
  const best = candidates[0] ?? null;
  return {
    deltaspace,
    current,
    currentReference: await currentSource(ctx, deltaspace),
    candidates: candidates.slice(0, 5),
    best,
    estimatedSavingBytes: best ? current.storedBytes - best.estimatedStoredBytes : 0,
  };
}

/** Objects a PUT would try as deltas (eligible name and size, content recorded), with what they occupy now. */
async function eligibleObjects(ctx: EngineContext, deltaspace: string): Promise<Array<{ key: string; size: number; storedSize: number }>> {
  const found: Array<{ key: string; size: number; storedSize: number }> = [];
  const listed: StoredObject[] = [];
  await forEachStored(ctx, deltaspace, undefined, true, (stored) => { listed.push(stored); return true; });
  for (const stored of listed) {
    const kind = classifyStoredKey(stored.key);
    if (kind.kind === "internal") continue;
    const record = decodeMetadata(stored.metadata) ?? await readSidecar(ctx, stored.key);
    const size = kind.kind === "delta" ? record?.size : stored.size;
    if (!record?.sha256 || size === undefined) continue;
    if (!deltaCandidate(ctx, { ...stored, key: kind.userKey, size })) continue;
    found.push({ key: kind.userKey, size, storedSize: stored.size });
  }
  return found;
}

async function fingerprint(ctx: EngineContext, key: string, sample: number): Promise<ChunkPrint | null> {
  const opened = await openObject(ctx, key, { forRead: true });
  if (!opened) return null;
  const print = new ChunkPrint(sample);
  const reader = (await opened.read()).getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    print.update(asBytes(value));
  }
  return print.finish();
}

async function currentSource(ctx: EngineContext, deltaspace: string): Promise<string | null> {
  const reference = await ctx.backend.head(referenceKey(deltaspace));
  if (!reference) return null;
  return (decodeMetadata(reference.metadata) ?? await readSidecar(ctx, reference.key))?.sourceName ?? null;
}

// ------------------------------------------------------------------------------------------ the plan

async function makePlan(ctx: EngineContext, deltaspace: string, chosen: string | undefined): Promise<Plan> {
  const target = chosen ?? (await evaluateRebaseline(ctx, deltaspace)).best?.key;
  if (!target) throw new S3Error("InvalidArgument", "The deltaspace holds no object that could be its reference (eligible name and size, recorded SHA-256).");
  if (parseKey(target).deltaspace !== deltaspace) {
    throw new S3Error("InvalidArgument", `${JSON.stringify(target)} is not directly in deltaspace ${JSON.stringify(deltaspace)}.`);
  }
  const opened = await openObject(ctx, target);
  if (!opened) throw new S3Error("NoSuchKey", `There is no object ${JSON.stringify(target)}.`, { Key: target });
  const { info } = opened;
  if (!info.sha256 || !(ctx.config.compression && info.size > 0 && info.size <= ctx.config.maxDeltaObjectSize
    && isEligibleName(parseKey(target).name, ctx.config.deltaExtensions))) {
    throw new S3Error("InvalidArgument", `${JSON.stringify(target)} cannot be a reference: its name or size is not delta-eligible, or its content is not recorded.`);
  }
  const reference = await ctx.backend.head(referenceKey(deltaspace));
  return {
    v: 1,
    deltaspace,
    target,
    targetSha256: info.sha256,
    fromSha256: reference ? await recordedSha(ctx, reference) : null,
    startedAt: new Date().toISOString(),
    before: await measureDeltaspace(ctx, deltaspace),
    repacked: null,
  };
}

function planKey(deltaspace: string): string {
  return `${PLAN_PREFIX}ds-${encodeURIComponent(deltaspace)}.json`;
}

async function readPlan(ctx: EngineContext, deltaspace: string): Promise<Plan | null> {
  const object = await ctx.backend.get(planKey(deltaspace));
  if (!object) return null;
  const plan = JSON.parse(await new Response(object.body).text()) as Plan;
  return plan.v === 1 && plan.deltaspace === deltaspace ? plan : null;
}

async function writePlan(ctx: EngineContext, plan: Plan): Promise<void> {
  const bytes = new TextEncoder().encode(JSON.stringify(plan));
  await ctx.backend.put(planKey(plan.deltaspace), bytes, bytes.byteLength, { contentType: STORED_CONTENT_TYPE });
}

async function deletePlan(ctx: EngineContext, deltaspace: string): Promise<void> {
  await ctx.backend.delete([planKey(deltaspace)]);
}

async function recordedSha(ctx: EngineContext, stored: StoredObject): Promise<string | null> {
  return (decodeMetadata(stored.metadata) ?? await readSidecar(ctx, stored.key))?.sha256 ?? null;
}

function round1(value: number): number {
  return Math.round(value * 10) / 10;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
