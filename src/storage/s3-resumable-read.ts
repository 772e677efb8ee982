// Downloads from the remote S3 server that survive a reset: a body that stalls or breaks mid-stream is
// resumed with a ranged GET pinned to the first answer's ETag (If-Match), so the reader gets the original
// bytes or an error — never a splice of two versions, and never a silently short body.
import { S3Error } from "../errors";
import { backoffDelay, sleep, type StallWatchdog } from "./retry";
import { throughWatchdog, type S3Caller } from "./s3-call";

export interface ResumableRead {
  caller: S3Caller;
  /** The object's URL and key (for logs). */
  url: string;
  key: string;
  /** The ETag of the first answer: every resume must see the same object. */
  etag: string;
  /** The first answer, its body not yet read, and the watchdog of its call (still running). */
  first: Response;
  firstWatchdog: StallWatchdog;
  /** Where the first answer's body starts in the object, and how many bytes it carries. */
  start: number;
  length: number;
}

export function resumableBody({ caller, url, key, etag, first, firstWatchdog, start, length }: ResumableRead): ReadableStream<Uint8Array> {
  let watchdog = firstWatchdog;
  let reader = throughWatchdog(first, watchdog).getReader();
  let received = 0;
  let resumes = 0;
  const reopen = async (): Promise<void> => {
    const end = start + length - 1;
    const { response, watchdog: next } = await caller.call({
      op: "GetObject(resume)", method: "GET", url, retry: true,
      headers: { range: `bytes=${start + received}-${end}`, "if-match": `"${etag}"` },
    });
    watchdog = next;
    reader = throughWatchdog(response, watchdog).getReader();
  };
  return new ReadableStream<Uint8Array>({
    pull: async (controller) => {
      for (;;) {
        let failure: unknown;
        try {
          const { done, value } = await reader.read();
          if (!done) {
            received += value.byteLength;
            if (received > length) throw new Error("the backend sent more bytes than announced");
            controller.enqueue(value);
            return;
          }
          if (received === length) {
            watchdog.stop();
            controller.close();
            return;
          }
          failure = new Error(`body ended after ${received} of ${length} bytes`);
        } catch (error) {
          failure = error;
        }
        watchdog.stop();
        if (++resumes >= Math.max(1, caller.retry.attempts)) {
          controller.error(caller.failure("GetObject(body)", key, { timeout: watchdog.stalled, message: String(failure) }));
          return;
        }
        await sleep(backoffDelay(caller.retry, resumes));
        try {
          await reopen();
        } catch (error) {
          // 412 here means the object was replaced mid-read: never splice two versions.
          controller.error(error instanceof S3Error ? error : caller.failure("GetObject(resume)", key, { message: String(error) }));
          return;
        }
      }
    },
    cancel: async (reason) => {
      watchdog.stop();
      await reader.cancel(reason).catch(() => {});
    },
  });
}
