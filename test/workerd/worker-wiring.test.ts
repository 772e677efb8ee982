// The Worker as deployed (the default export's fetch, built by the composition root src/wiring.ts) gives its
// engines the complete codec: a delta GET that has to queue behind another codec job gives up the `.delta` read
// it holds and re-opens it when its turn comes (docs/ARCHITECTURE.md "Connections"), which parallel ranged GETs
// of one object (`aws s3 cp`) depend on. Observed through R2 calls counted under the Worker's own bindings.
import { env } from "cloudflare:workers";
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { isolateCodecBudget } from "../../src/codec/index";
import worker from "../../src/index";
import { LocalCoordinator } from "../../src/coordination/local";
import { forRequest, servicesFor } from "../../src/wiring";
import { edited, pseudoRandom, sha256Hex } from "./engine-helpers";
import { DEV_CLIENT, ORIGIN } from "./s3-support";

const MiB = 1024 * 1024;

/** `bucket` with every get() recorded by key. */
function recordingGets(bucket: R2Bucket, gets: string[]): R2Bucket {
  return new Proxy(bucket, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        if (prop === "get") gets.push(args[0] as string);
        return value.apply(target, args);
      };
    },
  });
}

async function through(workerEnv: object, method: string, path: string, init: { headers?: Record<string, string>; body?: Uint8Array } = {}) {
  // Called directly (not through the runtime's fetch), a request carries only the headers it was given.
  const headers = { ...init.headers, ...(init.body ? { "content-length": String(init.body.byteLength) } : {}) };
  const request = await DEV_CLIENT.sign(`${ORIGIN}${path}`, { method, headers, body: init.body ?? null });
  const ctx = createExecutionContext();
  const response = await worker.fetch(request, workerEnv as never, ctx);
  return { response, settled: () => waitOnExecutionContext(ctx) };
}

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe("the Worker's wiring", () => {
  it("a ranged GET of a delta object that queues behind another decode re-opens its .delta instead of holding the read", async () => {
    const gets: string[] = [];
    const workerEnv = { ...(env as object), BUCKET: recordingGets(env.BUCKET, gets) };
    const prefix = `wiring-${crypto.randomUUID()}`;
    const seed = Math.floor(Math.random() * 1e9) + 1;
    const v1 = pseudoRandom(4 * MiB, seed);
    const v2 = edited(v1, seed + 1);
    for (const [name, body] of [["v1.zip", v1], ["v2.zip", v2]] as const) {
      const { response, settled } = await through(workerEnv, "PUT", `/default/${prefix}/${name}`, { body });
      expect(response.status).toBe(200);
      await response.arrayBuffer();
      await settled();
    }
    const deltaKey = `${prefix}/v2.zip.delta`;
    expect(await env.BUCKET.head(deltaKey)).not.toBeNull();

    // The first GET's response has started: its decode holds the isolate's codec budget until it is read.
    const first = await through(workerEnv, "GET", `/default/${prefix}/v2.zip`);
    expect(first.response.status).toBe(200);
    expect(isolateCodecBudget.reservedBytes).toBeGreaterThan(0);

    gets.length = 0;
    const second = through(workerEnv, "GET", `/default/${prefix}/v2.zip`, { headers: { range: "bytes=1000-2999" } });
    await until(() => isolateCodecBudget.waiting > 0, "the second GET queues for the codec");
    // (Compared by hash: vitest's element-by-element compare of MiB-sized arrays takes a minute.)
    expect(await sha256Hex(new Uint8Array(await first.response.arrayBuffer()))).toBe(await sha256Hex(v2));
    const { response, settled } = await second;
    expect(response.status).toBe(206);
    expect(new Uint8Array(await response.arrayBuffer())).toEqual(v2.slice(1000, 3000));
    await Promise.all([first.settled(), settled()]);

    // Opened with its body (1 GET), given up while queued, re-opened when the codec was free (1 more).
    expect(gets.filter((key) => key === deltaKey)).toHaveLength(2);
  });
});

describe("the Worker's wiring without the Durable Object binding", () => {
  it("keeps one in-memory coordinator per bucket for the isolate, so all its requests share the locks", async () => {
    const bindings: Record<string, unknown> = { ...env, DG_COORDINATOR: undefined, DG_DEV_CREDENTIALS: "true" };
    const built = servicesFor(bindings);
    const bucket = await built.buckets.require("default");
    const scoped = forRequest(built, createExecutionContext());
    expect(scoped.coordinators(bucket)).toBe(built.coordinators(bucket));
    expect(built.coordinators(bucket)).toBeInstanceOf(LocalCoordinator);
  });

  it("with the binding, each bucket coordinates through its Durable Object", async () => {
    const built = servicesFor({ ...env, DG_DEV_CREDENTIALS: "true" });
    expect(built.coordinators(await built.buckets.require("default"))).not.toBeInstanceOf(LocalCoordinator);
  });
});
