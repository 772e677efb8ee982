// A rebuild whose client stops or slows down gives the codec back. The decoder is pull-based and holds the
// isolate's one codec slot until its output has been read, so without this one client that never reads (or
// reads slowly) would stall every other delta GET and PUT of the isolate (up to the limiter's 15-minute wait).
// Once a decode's output has waited for its client STALL_MS in total while another job waited for the codec
// (one long stall or many short ones: a slow client), the rest of the decode is drained at full speed into a
// DeltaBuffer (memory up to a small limit, then `.dg/tmp/` parts), which ends the job and releases the codec;
// the client is then served from the spill, which is deleted afterwards (the staging sweep reclaims it if the
// isolate dies first). The stream's verifier sits downstream, so SHA-256 still gates the last byte; spilled
// parts are also checked against their own SHA-256 when read back.
//
// Measured with the request's own timers and Date.now(), which in workerd advances at each timer and I/O event:
// the timer is set from the request's pull, so it runs in that request's context (as the limiter's polls do)
// even while its response is blocked on the client.
import type { DeltaBuffer } from "./delta-buffer";

/** Output left waiting for its client this long in total, while another job waits for the codec, gives it back. */
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
  /** Since when the output waits for a pull that has not been counted yet; undefined while a pull runs. */
  let waitingSince: number | undefined;
  /** How long the output has waited for its client while the codec was contended. */
  let waitedMs = 0;
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
      if (stalledLongEnough()) spilled = startSpill();
      else watch();
    }, CHECK_MS);
  };
  // Counts the wait since the last look when another job waits for the codec now (to within CHECK_MS).
  const stalledLongEnough = () => {
    const now = Date.now();
    if (waitingSince !== undefined && policy.contended()) waitedMs += now - waitingSince;
    waitingSince = now;
    return waitedMs >= stallMs;
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
      if (!spilled && !ended && stalledLongEnough()) spilled = startSpill();
      waitingSince = undefined;
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
      waitingSince = Date.now();
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
