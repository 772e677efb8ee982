// The read side's first step: which stored variant a user key resolves to (its `.delta` or its plain object,
// the newest when an overwrite is half done), with the DeltaGlider record that describes it, and how that
// variant looks to the client (ObjectInfo). A delta opened for reading comes with its body (one GET).
import type { ObjectInfo } from "./api";
import { S3Error } from "../errors";
import type { StoredObject } from "../storage/backend";
import { readSidecar, type EngineContext } from "./context";
import { deltaKey } from "./deltaspace";
import { clientEtag, decodeMetadata, type DgRecord } from "./metadata";

export interface Resolved {
  stored: StoredObject;
  /** null: an object without DeltaGlider metadata, served as it is. */
  record: DgRecord | null;
  isDelta: boolean;
  /** The variant's body, fetched together with its metadata when opened for reading; the first read takes it. */
  body?: HeldBody;
}

/**
 * The key's newest usable variant. Two backend reads in parallel: the `.delta` and the plain key (GETs when the
 * caller will read, so the body comes with the metadata it was resolved by; else HEADs).
 *
 * An overwrite that switches variants writes the new one before its commit deletes the old one, so when both
 * reads miss, a switch completed between them (the missing new variant exists by the end of the later read):
 * the key is resolved once more, and absent only if it misses again. A miss therefore costs four reads.
 */
export async function resolve(ctx: EngineContext, key: string, forRead: boolean): Promise<Resolved | null> {
  return (await resolveOnce(ctx, key, forRead)) ?? resolveOnce(ctx, key, forRead);
}

async function resolveOnce(ctx: EngineContext, key: string, forRead: boolean): Promise<Resolved | null> {
  const [deltaRead, plainRead] = await Promise.allSettled([storedVariant(ctx, deltaKey(key), forRead), storedVariant(ctx, key, forRead)]);
  const bodies = [deltaRead, plainRead].map((read) => (read.status === "fulfilled" ? read.value?.body : undefined));
  const [body, plainBody] = bodies;
  try {
    if (deltaRead.status === "rejected") throw deltaRead.reason;
    if (plainRead.status === "rejected") throw plainRead.reason;
    const plain = plainRead.value ? await plainVariant(ctx, plainRead.value.stored) : null;
    // An unusable .delta is an error, unless the key's plain object is there to serve instead.
    const stored = deltaRead.value?.stored;
    const delta = stored
      ? await deltaVariant(ctx, key, stored).catch((error) => { if (plain) return null; throw error; })
      : null;
    // Mid-overwrite: the newest variant wins.
    const winner = delta && plain ? (createdAt(plain) > createdAt(delta) ? plain : delta) : delta ?? plain;
    if (!winner) return null;
    const held = winner === delta ? body : plainBody;
    for (const other of bodies) if (other !== held) await other?.discard();
    return held ? { ...winner, body: held } : winner;
  } catch (error) {
    for (const other of bodies) await other?.discard();
    throw error;
  }
}

function createdAt(variant: Resolved): number {
  return (variant.record?.createdAt ?? variant.stored.lastModified).getTime();
}

/** A `.delta` must carry a usable delta record (metadata or sidecar); anything else is an error, never raw bytes. */
async function deltaVariant(ctx: EngineContext, key: string, stored: StoredObject): Promise<Resolved> {
  let record = decodeMetadata(stored.metadata);
  if (!record) {
    const sidecar = await readSidecar(ctx, stored.key);
    if (sidecar && (!sidecar.deltaSize || sidecar.deltaSize === stored.size)) record = sidecar;
  }
  if (!record || record.kind !== "delta" || record.size === undefined) {
    throw new S3Error("InternalError", `The stored delta of ${JSON.stringify(key)} has no usable DeltaGlider metadata.`, { Key: key });
  }
  return { stored, record, isDelta: true };
}

/** A stored variant's metadata (HEAD), or, for a reader, its metadata and open body (one unranged GET); null if absent. */
async function storedVariant(ctx: EngineContext, storedKey: string, withBody: boolean): Promise<{ stored: StoredObject; body?: HeldBody } | null> {
  if (!withBody) {
    const stored = await ctx.backend.head(storedKey);
    return stored && { stored };
  }
  const object = await ctx.backend.get(storedKey);
  if (!object) return null;
  const { body, range: _range, ...stored } = object;
  return { stored, body: new HeldBody(body) };
}

/**
 * A stream opened ahead of its use, taken at most once. Whoever does not take it must discard it, so the
 * backend read does not stay open (open reads count against the request's connection limit).
 */
export class HeldBody {
  constructor(private stream: ReadableStream<Uint8Array> | undefined) {}

  take(): ReadableStream<Uint8Array> | undefined {
    const stream = this.stream;
    this.stream = undefined;
    return stream;
  }

  async discard(): Promise<void> {
    await this.take()?.cancel().catch(() => {});
  }
}

/** A plain object: managed passthrough, or unmanaged (no dg-* metadata) served as it is. */
async function plainVariant(ctx: EngineContext, stored: StoredObject): Promise<Resolved> {
  let record = decodeMetadata(stored.metadata);
  if (!record && ctx.config.sidecars) record = await readSidecar(ctx, stored.key);
  // A record that does not describe these bytes (stale sidecar, foreign layout) is not trusted.
  if (record && record.size !== undefined && record.size !== 0 && record.size !== stored.size) record = null;
  if (record) record = { ...record, kind: "passthrough" };
  return { stored, record, isDelta: false };
}


export function describe(key: string, { stored, record, isDelta }: Resolved): ObjectInfo {
  if (!record) {
    return {
      key,
      size: stored.size,
      etag: stored.etag,
      lastModified: stored.lastModified,
      http: stored.contentType ? { contentType: stored.contentType } : {},
      userMetadata: { ...stored.metadata },
      storageType: "passthrough",
      storedSize: stored.size,
      checksums: {},
    };
  }
  return {
    key,
    size: isDelta ? record.size! : stored.size,
    etag: clientEtag(record, isDelta ? undefined : stored.etag),
    lastModified: record.createdAt ?? stored.lastModified,
    http: { ...record.http },
    userMetadata: { ...record.userMetadata },
    storageType: isDelta ? "delta" : "passthrough",
    storedSize: stored.size,
    checksums: { ...record.checksums },
    sha256: record.sha256,
    partSizes: record.partSizes,
  };
}
