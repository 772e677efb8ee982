// The completed object as a re-readable source over its staged parts: a fresh stream of all parts in order
// whenever asked (the engine may need the bytes twice, e.g. encode a delta and then store as-is when it does not
// compress), and random access by range. One part is open at a time and read in 1 MiB chunks; only the chunk in
// hand is live (docs/PERFORMANCE.md "Multipart": a 1 GiB completion holds a few MiB of buffers besides the codec).
import type { ReReadableBody } from "../engine/api";
import type { Backend } from "../storage/backend";
import { S3Error } from "../errors";
import type { StagedPart } from "./parts";
import { largeChunks } from "../engine/streams";

export class PartsSource implements ReReadableBody {
  readonly size: number;
  /** Start offset of each part within the assembled object. */
  private readonly offsets: number[];

  constructor(private readonly backend: Backend, private readonly parts: readonly StagedPart[]) {
    let offset = 0;
    this.offsets = parts.map((part) => {
      const start = offset;
      offset += part.size;
      return start;
    });
    this.size = offset;
  }

  /** The whole object, parts read one after another as streams. */
  stream(): ReadableStream<Uint8Array> {
    return this.rangeStream(0, this.size);
  }

  /** Bytes [offset, offset + length) of the assembled object, reading only the parts that overlap. */
  rangeStream(offset: number, length: number): ReadableStream<Uint8Array> {
    const end = Math.min(this.size, offset + length);
    const pieces = this.piecesOf(offset, end);
    let index = 0;
    let chunks: AsyncGenerator<Uint8Array> | null = null;
    const open = (piece: Piece) => this.openPiece(piece);
    return new ReadableStream<Uint8Array>({
      async pull(controller) {
        for (;;) {
          if (!chunks) {
            if (index >= pieces.length) {
              controller.close();
              return;
            }
            chunks = largeChunks(await open(pieces[index++]));
          }
          const { done, value } = await chunks.next();
          if (done) {
            chunks = null;
            continue;
          }
          controller.enqueue(value);
          return;
        }
      },
      async cancel() {
        await chunks?.return(undefined);
      },
    }, { highWaterMark: 0 });
  }

  /** Random access for readers that want a block (e.g. a codec source window). */
  async read(offset: number, length: number): Promise<Uint8Array> {
    const end = Math.min(this.size, offset + length);
    const pieces = this.piecesOf(offset, end);
    const blocks: Uint8Array[] = [];
    for (const piece of pieces) {
      blocks.push(new Uint8Array(await new Response(await this.openPiece(piece)).arrayBuffer()));
    }
    if (blocks.length === 1) return blocks[0];
    const out = new Uint8Array(Math.max(0, end - offset));
    let filled = 0;
    for (const block of blocks) {
      out.set(block, filled);
      filled += block.byteLength;
    }
    return out;
  }

  private piecesOf(start: number, end: number): Piece[] {
    const pieces: Piece[] = [];
    this.parts.forEach((part, i) => {
      const partStart = this.offsets[i];
      const partEnd = partStart + part.size;
      if (partEnd <= start || partStart >= end || part.size === 0) return;
      const from = Math.max(start, partStart) - partStart;
      const to = Math.min(end, partEnd) - partStart;
      pieces.push({ part, offset: from, length: to - from });
    });
    return pieces;
  }

  private async openPiece({ part, offset, length }: Piece): Promise<ReadableStream<Uint8Array>> {
    const whole = offset === 0 && length === part.size;
    const object = await this.backend.get(part.stagedKey, whole ? undefined : { offset, length });
    // A part replaced or removed after Complete validated it must not be spliced in silently.
    const current = object?.etag.replaceAll('"', "").toLowerCase();
    if (!object || current !== part.etag || object.size !== part.size) {
      await object?.body.cancel();
      throw new S3Error("InvalidPart", `Part ${part.partNumber} changed or disappeared while the upload was being completed.`, {
        PartNumber: String(part.partNumber),
      });
    }
    return object.body;
  }
}

interface Piece {
  part: StagedPart;
  offset: number;
  length: number;
}
