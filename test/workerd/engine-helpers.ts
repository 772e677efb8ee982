// Shared helpers for the engine's workerd tests: a real R2Backend over the local R2 binding, deterministic
// test data, and raw views of what is stored.
import { env } from "cloudflare:workers";
import type { DeltaEngine } from "../../src/engine/engine";
import type { EngineConfig } from "../../src/engine/config";
import type { DeltaCodec, EngineOptions } from "../../src/engine/context";
import { R2Backend } from "../../src/storage/r2";
import { randomBytes } from "../fixtures/random";
import { createEngine } from "../../src/wiring";

export const bucket = env.BUCKET;
export const backend = new R2Backend(env.BUCKET, "BUCKET");

/** An engine built as the Worker builds one (src/wiring.ts): with the Worker's xdelta3 codec. */
export function workerEngine(config: Partial<EngineConfig> = {}, options?: EngineOptions): DeltaEngine {
  return createEngine(backend, config, options);
}

/** An engine with another codec (e.g. one that observes the Worker's), or none: null stores everything passthrough. */
export function engineWith(config: Partial<EngineConfig> = {}, codec: DeltaCodec | null = null, options?: EngineOptions): DeltaEngine {
  return createEngine(backend, config, options, codec);
}

/** Deterministic pseudo-random bytes, so fixtures and tests are reproducible. */
export { randomBytes as pseudoRandom } from "../fixtures/random";

/** A copy of `base` with a few small regions overwritten (a "new version" that deltas well). */
export function edited(base: Uint8Array, seed = 7, edits = 8): Uint8Array {
  const out = base.slice();
  const noise = randomBytes(edits * 64, seed);
  for (let i = 0; i < edits; i++) {
    const at = Math.floor(((i + 1) * out.length) / (edits + 2));
    out.set(noise.subarray(i * 64, i * 64 + 64).subarray(0, Math.max(0, Math.min(64, out.length - at))), at);
  }
  return out;
}

export async function bytesOf(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  return hex(await crypto.subtle.digest("SHA-256", bytes));
}

export async function md5Hex(bytes: Uint8Array): Promise<string> {
  return hex(await crypto.subtle.digest("MD5", bytes));
}

function hex(buffer: ArrayBuffer): string {
  return Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Every stored key under a prefix (raw backend view, internal objects included). */
export async function storedKeys(prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await bucket.list({ prefix, cursor });
    keys.push(...page.objects.map((o) => o.key));
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor);
  return keys.sort();
}

/** A GET: opened for reading (a delta's body comes with its metadata), then read. */
export async function readAll(engine: DeltaEngine, key: string, range?: { start: number; end: number }): Promise<Uint8Array> {
  const opened = await engine.open(key, { forRead: true });
  if (!opened) throw new Error(`${key} not found`);
  return bytesOf(await opened.read(range));
}

/** A stream that yields `bytes` in chunks, like a request body. */
export function bodyStream(bytes: Uint8Array, chunk = 64 * 1024): ReadableStream<Uint8Array> {
  let offset = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (offset >= bytes.length) return controller.close();
      controller.enqueue(bytes.slice(offset, offset + chunk));
      offset += chunk;
    },
  });
}

/** A large body generated on the fly (never whole in memory), with its hashes computed on the way. */
export function generatedStream(size: number, seed: number, chunk = 1024 * 1024): ReadableStream<Uint8Array> {
  const block = randomBytes(chunk, seed);
  let offset = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (offset >= size) return controller.close();
      const n = Math.min(chunk, size - offset);
      const out = block.slice(0, n);
      // Make each chunk distinct so the content is not trivially periodic.
      new DataView(out.buffer).setUint32(0, offset / chunk);
      controller.enqueue(out);
      offset += n;
    },
  });
}
