// A PUT that dies after any of its storage writes leaves no half-object (a GET answers the whole new object or
// nothing, never an error) and nothing that is not reclaimed: the coordinator closes the write's intent at
// once when the request could still say so (abort) or at the intent's expiry when it died (the DO's alarm),
// settles the key and collects a reference nothing uses; the request's finally removes its staging.
import { env } from "cloudflare:workers";
import { runDurableObjectAlarm } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { DurableCoordinator } from "../../src/bucket-coordinator";
import { createEngine } from "../../src/wiring";
import type { Coordinator } from "../../src/coordination/api";
import type { DeltaEngine } from "../../src/engine/engine";
import type { EngineConfig } from "../../src/engine/config";
import { R2Backend } from "../../src/storage/r2";
import { bodyStream, edited, pseudoRandom, readAll, sha256Hex, storedKeys } from "./engine-helpers";
import { GatedBackend } from "./helpers/gated-backend";

const r2 = new R2Backend(env.BUCKET, "BUCKET");
const v1 = pseudoRandom(256 * 1024, 31);

interface Scenario {
  name: string;
  config?: Partial<EngineConfig>;
  /** Objects the deltaspace holds before the PUT. */
  setup?: (engine: DeltaEngine, ds: string) => Promise<void>;
  key: string;
  bytes: Uint8Array;
}

const scenarios: Scenario[] = [
  { name: "seeding upload (reference.bin, delta, sidecars)", key: "v1.zip", bytes: v1 },
  {
    name: "delta upload", key: "v2.zip", bytes: edited(v1, 32),
    setup: async (engine, ds) => { await engine.put(`${ds}/v1.zip`, { body: bodyStream(v1), size: v1.length }); },
  },
  { name: "passthrough upload", key: "logo.png", bytes: pseudoRandom(100 * 1024, 33) },
  { name: "staged passthrough upload", key: "big.png", bytes: pseudoRandom(300 * 1024, 34), config: { bodyBufferLimit: 64 * 1024 } },
  { name: "staged seeding upload", key: "big.zip", bytes: v1, config: { bodyBufferLimit: 64 * 1024 } },
];

/** The coordinator of a request that dies: it never gets to abort its intent, which has a short life. */
function dyingCoordinator(ttlMs: number): Coordinator {
  const real = DurableCoordinator.of(env.DG_COORDINATOR, "default", ttlMs);
  return {
    begin: (key) => real.begin(key),
    commit: (ticket, variant, facts) => real.commit(ticket, variant, facts),
    abort: async () => {},
    claimSeed: (ticket) => real.claimSeed(ticket),
    seedDone: (ticket, reference) => real.seedDone(ticket, reference),
    remove: (keys) => real.remove(keys),
    deleteBucket: () => real.deleteBucket(),
    hold: (name, options) => real.hold(name, options),
    release: async () => {},
    savings: (options) => real.savings(options),
    rebuildSavings: (cursor, limit) => real.rebuildSavings(cursor, limit),
  };
}

function engineOver(backend: GatedBackend, scenario: Scenario, coordinator: Coordinator): DeltaEngine {
  return createEngine(backend, scenario.config ?? {}, { coordinator });
}

async function putWrites(scenario: Scenario): Promise<string[]> {
  const ds = `crash-dry-${crypto.randomUUID().slice(0, 8)}`;
  const gated = new GatedBackend(r2);
  const engine = engineOver(gated, scenario, DurableCoordinator.of(env.DG_COORDINATOR, "default"));
  await scenario.setup?.(engine, ds);
  gated.calls.length = 0;
  await engine.put(`${ds}/${scenario.key}`, { body: bodyStream(scenario.bytes), size: scenario.bytes.length });
  return gated.calls.filter((c) => c.op === "put").map((c) => c.key.replace(ds, "<ds>"));
}

/** What must hold once the dead write's intent is closed. */
async function expectReclaimed(engine: DeltaEngine, ds: string, scenario: Scenario, stagingBefore: string[]): Promise<void> {
  const key = `${ds}/${scenario.key}`;
  const opened = await engine.open(key);
  if (opened) {
    await opened.discard();
    expect(await sha256Hex(await readAll(engine, key))).toBe(await sha256Hex(scenario.bytes));
  }
  const left = await storedKeys(`${ds}/`);
  const objects = left.filter((k) => !k.endsWith(".meta") && !k.endsWith("/reference.bin"));
  const hasReference = left.includes(`${ds}/reference.bin`);
  // A reference is collected once no object is left in its deltaspace, and is there for every delta.
  if (objects.length === 0) expect(hasReference, `left: ${left}`).toBe(false);
  if (objects.some((k) => k.endsWith(".delta"))) expect(hasReference, `left: ${left}`).toBe(true);
  // At most one variant of the key.
  expect(objects.filter((k) => k.startsWith(key)).length).toBeLessThanOrEqual(1);
  // The request's own staging (body, spilled parts) is gone.
  expect((await storedKeys(".dg/tmp/")).filter((k) => !stagingBefore.includes(k))).toEqual([]);
}

describe("a PUT that fails after any of its storage writes", () => {
  for (const scenario of scenarios) {
    for (const dies of [false, true]) {
      it(`${scenario.name}, request ${dies ? "dies (intent expires)" : "fails (intent aborted)"}: no half-object, nothing left unreclaimed`, async () => {
        const writes = await putWrites(scenario);
        expect(writes.length).toBeGreaterThan(0);
        for (let failing = 0; failing < writes.length; failing++) {
          const ds = `crash-${crypto.randomUUID().slice(0, 8)}`;
          const gated = new GatedBackend(r2);
          const ttlMs = 200;
          const engine = engineOver(gated, scenario, dies ? dyingCoordinator(ttlMs) : DurableCoordinator.of(env.DG_COORDINATOR, "default"));
          // The deltaspace's earlier objects come from a request that lived.
          await scenario.setup?.(engineOver(new GatedBackend(r2), scenario, DurableCoordinator.of(env.DG_COORDINATOR, "default")), ds);
          const stagingBefore = await storedKeys(".dg/tmp/");
          let puts = 0;
          gated.failAfter((call) => call.op === "put" && puts++ === failing);
          const outcome = await engine.put(`${ds}/${scenario.key}`, { body: bodyStream(scenario.bytes), size: scenario.bytes.length })
            .then(() => "stored", (error: Error) => error.message);
          expect(outcome, `after write ${failing} (${writes[failing]})`).toMatch(/injected failure/);
          if (dies) {
            await new Promise((resolve) => setTimeout(resolve, ttlMs + 50));
            await runDurableObjectAlarm(env.DG_COORDINATOR.get(env.DG_COORDINATOR.idFromName("default")));
          }
          await expectReclaimed(engine, ds, scenario, stagingBefore);
        }
      });
    }
  }
});
