// DELETE path: remove every stored variant of a user key (delta, passthrough, their sidecars), then collect
// the deltaspace's reference.bin when no object is left in the deltaspace (DeltaGlider's GC rule).
import type { DeleteOutcome } from "./api";
import { S3Error } from "../errors";
import { type EngineContext } from "./context";
import {
  REFERENCE_NAME, classifyStoredKey, compareKeys, deltaKey, deltaspaceListPrefix, parseUserKey, referenceKey, sidecarKey,
} from "./deltaspace";

const BACKEND_DELETE_BATCH = 1000;

function storedVariants(key: string): string[] {
  return [key, sidecarKey(key), deltaKey(key), sidecarKey(deltaKey(key))];
}

export async function deleteObject(ctx: EngineContext, key: string): Promise<void> {
  const parsed = parseUserKey(key);
  await ctx.backend.delete(storedVariants(key));
  await collectReference(ctx, parsed.deltaspace);
}

/** Batch delete: one backend call per 250 keys, then one reference check per touched deltaspace. */
export async function deleteObjects(ctx: EngineContext, keys: string[]): Promise<DeleteOutcome[]> {
  const outcomes: DeleteOutcome[] = [];
  const accepted: string[] = [];
  const deltaspaces = new Set<string>();
  for (const key of keys) {
    try {
      deltaspaces.add(parseUserKey(key).deltaspace);
      accepted.push(key);
      outcomes.push({ key });
    } catch (error) {
      outcomes.push({ key, error: outcomeError(error) });
    }
  }
  const stored = accepted.flatMap(storedVariants);
  const failed = new Set<string>();
  for (let i = 0; i < stored.length; i += BACKEND_DELETE_BATCH) {
    const batch = stored.slice(i, i + BACKEND_DELETE_BATCH);
    try {
      await ctx.backend.delete(batch);
    } catch (error) {
      for (const storedKey of batch) failed.add(userKeyOf(storedKey));
      console.error(`engine: batch delete failed: ${error}`);
    }
  }
  for (const outcome of outcomes) {
    if (!outcome.error && failed.has(outcome.key)) outcome.error = { code: "InternalError", message: "The object could not be deleted." };
  }
  for (const deltaspace of deltaspaces) {
    await collectReference(ctx, deltaspace).catch((error) => console.error(`engine: reference collection failed: ${error}`));
  }
  return outcomes;
}

function userKeyOf(storedKey: string): string {
  const plain = storedKey.endsWith(".meta") ? storedKey.slice(0, -".meta".length) : storedKey;
  return plain.endsWith(".delta") ? plain.slice(0, -".delta".length) : plain;
}

function outcomeError(error: unknown): { code: string; message: string } {
  if (error instanceof S3Error) return { code: error.code, message: error.message };
  return { code: "InternalError", message: String(error) };
}

/**
 * Delete `<deltaspace>/reference.bin` (and its sidecar) when no user object remains directly in the
 * deltaspace. Nested keys live in their own deltaspaces and do not depend on it.
 */
export async function collectReference(ctx: EngineContext, deltaspace: string): Promise<boolean> {
  const prefix = deltaspaceListPrefix(deltaspace);
  let sawReference = false;
  let startAfter: string | undefined;
  for (;;) {
    const page = await ctx.backend.list({ prefix, delimiter: "/", startAfter, limit: 1000 });
    for (const object of page.objects) {
      if (object.key === prefix + REFERENCE_NAME) sawReference = true;
      else if (classifyStoredKey(object.key).kind !== "internal") return false;
    }
    const last = [page.objects[page.objects.length - 1]?.key, page.commonPrefixes[page.commonPrefixes.length - 1]]
      .filter((k): k is string => k !== undefined).sort(compareKeys).pop();
    if (!page.truncated || last === undefined || last === startAfter) break;
    startAfter = last;
  }
  if (!sawReference) return false;
  const refKey = referenceKey(deltaspace);
  await ctx.backend.delete([refKey, sidecarKey(refKey)]);
  return true;
}
