// The Worker as the benchmark runs it: src/index.ts unchanged, with its R2 bindings wrapped so every R2 call is
// counted, and `GET /_/ops` returning the isolate's totals. The bench is a single sequential client, so the
// difference of two reads around a request is that request's R2 operations. `GET /_/gc` runs a full GC when
// workerd runs with V8's --expose-gc (the memory bench's live figure, bench/gc-trace.ts), 501 otherwise.
// `GET /_/read-body?key=K&reader=byob|default&gcAfter=N` reads R2 object K to its end and runs gc() after N
// chunks and at the end (bench/body-retention.ts: how much of a body being read stays alive). `/_/ops` also
// reports the largest WASM memory of an instance that owns its memory (the shipped deflaters), and
// `GET /_/wasm-probe` shows whether V8's GC trace counts WASM memory as ArrayBuffers, and `GET /_/raw-meta?key=K`
// answers a stored object's R2 metadata (bench/compressed-memory.ts).
// Never deployed.
import worker, { BucketCoordinator, MetricsAggregator } from "../src/index";

type Counts = Record<"head" | "get" | "put" | "list" | "delete" | "multipart", number>;
const counts: Counts = { head: 0, get: 0, put: 0, list: 0, delete: 0, multipart: 0 };

// WASM linear memory is not part of the inspector's heap figures, so track it here: every WebAssembly.Memory
// created since the last /_/ops read is kept until that read, which reports the largest one's size (linear
// memory never shrinks, so its final size is its peak) and lets them go.
const memoriesSinceLastRead: WebAssembly.Memory[] = [];
const NativeMemory = WebAssembly.Memory;
class TrackedMemory extends NativeMemory {
  constructor(descriptor: WebAssembly.MemoryDescriptor) {
    super(descriptor);
    memoriesSinceLastRead.push(this);
  }
}
(WebAssembly as { Memory: typeof WebAssembly.Memory }).Memory = TrackedMemory;

function takeWasmPeak(): number {
  const peak = Math.max(0, ...memoriesSinceLastRead.map((m) => m.buffer.byteLength));
  memoriesSinceLastRead.length = 0;
  return peak;
}

// The shipped deflaters (src/deflate/wasm-deflater.ts) are instances that own their memory, so TrackedMemory never
// sees it. Each such instance gets its exports wrapped to note its memory's size after every call (it grows inside
// calls); only numbers are kept, never the instance, so tracking keeps no garbage alive. Reported by /_/ops as the
// largest one and the count since the last read (one stream = one instance, used one after another).
let ownMemoryPeak = 0;
let ownMemoryInstances = 0;
const NativeInstance = WebAssembly.Instance;
class TrackedInstance extends NativeInstance {
  constructor(module: WebAssembly.Module, imports?: WebAssembly.Imports) {
    super(module, imports);
    const exports = this.exports; // the native accessor: not yet shadowed by the own property set below
    const memory = exports.memory;
    if (!(memory instanceof NativeMemory)) return;
    ownMemoryInstances++;
    const note = () => { ownMemoryPeak = Math.max(ownMemoryPeak, memory.buffer.byteLength); };
    note();
    const wrapped: Record<string, WebAssembly.ExportValue> = {};
    for (const [name, value] of Object.entries(exports)) {
      wrapped[name] = typeof value !== "function" ? value : (...args: unknown[]) => {
        const result = (value as (...a: unknown[]) => unknown)(...args);
        note();
        return result;
      };
    }
    Object.defineProperty(this, "exports", { value: Object.freeze(wrapped) });
  }
}
(WebAssembly as { Instance: typeof WebAssembly.Instance }).Instance = TrackedInstance;

function takeOwnMemoryPeak(): { ownMemoryPeakBytes: number; ownMemoryInstances: number } {
  const taken = { ownMemoryPeakBytes: ownMemoryPeak, ownMemoryInstances };
  ownMemoryPeak = 0;
  ownMemoryInstances = 0;
  return taken;
}

/**
 * `GET /_/wasm-probe?mib=N`: whether V8 counts WASM linear memory in "Backing store memory" (the GC trace's
 * buffers figure): gc() with an N MiB WebAssembly.Memory alive, then gc() after letting it go; the bench reads
 * the two figures from the trace.
 */
function wasmProbe(params: URLSearchParams): Response {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) return new Response("V8 runs without --expose-gc", { status: 501 });
  let memory: WebAssembly.Memory | null = new NativeMemory({ initial: Number(params.get("mib") ?? "16") * 16 });
  new Uint8Array(memory.buffer).fill(1); // touched, so it is resident, not only reserved
  gc();
  const bytes = memory.buffer.byteLength;
  memory = null;
  gc();
  return Response.json({ bytes });
}

