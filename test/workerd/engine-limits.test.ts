// Per-isolate resource limits under hostile or slow clients: idle uploads cannot take the isolate's memory
// (buffered-body budget), and a client that stops reading a rebuild cannot hold the codec (spill + release).
import { describe, expect, it } from "vitest";
import { acceptBody, ISOLATE_BODY_BUDGET, isolateBodyBudget } from "../../src/engine/body";
import { DeltaBuffer } from "../../src/engine/delta-buffer";
import { STAGING_PREFIX } from "../../src/engine/deltaspace";
import {
  backend, bodyStream, bucket, bytesOf, edited, workerEngine, pseudoRandom, readAll, sha256Hex, storedKeys,
} from "./engine-helpers";

const engine = workerEngine({});
const MiB = 1024 * 1024;

/** A request body that declares its length but sends nothing until the test fails it. */
function idleBody(): { body: ReadableStream<Uint8Array>; fail: () => void } {
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  const body = new ReadableStream<Uint8Array>({ start: (c) => { controller = c; } });
  return { body, fail: () => controller.error(new Error("client went away")) };
}

/** Rejects when `promise` takes longer than `ms`: the other requests must not wait for the stalled one. */
function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout>;
  const late = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`${what} took over ${ms} ms`)), ms); });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/** Compared by SHA-256: vitest's element-wise equality of multi-MiB arrays takes minutes. */
async function sameBytes(actual: Uint8Array, expected: Uint8Array): Promise<void> {
  expect(actual.byteLength).toBe(expected.byteLength);
  expect(await sha256Hex(actual)).toBe(await sha256Hex(expected));
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 50));

describe("idle uploads and the buffered-body budget", () => {
  it("idle 8 MiB PUTs reserve at most the isolate budget; a PUT beyond it is staged and completes, a GET meanwhile too", async () => {
    const stored = pseudoRandom(MiB, 41);
    await engine.put("idle/present.bin", { body: stored, size: stored.length });

    const idle = Array.from({ length: ISOLATE_BODY_BUDGET / (8 * MiB) }, () => idleBody());
    const pending = idle.map(({ body }, i) => engine.put(`idle/slow-${i}.bin`, { body, size: 8 * MiB }).catch((e: Error) => e));
    await settle();
    expect(isolateBodyBudget.reservedBytes).toBe(ISOLATE_BODY_BUDGET);

    // The budget is taken: the next body goes to `.dg/tmp/`, not memory, and nothing more is reserved.
    const next = pseudoRandom(8 * MiB, 42);
    const accepted = await acceptBody(backend, bodyStream(next, MiB), next.length, 8 * MiB);
    expect(accepted.inMemory).toBe(false);
    expect(isolateBodyBudget.reservedBytes).toBe(ISOLATE_BODY_BUDGET);
    await accepted.dispose();

    const put = await within(10_000, "a PUT beside idle uploads", engine.put("idle/next.bin", { body: bodyStream(next, MiB), size: next.length }));
    expect(put.size).toBe(next.length);
    await sameBytes(await within(10_000, "a GET beside idle uploads", readAll(engine, "idle/next.bin")), next);
    await sameBytes(await readAll(engine, "idle/present.bin"), stored);

    // Uploads that fail give their reservation back.
    for (const { fail } of idle) fail();
    for (const result of await Promise.all(pending)) expect(result).toBeInstanceOf(Error);
    expect(isolateBodyBudget.reservedBytes).toBe(0);
    expect(await storedKeys(STAGING_PREFIX)).toEqual([]);
  });

  it("a small body within the budget is held in memory and releases its share when the PUT ends", async () => {
    const bytes = pseudoRandom(MiB, 43);
    const accepted = await acceptBody(backend, bodyStream(bytes), bytes.length, 8 * MiB);
    expect(accepted.inMemory).toBe(true);
    expect(isolateBodyBudget.reservedBytes).toBe(MiB);
    await accepted.dispose();
    await accepted.dispose();
    expect(isolateBodyBudget.reservedBytes).toBe(0);
  });
});

