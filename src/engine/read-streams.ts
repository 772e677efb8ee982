// Stream wrappers of the read path: exactly-this-long, clean-up-on-failure, first-chunk-before-headers
// (a corrupt delta is a clean S3 error, not a cut-off response), and streams over a generator.
import { objectChangedCause, S3Error } from "../errors";

/** Passes exactly `length` bytes, holding the last piece back until the stream has ended at that length. */
export function exactLength(length: number, mismatch: () => Error): TransformStream<Uint8Array, Uint8Array> {
  let seen = 0;
  let held: Uint8Array | undefined;
  return new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      seen += chunk.byteLength;
      if (seen > length) throw mismatch();
      if (held) controller.enqueue(held);
      held = chunk;
    },
    flush(controller) {
      if (seen !== length) throw mismatch();
      if (held) controller.enqueue(held);
    },
  });
}

/** `head`, then everything `rest` yields (rest is not pulled before head has been taken). */
function prependBytes(head: Uint8Array, rest: ReadableStream<Uint8Array>): ReadableStream<Uint8Array> {
  let pending: Uint8Array | undefined = head;
  let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (pending) {
        controller.enqueue(pending);
        pending = undefined;
        return;
      }
      reader ??= rest.getReader();
      const next = await reader.read();
      if (next.done) controller.close();
      else controller.enqueue(next.value);
    },
    cancel(reason) {
      return reader ? reader.cancel(reason) : rest.cancel(reason);
    },
  }, { highWaterMark: 0 });
}

/**
 * Runs `cleanup` (awaited) before a stream's error reaches its reader. A rebuild that fails (codec error or
 * size/SHA-256 mismatch) drops the reference's cached blocks: one of them may be a valid-looking copy of the
 * wrong bytes; dropping good blocks only costs a refill.
 */
export function onFailure(stream: ReadableStream<Uint8Array>, cleanup: () => Promise<void>): ReadableStream<Uint8Array> {
  const reader = stream.getReader();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      let next: ReadableStreamReadResult<Uint8Array>;
      try {
        next = await reader.read();
      } catch (error) {
        await cleanup().catch((e) => console.warn(`engine: could not evict cached reference blocks: ${e}`));
        throw error;
      }
      if (next.done) controller.close();
      else controller.enqueue(next.value);
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  }, { highWaterMark: 0 });
}

/**
 * Wait for the first verified chunk before handing the stream out, so a corrupt delta or reference is a
 * clean error before any response header (for objects up to one codec chunk: after full verification).
 */
export async function primed(stream: ReadableStream<Uint8Array>, key: string): Promise<ReadableStream<Uint8Array>> {
  const reader = stream.getReader();
  let first: ReadableStreamReadResult<Uint8Array>;
  try {
    first = await reader.read();
  } catch (error) {
    if (error instanceof S3Error) throw error;
    // The codec wraps a failed delta read; a changed object stays recognisable, so the caller can open it again.
    const changed = objectChangedCause(error);
    if (changed) throw changed;
    throw new S3Error("InternalError", `The stored delta of ${JSON.stringify(key)} could not be rebuilt: ${error instanceof Error ? error.message : error}`, { Key: key });
  }
  // Hand the rest on from where this read stopped; the first chunk goes out first.
  reader.releaseLock();
  return first.done ? stream : prependBytes(first.value, stream);
}

/** A pull-based stream over an async generator (cancelling it closes the generator). */
export function generatorStream(chunks: AsyncGenerator<Uint8Array>): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const next = await chunks.next();
      if (next.done) controller.close();
      else controller.enqueue(next.value);
    },
    async cancel() {
      await chunks.return(undefined);
    },
  }, { highWaterMark: 0 });
}
