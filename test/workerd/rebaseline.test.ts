// Re-baseline (src/engine/rebaseline.ts): a deltaspace whose reference is an outlier (random bytes uploaded first)
// is moved onto one of its similar versions. Savings before/after come from the endpoint; every object reads
// back byte-exact after every step, also for a read opened before the old reference was retired; a run
// interrupted after any step k leaves every object readable and a second run finishes; PUTs racing the run are
// never undone.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { DurableCoordinator } from "../../src/bucket-coordinator";
import type { DeltaEngine } from "../../src/engine/engine";
import type { RebaselineStep } from "../../src/engine/rebaseline";
import { decodeMetadata } from "../../src/engine/metadata";
import { bytesOf, edited, pseudoRandom, readAll, storedKeys, workerEngine } from "./engine-helpers";
import { s3 } from "./s3-support";
import { npmGzip, packageFiles, tarOf } from "./helpers/artifacts";
import { asStoredFormLayout } from "./helpers/reference-form";

const SIZE = 192 * 1024;
const base = pseudoRandom(SIZE, 401);

/** An outlier first (it seeds reference.bin), then five versions that are alike but share nothing with it. */
function badAnchorSet(prefix: string): Map<string, Uint8Array> {
  const objects = new Map<string, Uint8Array>([[`${prefix}/a-outlier.zip`, pseudoRandom(SIZE, 402)]]);
  for (let i = 1; i <= 5; i++) objects.set(`${prefix}/build-${i}.zip`, edited(base, 410 + i, 4 + i));
  objects.set(`${prefix}/notes.txt`, pseudoRandom(3000, 420));
  return objects;
}

function engine(compressedDeltas = false): DeltaEngine {
  return workerEngine({ compressedDeltas }, { coordinator: DurableCoordinator.of(env.DG_COORDINATOR, "default") });
}

async function upload(objects: Map<string, Uint8Array>): Promise<void> {
  const writer = engine();
  for (const [key, body] of objects) await writer.put(key, { body, size: body.length });
}

async function expectAllExact(objects: Map<string, Uint8Array>, when: string): Promise<void> {
  const reader = engine();
  for (const [key, body] of objects) {
    const read = await readAll(reader, key).catch((error) => { throw new Error(`${when}: GET ${key} failed: ${error}`); });
    expect(read.length, `${when}: ${key} length`).toBe(body.length);
    expect(read.every((b, i) => b === body[i]), `${when}: ${key} bytes`).toBe(true);
  }
}

async function referenceSource(prefix: string): Promise<string | undefined> {
  const reference = await env.BUCKET.head(`${prefix}/reference.bin`);
  return reference ? decodeMetadata(reference.customMetadata ?? {})?.sourceName : undefined;
}

async function runToEnd(prefix: string, onStep?: (step: RebaselineStep) => void): Promise<RebaselineStep[]> {
  const steps: RebaselineStep[] = [];
  for (let call = 0; call < 20; call++) {
    const progress = await engine().rebaseline(prefix, { onStep: (step) => { steps.push(step); onStep?.(step); } });
    if (progress.done) return steps;
  }
  throw new Error("the re-baseline did not finish in 20 calls");
}

class Interrupted extends Error {}

