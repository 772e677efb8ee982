// Collects encoder output of unknown length. R2 needs the length and the metadata (which includes
// dg-delta-size) before the final `.delta` write, so the output is held in memory up to a limit and then
// spilled, one limit-sized temporary object at a time, under `.dg/tmp/`. The final write streams the spilled
// parts and the in-memory tail into one object with a known length.
import type { Backend, PutOptions, StoredObject } from "../storage/backend";
import { S3Error } from "../errors";
import { STAGING_PREFIX } from "./deltaspace";

export class DeltaBuffer {
  private chunks: Uint8Array[] = [];
  private buffered = 0;
  private readonly spilled: Array<{ key: string; size: number }> = [];
  private readonly id = crypto.randomUUID();
  size = 0;

  constructor(private readonly backend: Backend, private readonly memoryLimit: number) {}

  get spilledParts(): number {
    return this.spilled.length;
  }

  async add(chunk: Uint8Array): Promise<void> {
    // Copy: the codec may hand out views of memory it reuses.
    this.chunks.push(chunk.slice());
    this.buffered += chunk.byteLength;
    this.size += chunk.byteLength;
    if (this.buffered >= this.memoryLimit) await this.spill();
  }

  private async spill(): Promise<void> {
    const key = `${STAGING_PREFIX}${this.id}.delta.${this.spilled.length}`;
    this.spilled.push({ key, size: this.buffered });
    await this.backend.put(key, streamOfChunks(this.chunks), this.buffered);
    this.chunks = [];
    this.buffered = 0;
  }

  /** Write everything collected to `key` with `options`; returns what the backend stored. */
  async writeTo(key: string, options: PutOptions): Promise<StoredObject | null> {
    if (this.spilled.length === 0) {
      const body = this.chunks.length === 1 ? this.chunks[0] : streamOfChunks(this.chunks);
      return this.backend.put(key, body, this.buffered, options);
    }
    return this.backend.put(key, this.concatenatedStream(), this.size, options);
  }

  private concatenatedStream(): ReadableStream<Uint8Array> {
    const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
    const pump = async () => {
      for (const part of this.spilled) {
        const object = await this.backend.get(part.key);
        if (!object || object.size !== part.size) throw new S3Error("InternalError", "A spilled delta part vanished.");
        await object.body.pipeTo(writable, { preventClose: true });
      }
      await streamOfChunks(this.chunks).pipeTo(writable);
    };
    pump().catch((error) => writable.abort(error).catch(() => {}));
    return readable;
  }

  /** Drop spilled parts (always call when done). */
  async discard(): Promise<void> {
    this.chunks = [];
    this.buffered = 0;
    if (this.spilled.length) await this.backend.delete(this.spilled.map((part) => part.key)).catch(() => {});
  }
}

function streamOfChunks(chunks: Uint8Array[]): ReadableStream<Uint8Array> {
  let index = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (index < chunks.length) controller.enqueue(chunks[index++]);
      else controller.close();
    },
  }, { highWaterMark: 0 });
}
