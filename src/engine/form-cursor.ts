// Random access to an inflated form that is never stored (compressed-aware deltas, issue #18): the reference's
// inflated form is produced from reference.bin while the codec reads it, and the codec reads its source by
// offset. A cursor runs over the form's generator: a read at or ahead of it advances it, a read into the last
// KEPT_FORM_BYTES it produced is served from memory, and any other read starts the generator again at the
// segment that holds the offset (each deflate segment is a stream of its own; inside a raw segment, at the very
// byte, since raw bytes map 1:1 to the original's). A read far ahead (MIN_JUMP), past the start of a later
// segment, jumps there instead of inflating the segments in between.
//
// Bounded: at most KEPT_FORM_BYTES + one generator piece (≤ 256 KiB) of form bytes in JS, plus the origin
// stream's own buffering. Never a loop: each read restarts at most once and then only moves forward, so the work
// of one read is at most one segment's inflated size before the offset plus the bytes asked for. And a source
// read so scattered that it has produced MAX_PRODUCED_FACTOR times the form's size fails (InternalError) rather
// than spend the request's CPU on inflating the same bytes again and again (counted on a 16 MiB .tgz form: 1.5×
// through the block cache with the default decoder, 5.8× without it, 11× without it and with a 512 KiB decoder
// source cache).
import type { SourceInfo } from "../codec/api";
import { S3Error } from "../errors";
import { inflatedSegments, type Segment } from "./containers";

/** Recent form bytes kept, so a read a little behind the cursor (decoders re-read) needs no restart. */
export const KEPT_FORM_BYTES = 4 * 1024 * 1024;

export interface FormLayout {
  /** The form's header (encodeHeader), its first bytes. */
  header: Uint8Array;
  segments: Segment[];
}

/** A source may produce at most this many times the form's size (at least MIN_PRODUCED_BUDGET bytes). */
export const MAX_PRODUCED_FACTOR = 32;
const MIN_PRODUCED_BUDGET = 256 * 1024 * 1024;

/** A read ahead jumps (a new origin read) only when that passes over at least this many form bytes. */
const MIN_JUMP = 1024 * 1024;

/** The original's bytes from `offset` to its end. */
export type OriginalFrom = (offset: number) => Promise<ReadableStream<Uint8Array>>;

/** What reading a form cost; also summed per isolate (formCursorTotals) for tests and benches. */
export interface FormCursorStats {
  /** Reads behind the kept bytes: the generator started again at the offset's segment. */
  restarts: number;
  /** Reads past a later segment's start: the generator skipped ahead to it. */
  jumps: number;
  /** Form bytes generated (inflated or copied), including those only passed over. */
  producedBytes: number;
}

/** Totals over every form cursor of this isolate. */
export const formCursorTotals: FormCursorStats = { restarts: 0, jumps: 0, producedBytes: 0 };

export interface FormSourceOptions {
  /** Adds this source's restarts, jumps and produced bytes. */
  stats?: FormCursorStats;
  /** Recent bytes kept (default KEPT_FORM_BYTES). */
  keptBytes?: number;
  /** Form bytes this source may produce in all (default: MAX_PRODUCED_FACTOR × its size, ≥ 256 MiB). */
  producedBudget?: number;
}

/** The form as a codec source: `size` bytes, read by offset, produced from `originalFrom` on demand. */
export function formSource(layout: FormLayout, originalFrom: OriginalFrom, options: FormSourceOptions = {}): SourceInfo {
  const cursor = new FormCursor(layout, originalFrom, options);
  return { size: cursor.size, read: (offset, length) => cursor.read(offset, length) };
}

interface Start {
  form: number;
  original: number;
  formLength: number;
}

class FormCursor {
  readonly size: number;
  private readonly starts: Start[];
  private chunks: AsyncGenerator<Uint8Array> | null = null;
  /** Form offset of the next byte the generator gives. */
  private position = 0;
  /** The last bytes produced, [keptStart, position). */
  private kept: Uint8Array[] = [];
  private keptStart = 0;
  /** Reads run one at a time: they share the generator. */
  private turn: Promise<unknown> = Promise.resolve();

  private readonly stats?: FormCursorStats;
  private readonly keptBytes: number;
  /** Form bytes this source may still produce. */
  private budget: number;

  constructor(private readonly layout: FormLayout, private readonly originalFrom: OriginalFrom, options: FormSourceOptions) {
    this.stats = options.stats;
    this.keptBytes = options.keptBytes ?? KEPT_FORM_BYTES;
    let form = layout.header.byteLength;
    let original = 0;
    this.starts = layout.segments.map((segment) => {
      const formLength = segment.kind === "raw" ? segment.length : segment.inflated;
      const start = { form, original, formLength };
      form += formLength;
      original += segment.length;
      return start;
    });
    this.size = form;
    this.budget = options.producedBudget ?? Math.max(MIN_PRODUCED_BUDGET, MAX_PRODUCED_FACTOR * form);
  }

