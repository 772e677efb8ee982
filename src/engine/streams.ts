// Stream helpers for the engine: incremental hashing, bounded buffering, verified slicing.
import { bytesToHex } from "../encoding";
import { S3Error } from "../errors";

export interface Digests {
  sha256: string;
  md5: string;
}

export async function digestsOf(bytes: Uint8Array): Promise<Digests> {
  const [sha256, md5] = await Promise.all([crypto.subtle.digest("SHA-256", bytes), crypto.subtle.digest("MD5", bytes)]);
  return { sha256: bytesToHex(sha256), md5: bytesToHex(md5) };
}

/** Incremental SHA-256 (and optionally MD5) over chunks, via workerd's crypto.DigestStream. */
export class StreamHasher {
  private readonly sha256 = new crypto.DigestStream("SHA-256");
  private readonly md5?: DigestStream;
  private readonly shaWriter: WritableStreamDefaultWriter<ArrayBufferView>;
  private readonly md5Writer?: WritableStreamDefaultWriter<ArrayBufferView>;
  bytes = 0;

  constructor(withMd5 = true) {
    this.shaWriter = this.sha256.getWriter();
    if (withMd5) {
      this.md5 = new crypto.DigestStream("MD5");
      this.md5Writer = this.md5.getWriter();
    }
  }

  async update(chunk: Uint8Array): Promise<void> {
    this.bytes += chunk.byteLength;
    await Promise.all([this.shaWriter.write(chunk), this.md5Writer?.write(chunk)]);
  }

  async finish(): Promise<Digests> {
    await Promise.all([this.shaWriter.close(), this.md5Writer?.close()]);
    const [sha256, md5] = await Promise.all([this.sha256.digest, this.md5?.digest]);
    return { sha256: bytesToHex(sha256), md5: md5 ? bytesToHex(md5) : "" };
  }
}

/** Pass a stream through while hashing it; `result` resolves when the stream has ended. */
export function hashingTap(withMd5 = true): { transform: TransformStream<Uint8Array, Uint8Array>; result: Promise<Digests & { bytes: number }> } {
  const hasher = new StreamHasher(withMd5);
  let resolve!: (value: Digests & { bytes: number }) => void;
  let reject!: (error: unknown) => void;
  const result = new Promise<Digests & { bytes: number }>((res, rej) => { resolve = res; reject = rej; });
  result.catch(() => {});
  const transform = new TransformStream<Uint8Array, Uint8Array>({
    async transform(chunk, controller) {
      const bytes = asBytes(chunk);
      await hasher.update(bytes);
      controller.enqueue(bytes);
    },
    async flush() {
      try {
        resolve({ ...(await hasher.finish()), bytes: hasher.bytes });
      } catch (error) {
        reject(error);
        throw error;
      }
    },
    cancel(reason) {
      reject(reason);
    },
  });
  return { transform, result };
}

/** Read exactly `size` bytes; a shorter or longer body is IncompleteBody. */
export async function readExactly(body: ReadableStream<Uint8Array> | Uint8Array, size: number): Promise<Uint8Array> {
  if (body instanceof Uint8Array) {
    if (body.byteLength !== size) throw incompleteBody(size, body.byteLength);
    return body;
  }
  const out = new Uint8Array(size);
  let filled = 0;
  const reader = body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      const chunk = asBytes(value);
      if (filled + chunk.byteLength > size) throw incompleteBody(size, filled + chunk.byteLength);
      out.set(chunk, filled);
      filled += chunk.byteLength;
    }
  } catch (error) {
    await reader.cancel(error).catch(() => {});
    throw error;
  }
  if (filled !== size) throw incompleteBody(size, filled);
  return out;
}

export function incompleteBody(expected: number, got: number): S3Error {
  return new S3Error("IncompleteBody", `The request body was ${got} bytes, not the ${expected} declared.`);
}

export function asBytes(chunk: Uint8Array | ArrayBuffer | ArrayBufferView): Uint8Array {
  if (chunk instanceof Uint8Array) return chunk;
  if (chunk instanceof ArrayBuffer) return new Uint8Array(chunk);
  return new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}

