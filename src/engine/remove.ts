// DELETE path: validate user keys, then hand them to the coordinator, which removes every stored variant
// (delta, passthrough, their sidecars) under the keys' locks and collects a deltaspace's reference.bin when
// no object and no open write is left in it (DeltaGlider's GC rule; docs/ARCHITECTURE.md "Guarantees").
import type { DeleteOutcome } from "./api";
import { S3Error } from "../errors";
import { type EngineContext } from "./context";
import { parseUserKey } from "./deltaspace";

export async function deleteObject(ctx: EngineContext, key: string): Promise<void> {
  parseUserKey(key);
  const failed = await ctx.coordinator.remove([key]);
  if (failed.length > 0) throw new S3Error("InternalError", "The object could not be deleted.");
}

/** Batch delete: one coordinator call; it deletes 250 keys per backend call and checks each touched deltaspace once. */
export async function deleteObjects(ctx: EngineContext, keys: string[]): Promise<DeleteOutcome[]> {
  const outcomes: DeleteOutcome[] = [];
  const accepted: string[] = [];
  for (const key of keys) {
    try {
      parseUserKey(key);
      accepted.push(key);
      outcomes.push({ key });
    } catch (error) {
      outcomes.push({ key, error: outcomeError(error) });
    }
  }
  const failed = new Set(accepted.length > 0 ? await ctx.coordinator.remove(accepted) : []);
  for (const outcome of outcomes) {
    if (!outcome.error && failed.has(outcome.key)) outcome.error = { code: "InternalError", message: "The object could not be deleted." };
  }
  return outcomes;
}

function outcomeError(error: unknown): { code: string; message: string } {
  if (error instanceof S3Error) return { code: error.code, message: error.message };
  return { code: "InternalError", message: String(error) };
}
