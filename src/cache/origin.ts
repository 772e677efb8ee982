// A SourceReader over an object in a Backend: each read is one ranged GET of exactly the bytes asked for.
// The block cache uses it to fill misses; the engine can use it directly when the cache is off.
import type { SourceReader } from "../codec/api";
import type { Backend } from "../storage/backend";
import { readExactly } from "../engine/streams";

export function backendRangeReader(backend: Backend, key: string): SourceReader {
  return async (offset, length) => {
    if (length === 0) return new Uint8Array(0);
    const object = await backend.get(key, { offset, length });
    if (!object) throw new Error(`reference ${key} disappeared while it was being read`);
    // A short or long range body is a backend fault, not the client's IncompleteBody: report it as such.
    return readExactly(object.body, length).catch((error: unknown) => {
      throw new Error(`reference ${key}: asked for ${length} bytes at ${offset}: ${error instanceof Error ? error.message : error}`);
    });
  };
}
