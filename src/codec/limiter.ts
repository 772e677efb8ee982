// Per-isolate admission control for codec jobs. A Worker isolate has 128 MB for everything (JS heap, buffers,
// WASM memory of every concurrent request), and WASM memory of a job is only returned when the job ends. So each
// job reserves its WASM cap (maxMemory) from one isolate-wide budget before it instantiates, and waits in FIFO
// order while the budget is taken. With the defaults (64 MiB cap, 64 MiB budget) jobs run one at a time.

import { CodecError } from "./errors";

export class MemoryBudget {
  private used = 0;
  private readonly waiting: { bytes: number; grant: () => void }[] = [];

  constructor(readonly totalBytes: number) {}

  /** Resolves with a release function once `bytes` fit; rejects at once if they never can. */
  async acquire(bytes: number): Promise<() => void> {
    if (bytes > this.totalBytes) {
      throw new CodecError(
        "memory",
        `job needs a ${bytes}-byte WASM cap but the isolate codec budget is ${this.totalBytes} bytes`,
      );
    }
    if (this.waiting.length === 0 && this.used + bytes <= this.totalBytes) {
      this.used += bytes;
    } else {
      await waitKeepingRequestAlive(new Promise<void>((grant) => this.waiting.push({ bytes, grant })));
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.used -= bytes;
      this.admitWaiting();
    };
  }

  /** Bytes currently reserved by running jobs. */
  get reservedBytes(): number {
    return this.used;
  }

  private admitWaiting(): void {
    while (this.waiting.length > 0 && this.used + this.waiting[0].bytes <= this.totalBytes) {
      const next = this.waiting.shift()!;
      this.used += next.bytes;
      next.grant();
    }
  }
}

/**
 * workerd cancels a request whose only pending work is a promise another request will resolve ("your Worker's
 * code had hung"), which is exactly a waiter here (the grant comes from the job that finishes). A timer of the
 * waiter's own keeps it alive until the grant arrives.
 */
async function waitKeepingRequestAlive(granted: Promise<void>): Promise<void> {
  let done = false;
  void granted.then(() => { done = true; });
  while (!done) await Promise.race([granted, new Promise((tick) => setTimeout(tick, 100))]);
}
