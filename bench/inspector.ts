// Isolate memory through the DevTools protocol of `wrangler dev --inspector-port`: `Runtime.getHeapUsage`
// (JS heap used + ArrayBuffer backing stores; WASM linear memory is not in it, bench/worker-entry.ts reports
// that). One client only (the inspector refuses a second one). Figures include garbage not yet collected, so a
// peak is an upper bound of what a request needed. For live memory (garbage excluded) see bench/gc-trace.ts.
//
// Measured limits (workerd 1.20260426): while one long request keeps the isolate busy (a 1 GiB
// CompleteMultipartUpload), inspector commands are answered late or not at all, so the samples of such a request
// are few (`samples` counts the answered ones). `HeapProfiler.collectGarbage` does not collect inside the call:
// V8 posts a GC task to the isolate's foreground task runner and answers when it has run, and workerd runs those
// tasks only when the isolate goes idle or a request arrives at an idle isolate. Until then every later command on
// the connection waits behind it: that is the "hang". So the bench forces GCs from inside the Worker instead.
import WebSocket from "ws";

export interface HeapUsage {
  usedSize: number;
  totalSize: number;
  embedderHeapUsedSize: number;
  backingStorageSize: number;
}

export const heapPlusBuffers = (u: HeapUsage): number => u.usedSize + u.backingStorageSize;

export class Inspector {
  private nextId = 1;
  private pending = new Map<number, (result: unknown) => void>();

  private constructor(private readonly socket: WebSocket) {
    // workerd restarting or dying resets the socket: pending calls time out, and the bench must not crash.
    socket.on("error", () => {});
    socket.on("message", (data) => {
      const message = JSON.parse(data.toString());
      // Only answers carry `result` or `error`; wrangler's inspector proxy also echoes some commands back.
      if (!("result" in message) && !("error" in message)) return;
      const resolve = this.pending.get(message.id);
      if (resolve) {
        this.pending.delete(message.id);
        resolve(message.result ?? message.error);
      }
    });
  }

  static async connect(port: number): Promise<Inspector> {
    const deadline = Date.now() + 20_000;
    let lastError: unknown;
    while (Date.now() < deadline) {
      try {
        const targets = (await (await fetch(`http://127.0.0.1:${port}/json`)).json()) as Array<{ webSocketDebuggerUrl?: string }>;
        const url = targets.find((t) => t.webSocketDebuggerUrl)?.webSocketDebuggerUrl;
        if (url) {
          const socket = new WebSocket(url);
          await new Promise((resolve, reject) => {
            socket.once("open", resolve);
            socket.once("error", reject);
          });
          return new Inspector(socket);
        }
      } catch (error) {
        lastError = error;
      }
      await new Promise((r) => setTimeout(r, 300));
    }
    throw new Error(`inspector on port ${port} not reachable: ${String(lastError)}`);
  }

  private call(method: string, params: object = {}, timeoutMs = 5000): Promise<unknown> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        resolve(undefined);
      }, timeoutMs);
      this.pending.set(id, (result) => {
        clearTimeout(timer);
        resolve(result);
      });
      this.socket.send(JSON.stringify({ id, method, params }));
    });
  }

  async heapUsage(): Promise<HeapUsage | undefined> {
    const result = (await this.call("Runtime.getHeapUsage")) as HeapUsage | undefined;
    return result && typeof result.usedSize === "number" ? result : undefined;
  }

  /** Samples heap usage every `intervalMs` while `work` runs; returns its result, the largest sample and how many answered. */
  async sampleDuring<T>(work: () => Promise<T>, intervalMs = 50): Promise<{ result: T; peak: HeapUsage | undefined; samples: number }> {
    let peak: HeapUsage | undefined;
    let samples = 0;
    let running = true;
    const take = (u: HeapUsage | undefined) => {
      if (!u) return;
      samples++;
      if (!peak || heapPlusBuffers(u) > heapPlusBuffers(peak)) peak = u;
    };
    const sampler = (async () => {
      while (running) {
        take(await this.heapUsage());
        await new Promise((r) => setTimeout(r, intervalMs));
      }
    })();
    try {
      const result = await work();
      take(await this.heapUsage()); // the request's garbage is still there right after it
      return { result, peak, samples };
    } finally {
      running = false;
      await sampler;
    }
  }

  close(): void {
    this.socket.close();
  }
}
