// Concurrent codec jobs share one isolate budget: they queue instead of exceeding it, and every reservation is
// returned when a job ends, fails or is cancelled.
import { describe, expect, it } from "vitest";
import { CodecError, encode, MemoryBudget } from "../../src/codec/index";
import { textLike } from "../fixtures/codec/data";
import { codecModule, memorySource, ourEncode, streamOf } from "./codec-helpers";
import { isolateCodecBudget } from "../../src/codec/index";
import { DEFAULT_BUDGET_WAIT_MS } from "../../src/codec/limiter";

describe("isolate codec budget", () => {
  it("admits jobs in order while their caps fit and queues the rest", async () => {
    const budget = new MemoryBudget(100);
    const order: string[] = [];
    const r1 = await budget.acquire(60);
    const p2 = budget.acquire(60).then((r) => (order.push("second"), r));
    const p3 = budget.acquire(30).then((r) => (order.push("third"), r)); // fits now, but waits its turn
    await new Promise((r) => setTimeout(r, 10));
    expect(order).toEqual([]);
    expect(budget.reservedBytes).toBe(60);
    r1();
    const [r2, r3] = await Promise.all([p2, p3]);
    expect(order).toEqual(["second", "third"]);
    expect(budget.reservedBytes).toBe(90);
    r2(); r3();
    expect(budget.reservedBytes).toBe(0);
  });

  it("gives up with a memory error after the wait limit, and frees the waiter's place", async () => {
    const budget = new MemoryBudget(100);
    const held = await budget.acquire(80);
    const e = await budget.acquire(50, 30).then(() => null, (err) => err);
    expect(e).toBeInstanceOf(CodecError);
    expect((e as CodecError).kind).toBe("memory");
    expect((e as CodecError).message).toMatch(/waited 30 ms/);
    expect(budget.waiting).toBe(0);
    held();
    (await budget.acquire(100))();
  });

  it("a waiter that was only late (the isolate was busy) keeps its FIFO place instead of timing out", async () => {
    const budget = new MemoryBudget(100, 20); // waiters not seen polling for 20 ms count as gone
    const held = await budget.acquire(80);
    const order: string[] = [];
    const second = budget.acquire(60, 1_000).then((r) => (order.push("second"), r));
    const third = budget.acquire(60, 1_000).then((r) => (order.push("third"), r));
    await new Promise((r) => setTimeout(r, 5));
    // A long synchronous step (as a WASM codec job runs) delays every timer: both waiters now look stale.
    const blockedUntil = Date.now() + 100;
    while (Date.now() < blockedUntil) { /* busy */ }
    // Each late waiter re-joins on its next poll (≤ 50 ms apart; more on a loaded machine, so wait up to 1 s).
    for (const until = Date.now() + 1_000; budget.waiting < 2 && Date.now() < until;) await new Promise((r) => setTimeout(r, 10));
    expect(budget.waiting).toBe(2);
    held();
    const r2 = await second;
    r2();
    (await third)();
    expect(order).toEqual(["second", "third"]);
    expect(budget.reservedBytes).toBe(0);
  });

  it("waits long by default: a busy codec delays a request rather than failing it", () => {
    expect(DEFAULT_BUDGET_WAIT_MS).toBeGreaterThanOrEqual(10 * 60_000);
  });

  it("runs concurrent default-cap jobs one at a time and gives everything back", async () => {
    const source = textLike(300_000, 1);
    let peakReserved = 0;
    const timer = setInterval(() => (peakReserved = Math.max(peakReserved, isolateCodecBudget.reservedBytes)), 1);
    const results = await Promise.all([1, 2, 3].map((s) => ourEncode(source, textLike(300_000, s))));
    clearInterval(timer);
    expect(results.every((r) => r.delta.length > 0)).toBe(true);
    expect(peakReserved).toBeLessThanOrEqual(isolateCodecBudget.totalBytes);
    expect(isolateCodecBudget.reservedBytes).toBe(0);
  });

  it("returns the reservation when the consumer cancels mid-stream", async () => {
    const stream = encode(codecModule, memorySource(textLike(100_000, 2)), streamOf(textLike(2_000_000, 3)),
      { inputWindow: 64 * 1024 });
    const reader = stream.getReader();
    await reader.read();
    expect(isolateCodecBudget.reservedBytes).toBeGreaterThan(0);
    await reader.cancel();
    expect(isolateCodecBudget.reservedBytes).toBe(0);
  });
});
