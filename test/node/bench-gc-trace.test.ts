// The memory bench's live figure (bench/gc-trace.ts) comes from V8's GC trace as workerd prints it, and the V8
// flags reach workerd through a rewrite of miniflare's config serialiser (bench/v8-flags-hook.cjs). Both depend
// on text we do not own; these tests pin the shapes (lines copied from a workerd 1.20260426 run) and the anchor.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { describe, expect, it } from "vitest";
import { livePeak, parseGcTrace } from "../../bench/gc-trace";

const MiB = 1024 * 1024;
// Two isolates of one process interleave; the verbose block after each GC ends with "Backing store memory".
const TRACE = [
  "[14646:0x1154ff456000]       48 ms: Scavenge 2.0 (3.1) -> 1.7 (3.9) MB, pooled: 0.0 MB, 3.00 / 0.00 ms (average mu = 1.000, current mu = 1.000) allocation failure; ",
  "[14646:0x1154ff456000] Backing store memory:                            5 KB",
  "[14646:0x1154ffa00000]      487 ms: Mark-Compact 1.9 (2.9) -> 1.6 (2.9) MB, pooled: 0.0 MB, 12.00 / 0.00 ms (average mu = 0.975, current mu = 0.975) testing; GC in old space requested",
  "[14646:0x1154ff640000]      797 ms: Scavenge 1.9 (3.2) -> 1.5 (4.0) MB, pooled: 0.0 MB, 6.13 / 0.00 ms (average mu = 1.000, current mu = 1.000) allocation failure; ",
  "[14646:0x1154ffa00000] Backing store memory:                           64 KB",
  "[14646:0x1154ff640000] Backing store memory:                          784 KB",
  "[14646:0x1154ffa00000]    23297 ms: Mark-Compact 1.8 (2.9) -> 1.7 (2.9) MB, pooled: 0.0 MB, 4.07 / 0.00 ms (average mu = 0.993, current mu = 0.993) external memory pressure; GC in old space requested",
  "[14646:0x1154ffa00000] Backing store memory:                        64614 KB",
  "[14646:0x1154ff640000]    23300 ms: Mark-Compact 90.0 (99.0) -> 80.0 (99.0) MB, pooled: 0.0 MB, 4.07 / 0.00 ms (average mu = 0.993, current mu = 0.993) allocation failure; GC in old space requested",
  "[14646:0x1154ff640000] Backing store memory:                            1 KB",
].join("\n");

describe("bench GC trace", () => {
  it("pairs each GC with the backing-store figure printed after it in the same isolate", () => {
    const points = parseGcTrace(TRACE);
    expect(points.map((p) => [p.isolate, p.kind, p.heapAfter / MiB, (p.buffersAfter ?? -1) / 1024, p.forced])).toEqual([
      ["0x1154ff456000", "Scavenge", 1.7, 5, false],
      ["0x1154ffa00000", "Mark-Compact", 1.6, 64, true],
      ["0x1154ff640000", "Scavenge", 1.5, 784, false],
      ["0x1154ffa00000", "Mark-Compact", 1.7, 64614, false],
      ["0x1154ff640000", "Mark-Compact", 80, 1, false],
    ]);
    expect(points[3].reason).toBe("external memory pressure GC in old space requested");
  });

  it("takes the live peak from full GCs of the Worker's isolate only", () => {
    const points = parseGcTrace(TRACE);
    const worker = { pid: 14646, isolate: "0x1154ffa00000" };
    const live = livePeak(points, worker);
    expect(live.fullGcs).toBe(2);
    expect(live.peak).toEqual({ heap: 1.7 * MiB, buffers: 64614 * 1024 });
    expect(livePeak(points, null).peak?.heap).toBe(80 * MiB);
  });

  it("finds the anchor the V8-flags hook rewrites in the installed miniflare", () => {
    const require = createRequire(import.meta.url);
    const source = readFileSync(require.resolve("miniflare"), "utf8");
    expect(source).toContain("function serializeConfig(config) {");
    expect(source).toContain("_initV8Flags");
  });
});