  read(offset: number, length: number): Promise<Uint8Array> {
    const run = this.turn.then(() => this.readNow(offset, length));
    this.turn = run.catch(() => {});
    return run;
  }

  private async readNow(offset: number, length: number): Promise<Uint8Array> {
    if (!Number.isSafeInteger(offset) || offset < 0 || length < 0) throw new RangeError(`form read ${offset}+${length}`);
    const out = new Uint8Array(Math.max(0, Math.min(length, this.size - offset)));
    if (!out.byteLength) return out;
    if (!this.chunks || offset < this.keptStart || this.segmentStart(offset) > this.position + MIN_JUMP) await this.restartAt(offset);
    let at = 0;
    while (at < out.byteLength) {
      const want = offset + at;
      if (want < this.position) {
        at += this.copyKept(want, out, at);
        continue;
      }
      await this.advance();
    }
    return out;
  }

  /** The form offset where the generator would start for `offset`: its segment's start (the byte, in a raw one). */
  private segmentStart(offset: number): number {
    const index = this.segmentIndex(offset);
    if (index < 0) return 0;
    return this.layout.segments[index].kind === "raw" ? offset : this.starts[index].form;
  }

  /** The segment holding form offset `offset`; -1 inside the header. */
  private segmentIndex(offset: number): number {
    let low = 0;
    let high = this.starts.length - 1;
    let found = -1;
    while (low <= high) {
      const mid = (low + high) >> 1;
      if (this.starts[mid].form <= offset) {
        found = mid;
        low = mid + 1;
      } else high = mid - 1;
    }
    return found;
  }

  private async restartAt(offset: number): Promise<void> {
    if (this.chunks) {
      if (offset < this.keptStart) this.count("restarts");
      else this.count("jumps");
      await this.chunks.return(undefined).catch(() => {});
    }
    const index = this.segmentIndex(offset);
    const from = this.segmentStart(offset);
    this.chunks = index < 0 ? this.fromTheStart() : this.fromSegment(index, from - this.starts[index].form);
    this.position = from;
    this.kept = [];
    this.keptStart = from;
  }

  private async *fromTheStart(): AsyncGenerator<Uint8Array> {
    yield this.layout.header;
    yield* inflatedSegments(await this.originalFrom(0), this.layout.segments);
  }

  /** From segment `index`, `skip` bytes into it (raw segments only). */
  private async *fromSegment(index: number, skip: number): AsyncGenerator<Uint8Array> {
    const [first, ...rest] = this.layout.segments.slice(index);
    const head: Segment = skip ? { kind: "raw", length: first.length - skip } : first;
    yield* inflatedSegments(await this.originalFrom(this.starts[index].original + skip), [head, ...rest]);
  }

  private async advance(): Promise<void> {
    const next = await this.chunks!.next();
    if (next.done || !next.value.byteLength) {
      if (next.done) throw new S3Error("InternalError", "The reference's inflated form ended before its recorded size.");
      return;
    }
    this.budget -= next.value.byteLength;
    if (this.budget < 0) {
      throw new S3Error("InternalError", "The reference's inflated form was read too out of order to rebuild within this request's budget.");
    }
    // A raw piece is a view into a 1 MiB page of the original: kept as it is, it would keep the whole page alive.
    const piece = next.value.buffer.byteLength > 2 * next.value.byteLength ? next.value.slice() : next.value;
    this.kept.push(piece);
    this.position += piece.byteLength;
    if (this.stats) this.stats.producedBytes += piece.byteLength;
    formCursorTotals.producedBytes += piece.byteLength;
    // Drop whole pieces from the front while what stays still covers keptBytes.
    while (this.kept.length > 1 && this.position - this.keptStart - this.kept[0].byteLength >= this.keptBytes) {
      this.keptStart += this.kept.shift()!.byteLength;
    }
  }

  /** Copies kept bytes from form offset `want` into `out` at `at`; returns how many. */
  private copyKept(want: number, out: Uint8Array, at: number): number {
    // Never reached (readNow restarts first); a read that copied nothing would otherwise never end.
    if (want < this.keptStart) throw new Error("form cursor: read behind its kept bytes");
    let start = this.keptStart;
    for (const piece of this.kept) {
      const end = start + piece.byteLength;
      if (want < end) {
        const part = piece.subarray(want - start, Math.min(piece.byteLength, want - start + out.byteLength - at));
        out.set(part, at);
        return part.byteLength;
      }
      start = end;
    }
    throw new Error("form cursor: kept bytes out of step");
  }

  private count(what: "restarts" | "jumps"): void {
    if (this.stats) this.stats[what]++;
    formCursorTotals[what]++;
  }
}
