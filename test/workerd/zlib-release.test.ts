// A closed node:zlib stream must not stay reachable through its native handle. workerd keeps every zlib handle
// alive after close (a global handle holds a callback bound to it), and the handle referenced its stream and its
// last input: bench/compressed-memory.ts measured ~17 KiB kept per stream, forever (364 MB after one 90 MiB zip
// PUT, an inflater per entry and pass). No gc() here, so the test checks what the kept handle still references
// once its stream has closed: not the stream, not a chunk, and no closure made for that stream.
import * as zlib from "node:zlib";
import { describe, expect, it } from "vitest";
import { RawInflater, releaseWhenClosed } from "../../src/deflate/runtime-zlib";

type Handle = Record<PropertyKey, unknown>;
interface Closable { once(event: "close", listener: () => void): unknown }

const content = new TextEncoder().encode("export const answer = 42; // the same line again and again\n".repeat(2000));
const deflated = new Uint8Array(zlib.deflateRawSync(content, { level: 6 }));

/** The stream's native handle, taken before close() drops the stream's own reference to it. */
function handleOf(stream: object): Handle {
  const handle = (stream as { _handle?: Handle | null })._handle;
  // If workerd stops exposing it, this test (and releaseWhenClosed) must be looked at again.
  expect(handle, "node:zlib stream has a _handle").toBeTypeOf("object");
  return handle!;
}

const closed = (stream: Closable) => new Promise<void>((resolve) => stream.once("close", resolve));

/** An inflater used as containers.ts uses it (fed in pieces to the end, then closed): its stream and handle. */
async function usedInflater(): Promise<{ stream: object; handle: Handle }> {
  const inflater = new RawInflater();
  const stream = (inflater as unknown as { stream: zlib.InflateRaw }).stream;
  const handle = handleOf(stream);
  const done = closed(stream);
  let input = deflated;
  for (;;) {
    const step = await inflater.push(input);
    input = input.subarray(step.taken);
    if (step.ended || input.byteLength === 0) break;
  }
  await inflater.finish();
  inflater.close();
  await done;
  return { stream, handle };
}

function expectReleased(handle: Handle, stream: object): void {
  const kept = Reflect.ownKeys(handle).map((key) => handle[key]);
  expect(kept).not.toContain(stream);
  expect(kept.filter((value) => ArrayBuffer.isView(value) && value.byteLength > 0)).toEqual([]);
  expect(() => (handle.cb as () => void)()).not.toThrow(); // a late callback finds nothing to do
}

describe("closed node:zlib streams are not kept by their handles", () => {
  it("an inflater, after it inflated a stream and was closed", async () => {
    const first = await usedInflater();
    const second = await usedInflater();
    expectReleased(first.handle, first.stream);
    expectReleased(second.handle, second.stream);
    // The callback left on the handle is one shared function, not a closure per stream (a closure's context would
    // reach the stream again).
    expect(first.handle.cb).toBe(second.handle.cb);
  });

  it("a deflater that ended on its own", async () => {
    const stream = zlib.createDeflateRaw({ level: 9, memLevel: 8 });
    releaseWhenClosed(stream);
    const handle = handleOf(stream);
    const done = closed(stream);
    let out = 0;
    stream.on("data", (chunk: Uint8Array) => (out += chunk.byteLength));
    stream.end(content);
    await done;
    expect(out).toBeGreaterThan(0);
    expectReleased(handle, stream);
  });
});