export function streamOf(bytes: Uint8Array, chunkSize = 1024 * 1024): ReadableStream<Uint8Array> {
  let offset = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (offset >= bytes.byteLength) return controller.close();
      const end = Math.min(offset + chunkSize, bytes.byteLength);
      controller.enqueue(bytes.subarray(offset, end));
      offset = end;
    },
  }, { highWaterMark: 0 });
}

export interface VerifySpec {
  /** Expected total bytes of the full stream. */
  size: number;
  /** Expected lower-hex SHA-256 of the full stream. */
  sha256: string;
  /** Inclusive range to emit (defaults to everything). */
  range?: { start: number; end: number };
  /** Builds the error raised on mismatch. */
  onMismatch: (what: string) => Error;
}

/**
 * Hash the whole stream while emitting only `range` of it, holding back the last emitted piece until the
 * stream has ended and both size and SHA-256 match. So a consumer never sees the complete (range of the)
 * object unless it is verified; on mismatch the stream errors instead of ending.
 */
export function verifyingSlice(spec: VerifySpec): TransformStream<Uint8Array, Uint8Array> {
  const hasher = new StreamHasher(false);
  const start = spec.range?.start ?? 0;
  const end = spec.range ? spec.range.end + 1 : spec.size; // exclusive
  let position = 0;
  let held: Uint8Array | null = null;
  return new TransformStream<Uint8Array, Uint8Array>({
    async transform(chunk, controller) {
      const bytes = asBytes(chunk);
      if (position + bytes.byteLength > spec.size) throw spec.onMismatch("size");
      await hasher.update(bytes);
      const from = Math.max(start, position);
      const to = Math.min(end, position + bytes.byteLength);
      position += bytes.byteLength;
      if (to <= from) return;
      if (held) controller.enqueue(held);
      // A view, not a copy: the producer hands over chunks it does not touch again (the codec's output slices
      // are copies out of WASM memory; DeltaCodec.decode promises that).
      held = bytes.subarray(from - (position - bytes.byteLength), to - (position - bytes.byteLength));
    },
    async flush(controller) {
      const { sha256 } = await hasher.finish();
      if (position !== spec.size) throw spec.onMismatch("size");
      if (sha256 !== spec.sha256) throw spec.onMismatch("sha256");
      if (held) controller.enqueue(held);
    },
  });
}

/**
 * A stream whose source is opened on the first pull. Work queued behind a codec job then holds no open
 * backend read while it waits (open reads count against the isolate's connection limit; idle ones can
 * starve the job that is running).
 */
export function lazyStream(open: () => Promise<ReadableStream<Uint8Array>>): ReadableStream<Uint8Array> {
  let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      reader ??= (await open()).getReader();
      const next = await reader.read();
      if (next.done) controller.close();
      else controller.enqueue(next.value);
    },
    cancel(reason) {
      return reader?.cancel(reason);
    },
  }, { highWaterMark: 0 });
}

/** Chunks handed downstream: large enough that per-chunk costs (hashing, codec calls) stay small. */
const CHUNK_BYTES = 1024 * 1024;

/**
 * A stored body in ~1 MiB chunks. Backend bodies arrive in 4 KiB pieces and reading those one by one from
 * JavaScript is several times slower than the storage itself; workerd's BYOB `readAtLeast` fills a whole
 * chunk natively. Streams without BYOB support are passed through as they come.
 */
export async function* largeChunks(body: ReadableStream<Uint8Array>): AsyncGenerator<Uint8Array> {
  let reader: ReadableStreamBYOBReader & { readAtLeast?: ReadAtLeast };
  try {
    reader = body.getReader({ mode: "byob" }) as typeof reader;
  } catch {
    const plain = body.getReader();
    try {
      for (;;) {
        const { done, value } = await plain.read();
        if (done) return;
        yield value;
      }
    } finally {
      plain.releaseLock();
    }
  }
  try {
    for (;;) {
      const buffer = new Uint8Array(CHUNK_BYTES);
      const { done, value } = reader.readAtLeast
        ? await reader.readAtLeast(CHUNK_BYTES, buffer)
        : await reader.read(buffer);
      if (value && value.byteLength > 0) yield value;
      if (done) return;
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
}

type ReadAtLeast = (minBytes: number, view: Uint8Array) => Promise<ReadableStreamReadResult<Uint8Array>>;