describe("a client that stops reading a rebuild never holds the codec", () => {
  it("while a delta GET's reader stalls after its first chunk, another delta GET and a delta PUT complete; the stalled reader then gets byte-exact content", async () => {
    const v1 = pseudoRandom(6 * MiB, 51);
    const v2 = edited(v1, 52);
    const v3 = edited(v1, 53);
    await engine.put("stall/v1.zip", { body: bodyStream(v1, MiB), size: v1.length });
    expect((await engine.put("stall/v2.zip", { body: bodyStream(v2, MiB), size: v2.length })).storageType).toBe("delta");

    const opened = (await engine.open("stall/v2.zip", { forRead: true }))!;
    const stalled = (await opened.read()).getReader();
    const first = await stalled.read();
    expect(first.done).toBe(false);

    await sameBytes(await within(8_000, "a delta GET behind a stalled reader", readAll(engine, "stall/v1.zip")), v1);
    const put = await within(8_000, "a delta PUT behind a stalled reader", engine.put("stall/v3.zip", { body: bodyStream(v3, MiB), size: v3.length }));
    expect(put.storageType).toBe("delta");
    // The stalled rebuild's rest went to a spill under `.dg/tmp/`, which the codec did not have to wait for.
    expect((await storedKeys(STAGING_PREFIX)).some((key) => key.includes(".rebuilt."))).toBe(true);

    const rest = await bytesOf(new ReadableStream({
      async pull(controller) {
        const next = await stalled.read();
        if (next.done) controller.close();
        else controller.enqueue(next.value);
      },
    }));
    const whole = new Uint8Array(first.value!.length + rest.length);
    whole.set(first.value!);
    whole.set(rest, first.value!.length);
    await sameBytes(whole, v2);
    expect(await storedKeys(STAGING_PREFIX)).toEqual([]);
    await sameBytes(await readAll(engine, "stall/v3.zip"), v3);
  });

  it("a slow reader that never pauses a full second still gives the codec back: another delta GET completes long before the slow one would end", async () => {
    const v1 = pseudoRandom(8 * MiB, 56);
    const v2 = edited(v1, 57);
    await engine.put("slow/v1.zip", { body: bodyStream(v1, MiB), size: v1.length });
    await engine.put("slow/v2.zip", { body: bodyStream(v2, MiB), size: v2.length });

    // One 512 KiB decode window every 600 ms: 16 windows, ~10 s if the slow reader kept the codec to the end.
    const opened = (await engine.open("slow/v2.zip", { forRead: true }))!;
    const slow = (await opened.read()).getReader();
    const chunks: Uint8Array[] = [];
    let readerDone = false;
    const slowReading = (async () => {
      for (let next = await slow.read(); !next.done; next = await slow.read()) {
        chunks.push(next.value);
        if (!readerDone) await new Promise((resolve) => setTimeout(resolve, 600));
      }
    })();
    await new Promise((resolve) => setTimeout(resolve, 100));

    await sameBytes(await within(5_000, "a delta GET beside a slow reader", readAll(engine, "slow/v1.zip")), v1);
    readerDone = true;
    await slowReading;
    await sameBytes(await bytesOf(new Blob(chunks).stream()), v2);
    expect(await storedKeys(STAGING_PREFIX)).toEqual([]);
  });

  it("a stalled ranged delta GET gives the codec back too and still returns exactly its range", async () => {
    const v1 = pseudoRandom(6 * MiB, 61);
    const v2 = edited(v1, 62);
    await engine.put("stall-range/v1.zip", { body: bodyStream(v1, MiB), size: v1.length });
    await engine.put("stall-range/v2.zip", { body: bodyStream(v2, MiB), size: v2.length });
    const range = { start: 100, end: 5 * MiB + 7 };

    const opened = (await engine.open("stall-range/v2.zip", { forRead: true }))!;
    const stalled = (await opened.read(range)).getReader();
    const first = await stalled.read();

    await sameBytes(await within(8_000, "a delta GET behind a stalled ranged reader", readAll(engine, "stall-range/v1.zip")), v1);
    const chunks = [first.value!];
    for (let next = await stalled.read(); !next.done; next = await stalled.read()) chunks.push(next.value);
    await sameBytes(await bytesOf(new Blob(chunks).stream()), v2.subarray(range.start, range.end + 1));
    expect(await storedKeys(STAGING_PREFIX)).toEqual([]);
  });

  it("a spilled part that comes back changed is an error, never wrong bytes", async () => {
    const buffer = new DeltaBuffer(backend, 64 * 1024, "rebuilt");
    await buffer.add(pseudoRandom(100 * 1024, 71));
    await buffer.add(pseudoRandom(10 * 1024, 72));
    const [part] = await storedKeys(STAGING_PREFIX);
    const damaged = new Uint8Array((await bucket.get(part))!.size);
    await bucket.put(part, damaged);
    await expect(bytesOf(buffer.stream())).rejects.toThrow(/changed/);
    await buffer.discard();
    expect(await storedKeys(STAGING_PREFIX)).toEqual([]);
  });
});
