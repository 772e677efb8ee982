// A SourceReader over an object in a Backend: each read is one ranged GET of exactly the bytes asked for.
// The block cache uses it to fill misses; the engine can use it directly when the cache is off.
import type { SourceReader } from "../codec/api";
import type { Backend } from "../storage/backend";

export function backendRangeReader(backend: Backend, key: string): SourceReader {
  return async (offset, length) => {
    if (length === 0) return new Uint8Array(0);
    const object = await backend.get(key, { offset, length });
    if (!object) throw new Error(`reference ${key} disappeared while it was being read`);
    const bytes = await readExactly(object.body, length);
    if (bytes.length !== length) {
      throw new Error(`reference ${key}: asked for ${length} bytes at ${offset}, got ${bytes.length}`);
    }
    return bytes;
  };
}

/** Reads a stream into one buffer of the expected size (copying each chunk once, no concatenation). */
async function readExactly(body: ReadableStream<Uint8Array>, expected: number): Promise<Uint8Array> {
  const out = new Uint8Array(expected);
  let filled = 0;
  const reader = body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (filled + value.length > expected) throw new Error(`range body longer than the ${expected} bytes asked for`);
      out.set(value, filled);
      filled += value.length;
    }
  } finally {
    reader.releaseLock();
  }
  return filled === expected ? out : out.subarray(0, filled);
}
