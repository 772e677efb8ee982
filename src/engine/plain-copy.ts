// A delta read that fails goes on from the key's plain copy when that copy holds exactly the same bytes (the
// SHA-256 and size the delta records). A re-baseline (rebaseline.ts) writes such a copy of every delta before
// it retires their reference, so a GET that resolved a `.delta` just before its rewrite, and finds the
// reference gone when it reads it (at the start or mid-stream), still answers the object. Safe by
// construction: a whole read is still checked end to end against the recorded SHA-256 downstream, and a
// ranged one trusts the copy exactly as it trusts any plain object.
import type { StoredObject } from "../storage/backend";
import type { EngineContext } from "./context";
import { decodeMetadata, type DgRecord } from "./metadata";

/** The key's plain object if it records the same content as the delta's record; else null. */
async function identicalCopy(ctx: EngineContext, key: string, record: DgRecord): Promise<StoredObject | null> {
  const stored = await ctx.backend.head(key);
  if (!stored || stored.size !== record.size) return null;
  const plain = decodeMetadata(stored.metadata);
  return plain?.sha256 && plain.sha256 === record.sha256 ? stored : null;
}

/**
 * `decoded` yields the object's bytes [start, start + length); if it errors, the rest comes from the identical
 * plain copy, pinned to its ETag. Without such a copy the error goes on to the reader unchanged.
 */
export function continuedFromCopy(
  ctx: EngineContext, key: string, record: DgRecord, decoded: ReadableStream<Uint8Array>, start: number, length: number,
): ReadableStream<Uint8Array> {
  const reader = decoded.getReader();
  let copy: ReadableStreamDefaultReader<Uint8Array> | null = null;
  let emitted = 0;
  const openCopy = async (error: unknown): Promise<ReadableStreamDefaultReader<Uint8Array>> => {
    const stored = emitted < length ? await identicalCopy(ctx, key, record).catch(() => null) : null;
    if (!stored) throw error;
    const object = await ctx.backend.get(key, { offset: start + emitted, length: length - emitted });
    if (!object || object.etag !== stored.etag) {
      await object?.body.cancel().catch(() => {});
      throw error;
    }
    return object.body.getReader();
  };
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (!copy) {
        try {
          const next = await reader.read();
          if (next.done) return controller.close();
          emitted += next.value.byteLength;
          return controller.enqueue(next.value);
        } catch (error) {
          copy = await openCopy(error);
        }
      }
      const next = await copy.read();
      if (next.done) controller.close();
      else controller.enqueue(next.value);
    },
    cancel: (reason) => (copy ?? reader).cancel(reason),
  }, { highWaterMark: 0 });
}

/** A stream that fails at once: a rebuild that could not start (its reference is gone), for continuedFromCopy. */
export function failedStream(error: unknown): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({ start: (controller) => controller.error(error) });
}