describe("re-baseline", () => {
  it("moves a bad anchor onto a similar version: savings before/after in the answer, every object byte-exact", async () => {
    const prefix = "rb-endpoint";
    const objects = badAnchorSet(prefix);
    await upload(objects);
    expect(await referenceSource(prefix)).toBe(`${prefix}/a-outlier.zip`);

    const evaluation = await (await s3("GET", `/_/rebaseline?bucket=default&deltaspace=${prefix}`)).json() as {
      current: { storedBytes: number }; best: { key: string; estimatedStoredBytes: number }; estimatedSavingBytes: number; currentReference: string;
    };
    expect(evaluation.currentReference).toBe(`${prefix}/a-outlier.zip`);
    expect(evaluation.best.key).toMatch(/build-\d\.zip$/);
    expect(evaluation.estimatedSavingBytes).toBeGreaterThan(2 * SIZE);

    let answer: { done: boolean; before: { savedPercent: number; storedBytes: number }; after: { savedPercent: number; storedBytes: number; deltas: number } | null; reference: string };
    let calls = 0;
    do {
      const response = await s3("POST", `/_/rebaseline?bucket=default&deltaspace=${prefix}`);
      expect(response.status).toBe(200);
      answer = await response.json() as typeof answer;
    } while (!answer.done && ++calls < 10);
    expect(answer.done).toBe(true);
    expect(answer.reference).toBe(evaluation.best.key);
    expect(answer.before.savedPercent).toBeLessThan(5);
    expect(answer.after!.savedPercent).toBeGreaterThan(50);
    expect(answer.after!.deltas).toBe(5); // the five versions (the reference's self-delta included); the outlier stays plain
    expect(await referenceSource(prefix)).toBe(evaluation.best.key);
    await expectAllExact(objects, "after");
    // Nothing of the run is left behind.
    expect(await storedKeys(".dg/rebaseline/")).toEqual([]);
  });

  it("every object reads back byte-exact after every step, also a GET opened on a delta before its reference was retired", async () => {
    const prefix = "rb-steps";
    const objects = badAnchorSet(prefix);
    await upload(objects);
    // A GET that resolved the outlier's `.delta` (against the old reference) before the run starts.
    const early = await engine().open(`${prefix}/a-outlier.zip`, { forRead: true });
    expect(early!.info.storageType).toBe("delta");
    const actions: string[] = [];
    const checks: Promise<void>[] = [];
    await runToEnd(prefix, (step) => {
      actions.push(step.action);
      checks.push(expectAllExact(objects, `after step ${actions.length} (${step.action} ${step.key ?? ""})`));
    });
    await Promise.all(checks);
    expect(actions).toContain("retire");
    expect(await env.BUCKET.head(`${prefix}/a-outlier.zip.delta`)).toBeNull();
    const late = await bytesOf(await early!.read());
    expect(late).toEqual(objects.get(`${prefix}/a-outlier.zip`));
  });

  it("with compressed-aware deltas: retiring the reference deletes an inflated reference an earlier version stored, and the repack makes deltas against the new reference's form", async () => {
    const prefix = "rb-gz";
    const objects = new Map<string, Uint8Array>([[`${prefix}/a-outlier.tgz`, npmGzip(pseudoRandom(96 * 1024, 430))]]);
    for (let minor = 1; minor <= 4; minor++) objects.set(`${prefix}/app-1.${minor}.0.tgz`, npmGzip(tarOf(packageFiles(minor))));
    const writer = engine(true);
    for (const [key, body] of objects) await writer.put(key, { body, size: body.length });
    const inflatedKey = `${prefix}/.dg/reference.inflated.bin`;
    expect(await env.BUCKET.head(inflatedKey)).toBeNull(); // never written now
    await asStoredFormLayout(env.BUCKET, prefix, []); // as an earlier version left it
    const referenceSha = async () => decodeMetadata((await env.BUCKET.head(`${prefix}/reference.bin`))?.customMetadata ?? {})?.sha256;

    const chosen = `${prefix}/app-1.2.0.tgz`;
    const atRetire: string[] = [];
    let progress;
    for (let call = 0; !progress?.done; call++) {
      expect(call).toBeLessThan(20);
      progress = await engine(true).rebaseline(prefix, {
        reference: chosen,
        onStep: async (step) => { if (step.action === "retire" && step.outcome === "retired") atRetire.push((await env.BUCKET.head(inflatedKey)) ? "kept" : "gone"); },
      });
    }
    expect(atRetire).toEqual(["gone"]);
    expect(await env.BUCKET.head(inflatedKey)).toBeNull();
    expect(progress.after!.referenceBytes).toBe((await env.BUCKET.head(`${prefix}/reference.bin`))!.size);
    expect(await referenceSource(prefix)).toBe(chosen);
    // The versions went back to compressed-aware deltas, against the inflated form of the new reference.
    for (const minor of [1, 3, 4]) {
      const meta = (await env.BUCKET.head(`${prefix}/app-1.${minor}.0.tgz.delta`))?.customMetadata;
      expect(meta?.["dg-recompress"], `app-1.${minor}.0.tgz`).toBe("v2");
      expect(meta?.["dg-ref-inflated-from"], `app-1.${minor}.0.tgz`).toBe(await referenceSha());
    }
    await expectAllExact(objects, "after the re-baseline");
  });

  it("interrupted after step k, for every k: every object stays readable, and running it again finishes the job", async () => {
    const dry = "rb-count";
    await upload(badAnchorSet(dry));
    const total = (await runToEnd(dry)).length;
    expect(total).toBeGreaterThanOrEqual(10); // plan, unpack, retire, seed, repack ×5, finish
    for (let k = 1; k < total; k++) {
      const prefix = `rb-cut-${k}`;
      const objects = badAnchorSet(prefix);
      await upload(objects);
      let seen = 0;
      await expect(engine().rebaseline(prefix, {
        onStep: () => { if (++seen === k) throw new Interrupted(`interrupted after step ${k}`); },
      })).rejects.toBeInstanceOf(Interrupted);
      await expectAllExact(objects, `interrupted after step ${k}`);
      await runToEnd(prefix);
      await expectAllExact(objects, `re-run after an interruption at step ${k}`);
      expect(await referenceSource(prefix), `reference after an interruption at step ${k}`).toMatch(/build-\d\.zip$/);
      const deltas = (await storedKeys(`${prefix}/`)).filter((key) => key.endsWith(".delta"));
      expect(deltas.length, `deltas after an interruption at step ${k}`).toBe(5);
    }
  });

  it("PUTs racing the run are never undone: the last acknowledged bytes of a key are what remains", async () => {
    const prefix = "rb-race";
    const objects = badAnchorSet(prefix);
    await upload(objects);
    const key = `${prefix}/build-3.zip`;
    const writer = engine();
    let running = true;
    let last = objects.get(key)!;
    const writes = (async () => {
      for (let i = 0; running && i < 40; i++) {
        const body = edited(base, 500 + i, 3);
        await writer.put(key, { body, size: body.length });
        last = body;
        objects.set(key, body);
      }
    })();
    await runToEnd(prefix);
    running = false;
    await writes;
    const fresh = `${prefix}/build-6.zip`;
    const extra = edited(base, 600, 5);
    await writer.put(fresh, { body: extra, size: extra.length });
    objects.set(fresh, extra);
    expect(await readAll(engine(), key)).toEqual(last);
    await expectAllExact(objects, "after the race");
  });

  it("refuses a reference outside the deltaspace, an ineligible one, and another reference while a run is unfinished", async () => {
    const prefix = "rb-refuse";
    await upload(badAnchorSet(prefix));
    const outside = await s3("POST", `/_/rebaseline?bucket=default&deltaspace=${prefix}&reference=elsewhere/x.zip`);
    expect(outside.status).toBe(400);
    const ineligible = await s3("POST", `/_/rebaseline?bucket=default&deltaspace=${prefix}&reference=${prefix}/notes.txt`);
    expect(ineligible.status).toBe(400);
    const started = await engine().rebaseline(prefix, { reference: `${prefix}/build-2.zip`, maxMs: 1 });
    expect(started.done).toBe(false);
    const other = await s3("POST", `/_/rebaseline?bucket=default&deltaspace=${prefix}&reference=${prefix}/build-4.zip`);
    expect(other.status).toBe(409);
    await runToEnd(prefix);
    expect(await referenceSource(prefix)).toBe(`${prefix}/build-2.zip`);
  });
});
