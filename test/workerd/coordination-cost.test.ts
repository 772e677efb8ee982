// What coordination costs a request: the same sequential PUTs and DELETEs with the in-memory coordinator and
// with the bucket's Durable Object (local workerd: the DO runs in-process, so this is its own work plus RPC,
// not the network hop a deployed Worker pays to reach it). Prints per-operation medians for docs/PERFORMANCE.md.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { DurableCoordinator } from "../../src/bucket-coordinator";
import type { Coordinator } from "../../src/coordination/api";
import { LocalCoordinator } from "../../src/coordination/local";
import { createEngine } from "../../src/wiring";
import { BackendKeyspace } from "../../src/engine/keyspace";
import { R2Backend } from "../../src/storage/r2";
import { pseudoRandom } from "./engine-helpers";

const r2 = new R2Backend(env.BUCKET, "BUCKET");
const ROUNDS = 40;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

async function timed(work: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await work();
  return performance.now() - start;
}

async function measure(coordinator: Coordinator, ds: string): Promise<{ put: number; del: number; begin: number; commit: number }> {
  const engine = createEngine(r2, {}, { coordinator }, null);
  const body = pseudoRandom(4096, 5);
  const puts: number[] = [];
  const dels: number[] = [];
  const begins: number[] = [];
  const commits: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    puts.push(await timed(() => engine.put(`${ds}/o${i}.bin`, { body, size: body.length })));
    let ticket = 0;
    begins.push(await timed(async () => { ticket = await coordinator.begin(`${ds}/x${i}.bin`); }));
    commits.push(await timed(() => coordinator.commit(ticket, "plain")));
  }
  for (let i = 0; i < ROUNDS; i++) dels.push(await timed(() => engine.delete(`${ds}/o${i}.bin`)));
  return { put: median(puts), del: median(dels), begin: median(begins), commit: median(commits) };
}

describe("coordination cost", () => {
  it("per PUT and per DELETE, in-memory vs Durable Object (medians, ms)", async () => {
    const id = crypto.randomUUID().slice(0, 8);
    const local = await measure(new LocalCoordinator(new BackendKeyspace(r2)), `cost-local-${id}`);
    const durable = await measure(DurableCoordinator.of(env.DG_COORDINATOR, "default"), `cost-do-${id}`);
    console.log(`coordination cost (median of ${ROUNDS}, ms): in-memory ${JSON.stringify(local)}; durable object ${JSON.stringify(durable)}`);
    expect(durable.put).toBeGreaterThan(0);
  });
});