const BUCKET_METHODS: Record<string, keyof Counts> = {
  head: "head", get: "get", put: "put", list: "list", delete: "delete", createMultipartUpload: "multipart",
};
const UPLOAD_METHODS = new Set(["uploadPart", "complete", "abort"]);

function countUpload<T extends object>(upload: T): T {
  return new Proxy(upload, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        if (UPLOAD_METHODS.has(String(prop))) counts.multipart++;
        return value.apply(target, args);
      };
    },
  });
}

function countBucket(bucket: R2Bucket): R2Bucket {
  return new Proxy(bucket, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        const op = BUCKET_METHODS[String(prop)];
        if (op) counts[op]++;
        const result = value.apply(target, args);
        if (prop === "createMultipartUpload") return (result as Promise<object>).then(countUpload);
        if (prop === "resumeMultipartUpload") return countUpload(result as object);
        return result;
      };
    },
  });
}

const isR2Bucket = (value: unknown): value is R2Bucket =>
  typeof value === "object" && value !== null && typeof (value as R2Bucket).createMultipartUpload === "function";

// One wrapped env per real env: src/index.ts caches its parsed configuration per env object.
const wrapped = new WeakMap<object, Record<string, unknown>>();
function countingEnv(env: Record<string, unknown>): Record<string, unknown> {
  let out = wrapped.get(env);
  if (!out) {
    out = Object.fromEntries(Object.entries(env).map(([k, v]) => [k, isR2Bucket(v) ? countBucket(v) : v]));
    wrapped.set(env, out);
  }
  return out;
}

/** gc() run `gcs` times in a row (default 1): V8 sweeps dead ArrayBuffers after a GC, so a second one shows what the first freed. */
function gcTimes(params: URLSearchParams): (() => void) | undefined {
  const gc = (globalThis as { gc?: () => void }).gc;
  const times = Number(params.get("gcs") ?? "1");
  return gc && (() => { for (let i = 0; i < times; i++) gc(); });
}

async function readBody(params: URLSearchParams, env: Record<string, unknown>): Promise<Response> {
  const gc = gcTimes(params);
  const bucket = Object.values(env).find(isR2Bucket);
  const object = bucket && await bucket.get(params.get("key") ?? "");
  if (!gc || !object) return new Response("needs --expose-gc and an existing key", { status: 400 });
  const gcAfter = Number(params.get("gcAfter") ?? "3");
  let chunks = 0;
  let bytes = 0;
  if (params.get("reader") === "byob") {
    const reader = object.body.getReader({ mode: "byob" }) as ReadableStreamBYOBReader & {
      readAtLeast(min: number, view: Uint8Array): Promise<ReadableStreamReadResult<Uint8Array>>;
    };
    for (;;) {
      const { done, value } = await reader.readAtLeast(1024 * 1024, new Uint8Array(1024 * 1024));
      bytes += value?.byteLength ?? 0;
      if (++chunks === gcAfter) gc();
      if (done) break;
    }
  } else {
    const reader = object.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      bytes += value?.byteLength ?? 0;
      if (++chunks === gcAfter) gc();
      if (done) break;
    }
  }
  gc();
  return Response.json({ chunks, bytes });
}

/**
 * `PUT`-side twin of readBody: writes `size` generated bytes (fresh 1 MiB chunks) to R2 key K through a
 * FixedLengthStream, as the engine does, and runs gc() after `gcAfter` chunks were handed to the writer and at the end.
 */
async function writeBody(params: URLSearchParams, env: Record<string, unknown>): Promise<Response> {
  const gc = gcTimes(params);
  const bucket = Object.values(env).find(isR2Bucket);
  if (!gc || !bucket) return new Response("needs --expose-gc and an R2 binding", { status: 400 });
  const size = Number(params.get("size") ?? String(64 * 1024 * 1024));
  const gcAfter = Number(params.get("gcAfter") ?? "32");
  const chunk = 1024 * 1024;
  let sent = 0;
  let chunks = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent >= size) return controller.close();
      const n = Math.min(chunk, size - sent);
      controller.enqueue(new Uint8Array(n).fill(chunks & 0xff));
      sent += n;
      if (++chunks === gcAfter) gc();
    },
  }, { highWaterMark: 0 });
  const { readable, writable } = new FixedLengthStream(size);
  const piped = body.pipeTo(writable);
  await bucket.put(params.get("key") ?? "probe/written.bin", readable);
  await piped;
  gc();
  return Response.json({ chunks, bytes: sent });
}

