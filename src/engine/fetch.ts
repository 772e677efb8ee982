// GET/HEAD path: open a user key — resolve it to its stored variant (resolve.ts), describe it as the client
// sees it, and read it: passthrough objects stream straight from the backend (ranged); deltas rebuild
// (rebuild.ts) against their reference (reference-source.ts), verified before the last byte is served.
import type { OpenedObject, OpenOptions, ResolvedRange } from "./api";
import { ObjectChangedError, S3Error } from "../errors";
import type { EngineContext } from "./context";
import { reservedReason } from "./deltaspace";
import { readDelta } from "./rebuild";
import { describe, resolve, type Resolved } from "./resolve";

export async function openObject(ctx: EngineContext, key: string, options: OpenOptions = {}): Promise<OpenedObject | null> {
  if (!key || reservedReason(key)) return null;
  const resolved = await resolve(ctx, key, options.forRead ?? false);
  if (!resolved) return null;
  const info = describe(key, resolved);
  return {
    info,
    read: (range?: ResolvedRange) => (resolved.isDelta ? readDelta(ctx, key, resolved, info, range, options.observe) : readPlain(ctx, resolved, range)),
    discard: async () => resolved.body?.discard(),
  };
}

/**
 * A plain object's bytes: the body fetched at open when the whole object is read (the very version it was
 * resolved as, even if an overwrite deletes it meanwhile), else one ranged GET checked against the ETag.
 */
async function readPlain(ctx: EngineContext, { stored, body }: Resolved, range?: ResolvedRange): Promise<ReadableStream<Uint8Array>> {
  const held = range ? undefined : body?.take();
  if (held) return held;
  await body?.discard();
  const object = await ctx.backend.get(stored.key, range ? { offset: range.start, length: range.end - range.start + 1 } : undefined);
  // Deleted or replaced since it was resolved (an overwrite may have switched the key to its other variant).
  if (!object || object.etag !== stored.etag) {
    await object?.body.cancel().catch(() => {});
    throw new ObjectChangedError(stored.key);
  }
  return object.body;
}
