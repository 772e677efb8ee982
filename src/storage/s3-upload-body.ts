// The body of a streamed upload to the remote S3 server, shaped so that a half-written object can never be
// stored: S3 stores an object only once all Content-Length bytes arrived, so a source that errors, or turns out
// shorter or longer than declared, must be cut off before its last byte is sent.
import { S3Error } from "../errors";
import type { StallWatchdog } from "./retry";

/**
 * The upload body: exactly `length` bytes, or an error before the last of them is sent. The final chunk is
 * held back until the source has ended and the count is exact, so a short or long source can never make the
 * server see a complete request (it would then store a wrong object). FixedLengthStream declares the length
 * (S3 requires Content-Length) without buffering.
 */
export function sizedUploadBody(
  source: ReadableStream<Uint8Array>, length: number, watchdog: StallWatchdog, signal: AbortSignal,
): { readable: ReadableStream<Uint8Array>; done: Promise<void> } {
  let held: Uint8Array | undefined;
  let seen = 0;
  const tooLong = () => new S3Error("IncompleteBody", "The request body is longer than its declared length.");
  const holdBack = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      watchdog.kick();
      seen += chunk.byteLength;
      if (seen > length) throw tooLong();
      if (held) controller.enqueue(held);
      held = chunk;
    },
    flush(controller) {
      if (seen !== length) throw new S3Error("IncompleteBody", "The request body ended before its declared length.");
      if (held) controller.enqueue(held);
    },
  });
  const { readable, writable } = new FixedLengthStream(length);
  const done = source.pipeThrough(holdBack).pipeTo(writable, { signal });
  return { readable, done };
}
