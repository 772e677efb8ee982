// A codec source over a file on disk (Node only: the CLI and the codec benchmark).
import { open } from "node:fs/promises";
import type { SourceInfo } from "../codec/index";

/** Positional reads of `path`; a read past the end returns the bytes that exist (the codec reports it). */
export async function openFileSource(path: string): Promise<{ info: SourceInfo; close(): Promise<void> }> {
  const handle = await open(path, "r");
  const info: SourceInfo = {
    size: (await handle.stat()).size,
    async read(offset, length) {
      const buf = new Uint8Array(length);
      let filled = 0;
      while (filled < length) {
        const { bytesRead } = await handle.read(buf, filled, length - filled, offset + filled);
        if (bytesRead === 0) break;
        filled += bytesRead;
      }
      return filled === length ? buf : buf.subarray(0, filled);
    },
    async readInto(offset, target) {
      let filled = 0;
      while (filled < target.length) {
        const { bytesRead } = await handle.read(target, filled, target.length - filled, offset + filled);
        if (bytesRead === 0) break;
        filled += bytesRead;
      }
      return filled;
    },
  };
  return { info, close: () => handle.close() };
}
