// A rebuild whose client stops reading gives the codec back. The decoder is pull-based and holds the isolate's
// one codec slot until its output has been read, so without this one client that never reads would stall
// every other delta GET and PUT of the isolate (up to the limiter's 15-minute wait). When a decode's output
// has not been pulled for STALL_MS while another job waits for the codec, the rest of the decode is drained at
// full speed into a DeltaBuffer (memory up to a small limit, then `.dg/tmp/` parts), which ends the job and
// releases the codec; the client is then served from the spill, which is deleted afterwards (the staging
// sweep reclaims it if the isolate dies first). The stream's verifier sits downstream, so SHA-256 still gates
// the last byte; spilled parts are also checked against their own SHA-256 when read back.
import type { DeltaBuffer } from "./delta-buffer";

/** Output not pulled for this long, while another job waits for the codec, counts as a stalled client. */
export const STALL_MS = 1_000;
/** How often a decode whose output is not being pulled checks for a stall. */
const CHECK_MS = 200;

export interface StallPolicy {
  /** Whether another job is waiting for the codec (only then is a stalled decode spilled). */
  contended: () => boolean;
  /** Where the rest of a stalled decode goes. */
  spill: () => DeltaBuffer;
  stallMs?: number;
}

export function releaseCodecWhenStalled(decoded: ReadableStream<Uint8Array>, policy: StallPolicy): ReadableStream<Uint8Array> {
  const reader = decoded.getReader();
  const stallMs = policy.stallMs ?? STALL_MS;
  let idleSince = 0;
  let ended = false;
  let watcher: ReturnType<typeof setTimeout> | undefined;
  let spilled: { buffer: DeltaBuffer; drained: Promise<{ error: unknown } | null> } | undefined;
  let replay: ReadableStreamDefaultReader<Uint8Array> | undefined;

  const stopWatching = () => {
    if (watcher !== undefined) clearTimeout(watcher);
    watcher = undefined;
  };
  // The timer is set from the request's own pull, so it fires in the request's context (as the limiter's polls).
  const watch = () => {
    watcher = setTimeout(() => {
      watcher = undefined;
      if (ended || spilled) return;
      if (Date.now() - idleSince >= stallMs && policy.contended()) spilled = startSpill();
      else watch();
    }, CHECK_MS);
  };
  const startSpill = () => {
    const buffer = policy.spill();
    const drained = (async () => {
      try {
        for (;;) {
          const next = await reader.read();
          if (next.done) return null;
          await buffer.add(next.value);
        }
      } catch (error) {
        // Delivered after the bytes before it, exactly where the direct stream would have failed.
        return { error };
      }
    })();
    return { buffer, drained };
  };
  const finish = async () => {
    ended = true;
    stopWatching();
    await spilled?.buffer.discard();
  };

  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      stopWatching();
      if (spilled) return replayInto(controller);
      const next = await reader.read().catch(async (error: unknown) => {
        ended = true;
        throw error;
      });
      if (next.done) {
        ended = true;
        controller.close();
        return;
      }
      controller.enqueue(next.value);
      idleSince = Date.now();
      watch();
    },
    async cancel(reason) {
      ended = true;
      stopWatching();
      if (replay) await replay.cancel(reason).catch(() => {});
      await reader.cancel(reason).catch(() => {});
      await spilled?.drained;
      await finish();
    },
  }, { highWaterMark: 0 });

  async function replayInto(controller: ReadableStreamDefaultController<Uint8Array>): Promise<void> {
    const { buffer, drained } = spilled!;
    const failure = await drained;
    replay ??= buffer.stream().getReader();
    let next: ReadableStreamReadResult<Uint8Array>;
    try {
      next = await replay.read();
    } catch (error) {
      await finish();
      throw error;
    }
    if (!next.done) {
      controller.enqueue(next.value);
      return;
    }
    await finish();
    if (failure) controller.error(failure.error);
    else controller.close();
  }
}
