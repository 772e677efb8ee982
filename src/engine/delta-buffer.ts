// Collects codec output of unknown length: encoder output before the final `.delta` write (R2 needs the length
// and the metadata, which includes dg-delta-size, before it), and the rest of a rebuild whose client stalled
// (so the codec can be given back, see rebuild.ts). The output is held in memory up to a limit and then
// spilled, one limit-sized temporary object at a time, under `.dg/tmp/`. Reading it back streams the spilled
// parts, each checked against the SHA-256 it had when written, then the in-memory tail.
import type { Backend, PutOptions, StoredObject } from "../storage/backend";
import { bytesToHex } from "../encoding";
import { S3Error } from "../errors";
import { STAGING_PREFIX } from "./deltaspace";
import { StreamHasher } from "./streams";

interface SpilledPart {
  key: string;
  size: number;
  sha256: string;
}

export class DeltaBuffer {
  private chunks: Uint8Array[] = [];
  private buffered = 0;
  private readonly spilled: SpilledPart[] = [];
  private readonly id = crypto.randomUUID();
  size = 0;

  /** `label` names the temporary parts (`.dg/tmp/<uuid>.<label>.<n>`). */
  constructor(private readonly backend: Backend, private readonly memoryLimit: number, private readonly label = "delta") {}

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
    const key = `${STAGING_PREFIX}${this.id}.${this.label}.${this.spilled.length}`;
    const hasher = new StreamHasher(false);
    for (const chunk of this.chunks) await hasher.update(chunk);
    this.spilled.push({ key, size: this.buffered, sha256: (await hasher.finish()).sha256 });
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
    return this.backend.put(key, this.stream(), this.size, options);
  }

  /**
   * Everything collected, in order. A spilled part is read whole and checked against its SHA-256 before any of
   * it is passed on (a part is at most about memoryLimit bytes), so storage damage is an error, not wrong bytes.
   */
  stream(): ReadableStream<Uint8Array> {
    const parts = [...this.spilled];
    const tail = this.chunks;
    let next = 0;
    let tailAt = 0;
    return new ReadableStream<Uint8Array>({
      pull: async (controller) => {
        if (next < parts.length) {
          controller.enqueue(await this.readPart(parts[next++]));
        } else if (tailAt < tail.length) {
          controller.enqueue(tail[tailAt++]);
        } else {
          controller.close();
        }
      },
    }, { highWaterMark: 0 });
  }

  private async readPart(part: SpilledPart): Promise<Uint8Array> {
    const object = await this.backend.get(part.key);
    if (!object || object.size !== part.size) {
      await object?.body.cancel().catch(() => {});
      throw new S3Error("InternalError", "A spilled part vanished.");
    }
    const bytes = new Uint8Array(await new Response(object.body).arrayBuffer());
    const sha256 = bytesToHex(await crypto.subtle.digest("SHA-256", bytes));
    if (bytes.byteLength !== part.size || sha256 !== part.sha256) {
      throw new S3Error("InternalError", "A spilled part came back changed; no wrong bytes are served.");
    }
    return bytes;
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