/**
 * With BENCH_GC_EVERY_MIB (and workerd's --expose-gc), a full GC each time that many MiB more were written through
 * any WritableStream writer -- the engine hashes every body it stores or serves through crypto.DigestStream
 * writers -- so V8's GC trace has a request's live memory at regular points, not only when V8 collects on its
 * own. (A setInterval sampler never fired while a request was busy in local workerd: measured, 0 ticks in 12 s.)
 */
let gcEveryBytes = 0;
let writtenSinceGc = 0;
/** A full GC for the live-memory trace, when the bench asked for samples (BENCH_GC_EVERY_MIB) and V8 exposes gc(). */
function sampleLiveMemory(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc && gcEveryBytes > 0) gc();
}

const nativeWrite = WritableStreamDefaultWriter.prototype.write;
WritableStreamDefaultWriter.prototype.write = function (this: WritableStreamDefaultWriter, chunk?: unknown) {
  if (gcEveryBytes > 0 && ArrayBuffer.isView(chunk)) {
    writtenSinceGc += chunk.byteLength;
    if (writtenSinceGc >= gcEveryBytes) {
      writtenSinceGc = 0;
      sampleLiveMemory();
    }
  }
  return nativeWrite.call(this, chunk);
};

/**
 * And one when a stream the Worker produces in JS ends (the codec's output, a rebuilt or ranged body): a small
 * ranged GET passes less than BENCH_GC_EVERY_MIB through any writer, and this is its only sample, taken while the
 * request's decoder and buffers are still alive.
 */
const StreamController = (globalThis as { ReadableStreamDefaultController?: { prototype: { close(): void } } })
  .ReadableStreamDefaultController;
if (StreamController) {
  const nativeClose = StreamController.prototype.close;
  StreamController.prototype.close = function (this: unknown) {
    sampleLiveMemory();
    return nativeClose.call(this);
  };
}

/**
 * And one when the Worker hands its Response to the runtime: a body that streams natively from R2 (a direct object,
 * a passthrough in a deltaspace) passes no JS stream, and this sample is then what the request holds.
 */
async function sampledAtResponse(response: Promise<Response> | Response): Promise<Response> {
  const answered = await response;
  sampleLiveMemory();
  return answered;
}

/** `GET /_/raw-meta?key=K`: the stored R2 object K's custom metadata (e.g. whether a `.delta` is compressed-aware). */
async function rawMetadata(params: URLSearchParams, env: Record<string, unknown>): Promise<Response> {
  const bucket = Object.values(env).find(isR2Bucket);
  const head = bucket && await bucket.head(params.get("key") ?? "");
  return head ? Response.json({ size: head.size, customMetadata: head.customMetadata ?? {} }) : new Response("no such object", { status: 404 });
}

// wrangler refuses an entry that does not export every Durable Object class wrangler.toml binds.
export { BucketCoordinator, MetricsAggregator };

export default {
  fetch(request: Request, env: Record<string, unknown>, ctx: ExecutionContext): Promise<Response> | Response {
    const path = new URL(request.url).pathname;
    if (path === "/_/ops") {
      return Response.json({ ...counts, wasmPeakBytes: takeWasmPeak(), ...takeOwnMemoryPeak() }, { headers: { "cache-control": "no-store" } });
    }
    if (path === "/_/wasm-probe") return wasmProbe(new URL(request.url).searchParams);
    if (path === "/_/raw-meta") return rawMetadata(new URL(request.url).searchParams, env);
    if (path === "/_/read-body") return readBody(new URL(request.url).searchParams, env);
    if (path === "/_/write-body") return writeBody(new URL(request.url).searchParams, env);
    if (path === "/_/gc") {
      const gc = (globalThis as { gc?: (options?: { type: "minor" | "major" }) => void }).gc;
      if (!gc) return new Response("V8 runs without --expose-gc", { status: 501 });
      // ?minor: a young-generation GC, which the bench uses as a marker between requests in the GC trace (the
      // full GCs it measures are the sampler's and V8's own).
      gc(new URL(request.url).searchParams.has("minor") ? { type: "minor" } : undefined);
      return new Response(null, { status: 204 });
    }
    gcEveryBytes = Number(env.BENCH_GC_EVERY_MIB ?? 0) * 1024 * 1024;
    return sampledAtResponse(worker.fetch(request, countingEnv(env) as never, ctx));
  },
};
