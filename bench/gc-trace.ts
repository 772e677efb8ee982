// Live isolate memory from V8's own GC trace. The bench starts workerd with `--trace-gc --trace-gc-verbose`
// (bench/v8-flags-hook.cjs), so after every GC V8 prints the heap's size before and after it and, with
// --trace-gc-verbose, "Backing store memory" (ArrayBuffer contents, the figure Runtime.getHeapUsage calls
// backingStorageSize). After a full mark-compact, "after" is what was still reachable: live memory, garbage
// excluded -- for ArrayBuffers only when workerd runs with --no-concurrent-array-buffer-sweeping, as the benches
// start it: by default V8 frees the dead ones later in the background and the printed figure still counts them. While a request allocates ArrayBuffers V8 runs such full GCs on its own every few MiB ("external
// memory pressure"), so a long request is sampled many times; forcing more from outside is not possible mid-request
// (bench/inspector.ts). The peak over those points is a sampled figure: memory can be higher between two GCs for a
// moment, but it never counts garbage. WASM linear memory is in neither figure (bench/worker-entry.ts reports it).
//
// Line shapes (V8 13.x):
//   [6505:0x72eaffa00000]      568 ms: Mark-Compact 1.9 (2.9) -> 1.6 (2.9) MB, pooled: 0.0 MB, 4.07 / 0.00 ms (…) testing; GC in old space requested
//   [6505:0x72eaffa00000] Backing store memory:                           64 KB

import { join } from "node:path";

/**
 * Makes the next `wrangler dev` this process starts run workerd with V8's GC trace (bench/v8-flags-hook.cjs puts
 * the flags into wrangler's workerd config) and copy workerd's output, where V8 prints it, to `logPath`.
 * DG_BENCH_V8_FLAGS, when set, overrides the flags unless `flags` is given.
 */
export function traceWorkerdGc(root: string, logPath: string, flags = process.env.DG_BENCH_V8_FLAGS): void {
  process.env.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ""} --require ${join(root, "bench", "v8-flags-hook.cjs")}`.trim();
  process.env.DG_BENCH_V8_FLAGS = flags ?? GC_TRACE_FLAGS;
  process.env.DG_BENCH_WORKERD_LOG = logPath;
}

/** Full GCs on demand, their trace with ArrayBuffer sizes, and dead ArrayBuffers swept at once (see above). */
export const GC_TRACE_FLAGS = "--expose-gc --trace-gc --trace-gc-verbose --no-concurrent-array-buffer-sweeping";

export interface GcPoint {
  pid: number;
  isolate: string;
  kind: string;
  /** Milliseconds since the isolate started. */
  ms: number;
  /** V8's reason, e.g. "external memory pressure", "testing" (gc()), "allocation failure". */
  reason: string;
  /** Heap objects in use before / after this GC (bytes). */
  heapBefore: number;
  heapAfter: number;
  /** ArrayBuffer backing stores after this GC (bytes); undefined if the verbose block was missing. */
  buffersAfter?: number;
  /** Forced by the bench (`gc()` reports the reason "testing"). */
  forced: boolean;
}

const MiB = 1024 * 1024;
const GC_LINE = /^\[(\d+):(0x[0-9a-f]+)\]\s+([\d.]+) ms: (Scavenge|Mark-Compact|Minor Mark-Sweep)[^\d]*([\d.]+) \(([\d.]+)\) -> ([\d.]+) \(([\d.]+)\) MB.*\) ([^;)]*);?(.*)$/;
const BACKING_LINE = /^\[(\d+):(0x[0-9a-f]+)\] Backing store memory:\s+(\d+) KB/;

/** Every GC in `text` (a slice of workerd's output), with the backing-store figure printed after it. */
export function parseGcTrace(text: string): GcPoint[] {
  const points: GcPoint[] = [];
  const open = new Map<string, GcPoint>(); // per isolate: the last GC still waiting for its backing-store line
  for (const line of text.split("\n")) {
    const gc = GC_LINE.exec(line);
    if (gc) {
      const point: GcPoint = {
        pid: Number(gc[1]), isolate: gc[2], ms: Number(gc[3]), kind: gc[4], reason: `${gc[9]}${gc[10]}`.trim(),
        heapBefore: Number(gc[5]) * MiB, heapAfter: Number(gc[7]) * MiB, forced: gc[9].includes("testing"),
      };
      points.push(point);
      open.set(`${gc[1]}:${gc[2]}`, point);
      continue;
    }
    const backing = BACKING_LINE.exec(line);
    if (backing) {
      const point = open.get(`${backing[1]}:${backing[2]}`);
      if (point && point.buffersAfter === undefined) point.buffersAfter = Number(backing[3]) * 1024;
    }
  }
  return points;
}

export interface LivePeak {
  /** Largest heap + buffers after a full GC. */
  peak?: { heap: number; buffers: number };
  fullGcs: number;
}

/** The largest heap + buffers after a mark-compact of one isolate (null: of any). */
export function livePeak(points: GcPoint[], of: { pid: number; isolate: string } | null): LivePeak {
  const full = points.filter((p) => p.kind === "Mark-Compact" && (!of || (p.pid === of.pid && p.isolate === of.isolate)));
  let peak: LivePeak["peak"];
  for (const p of full) {
    const buffers = p.buffersAfter ?? 0;
    if (!peak || p.heapAfter + buffers > peak.heap + peak.buffers) peak = { heap: p.heapAfter, buffers };
  }
  return { peak, fullGcs: full.length };
}
