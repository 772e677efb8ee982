// No acknowledged write is lost when requests of different isolates race, and conditional writes are atomic
// (docs/ARCHITECTURE.md "Guarantees").
// Each test drives two requests' storage calls in the racy order with a GatedBackend (one per "isolate") while
// both coordinate through the real BucketCoordinator Durable Object over the real local R2.
import { env } from "cloudflare:workers";
import { abortAllDurableObjects } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { DurableCoordinator } from "../../src/bucket-coordinator";
import { BucketRegistry } from "../../src/buckets/registry";
import { createEngine } from "../../src/wiring";
import type { Coordinator } from "../../src/coordination/api";
import { configFrom } from "../../src/config";
import type { PutInput } from "../../src/engine/api";
import type { DeltaEngine } from "../../src/engine/engine";
import { writePrecondition } from "../../src/s3/ops/headers";
import type { Backend } from "../../src/storage/backend";
import { R2Backend } from "../../src/storage/r2";
import { S3Error } from "../../src/errors";
import { bodyStream, edited, pseudoRandom, readAll, sha256Hex, storedKeys } from "./engine-helpers";
import { GatedBackend } from "./helpers/gated-backend";
import { s3 } from "./s3-support";

const namespace = env.DG_COORDINATOR;
const vars = env as unknown as Record<string, unknown>;
const r2 = new R2Backend(env.BUCKET, "BUCKET");

/** One "isolate": its own engine over its own gated view of the bucket, coordinating through the bucket's DO. */
function isolate(bucket = "default", backend: Backend = r2, coordinator: Coordinator = DurableCoordinator.of(namespace, bucket)) {
  const gated = new GatedBackend(backend);
  const engine = createEngine(gated, {}, { coordinator });
  return { gated, engine };
}

function unique(name: string): string {
  return `${name}-${crypto.randomUUID().slice(0, 8)}`;
}

async function put(engine: DeltaEngine, key: string, bytes: Uint8Array) {
  return engine.put(key, { body: bodyStream(bytes), size: bytes.length });
}

async function errorOf(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(() => undefined, (error: unknown) => error);
}

describe("reference collection never breaks an acknowledged delta (defect 3)", () => {
  it("a DELETE of the deltaspace's last object while a delta PUT is between encode and write keeps the reference", async () => {
    const ds = unique("gc");
    const v1 = pseudoRandom(256 * 1024, 1);
    const setup = isolate();
    await put(setup.engine, `${ds}/v1.zip`, v1);

    const a = isolate();
    const b = isolate();
    const v2 = edited(v1, 2);
    const heldWrite = a.gated.hold((call) => call.op === "put" && call.key === `${ds}/v2.zip.delta`);
    const putA = put(a.engine, `${ds}/v2.zip`, v2);
    await heldWrite.reached; // A has read the reference and encoded against it
    await b.engine.delete(`${ds}/v1.zip`); // the deltaspace's last object: GC would find only reference.bin
    heldWrite.release();
    expect((await putA).storageType).toBe("delta");

    expect(await sha256Hex(await readAll(setup.engine, `${ds}/v2.zip`))).toBe(await sha256Hex(v2));
    // Collected once nothing depends on it.
    await b.engine.delete(`${ds}/v2.zip`);
    expect(await storedKeys(`${ds}/`)).toEqual([]);
  });

  it("a batch DeleteObjects racing a PUT into the same deltaspace leaves it readable", async () => {
    const ds = unique("gc-batch");
    const v1 = pseudoRandom(256 * 1024, 3);
    const setup = isolate();
    await put(setup.engine, `${ds}/a.zip`, v1);
    await put(setup.engine, `${ds}/b.zip`, edited(v1, 4));

    const a = isolate();
    const v3 = edited(v1, 5);
    const heldWrite = a.gated.hold((call) => call.op === "put" && call.key === `${ds}/c.zip.delta`);
    const putA = put(a.engine, `${ds}/c.zip`, v3);
    await heldWrite.reached;
    expect((await isolate().engine.deleteMany([`${ds}/a.zip`, `${ds}/b.zip`])).every((o) => !o.error)).toBe(true);
    heldWrite.release();
    await putA;
    expect(await sha256Hex(await readAll(setup.engine, `${ds}/c.zip`))).toBe(await sha256Hex(v3));
  });
});

describe("the coordinator restarting mid-PUT", () => {
  it("keeps the write's intent: the reference stays pinned and the PUT still commits", async () => {
    const ds = unique("restart");
    const v1 = pseudoRandom(256 * 1024, 6);
    const setup = isolate();
    await put(setup.engine, `${ds}/v1.zip`, v1);
    const a = isolate();
    const v2 = edited(v1, 7);
    const heldWrite = a.gated.hold((call) => call.op === "put" && call.key === `${ds}/v2.zip.delta`);
    const putA = put(a.engine, `${ds}/v2.zip`, v2);
    await heldWrite.reached;
    await abortAllDurableObjects(); // the object's memory (locks, intents) is gone; its storage is not
    await isolate().engine.delete(`${ds}/v1.zip`);
    heldWrite.release();
    expect((await putA).storageType).toBe("delta");
    expect(await sha256Hex(await readAll(setup.engine, `${ds}/v2.zip`))).toBe(await sha256Hex(v2));
  });
});

describe("two PUTs of one key storing different variants (defect 4)", () => {
  for (const lastToCommit of ["delta", "plain"] as const) {
    it(`both acknowledged: the one acknowledged last (${lastToCommit}) is what GET returns, and only its variant remains`, async () => {
      const ds = unique("dup");
      const v1 = pseudoRandom(256 * 1024, 11);
      const setup = isolate();
      await put(setup.engine, `${ds}/base.zip`, v1);
      const key = `${ds}/k.zip`;
      const asDelta = edited(v1, 12); // stores as k.zip.delta
      const asPlain = pseudoRandom(128 * 1024, 13); // does not delta: stores as k.zip

      const first = isolate();
      const last = isolate();
      const [firstBytes, lastBytes] = lastToCommit === "delta" ? [asPlain, asDelta] : [asDelta, asPlain];
      // The last one has written its variant (and sidecar) and is about to commit when the first one runs whole.
      const lastVariant = lastToCommit === "delta" ? `${key}.delta.meta` : `${key}.meta`;
      const held = last.gated.hold((call) => call.op === "put" && call.key === lastVariant);
      const putLast = put(last.engine, key, lastBytes);
      await held.reached;
      await put(first.engine, key, firstBytes);
      held.release();
      await putLast;

      expect(await sha256Hex(await readAll(setup.engine, key))).toBe(await sha256Hex(lastBytes));
      const stored = (await storedKeys(`${ds}/k.zip`)).filter((k) => !k.endsWith(".meta"));
      expect(stored).toEqual([lastToCommit === "delta" ? `${key}.delta` : key]);
    });
  }
});

describe("DeleteBucket racing a PUT (defect 5)", () => {
  async function runtimeBucket() {
    const name = unique("race-bucket").toLowerCase();
    const registry = new BucketRegistry(configFrom(vars), vars);
    const entry = await registry.create(name);
    return { name, registry, entry };
  }

  it("is refused (BucketNotEmpty) while a PUT is in progress, and the PUT's object stays", async () => {
    const { name, registry, entry } = await runtimeBucket();
    const a = isolate(name, entry.backend);
    const held = a.gated.hold((call) => call.op === "put" && call.key === "obj.bin");
    const putA = put(a.engine, "obj.bin", pseudoRandom(1000, 21));
    await held.reached;
    const refused = await errorOf(isolate(name, entry.backend).engine.deleteBucket());
    expect((refused as S3Error).code).toBe("BucketNotEmpty");
    held.release();
    await putA;
    expect(await registry.get(name)).not.toBeNull();
    expect(await a.engine.open("obj.bin")).not.toBeNull();
  });

  it("after it, a PUT of a request that resolved the bucket earlier is refused, and a new bucket of the name starts clean", async () => {
    const { name, registry, entry } = await runtimeBucket();
    const a = isolate(name, entry.backend);
    await put(a.engine, "old.bin", pseudoRandom(1000, 22));
    await a.engine.delete("old.bin");
    await a.engine.deleteBucket();
    expect(await registry.get(name)).toBeNull();

    const late = await errorOf(put(a.engine, "late.bin", pseudoRandom(1000, 23)));
    expect((late as S3Error).code).toBe("NoSuchBucket");
    expect(await storedKeys(`.dg/buckets/data/${name}/`)).toEqual([]);

    const again = await registry.create(name);
    const fresh = isolate(name, again.backend);
    expect((await fresh.engine.list({ maxKeys: 10 })).objects).toEqual([]);
    await put(fresh.engine, "new.bin", pseudoRandom(1000, 24));
    expect(await fresh.engine.open("new.bin")).not.toBeNull();
  });
});

describe("conditional writes are atomic (If-None-Match, If-Match)", () => {
  const ifNoneMatch = (key: string) => writePrecondition(new Headers({ "if-none-match": "*" }), key);
  const ifMatch = (key: string, etag: string) => writePrecondition(new Headers({ "if-match": `"${etag}"` }), key);

  function conditionalPut(engine: DeltaEngine, key: string, bytes: Uint8Array, precondition: PutInput["precondition"]) {
    return engine.put(key, { body: bodyStream(bytes), size: bytes.length, precondition });
  }

  it("two If-None-Match: * PUTs of a new key: one is stored, the other refused while it runs and after it", async () => {
    const key = `${unique("cond")}/k.bin`;
    const a = isolate();
    const first = pseudoRandom(1000, 41);
    const held = a.gated.hold((call) => call.op === "put" && call.key === key);
    const putA = conditionalPut(a.engine, key, first, ifNoneMatch(key));
    await held.reached; // A checked "absent" and is writing
    const during = await errorOf(conditionalPut(isolate().engine, key, pseudoRandom(1000, 42), ifNoneMatch(key)));
    expect((during as S3Error).code).toBe("ConditionalRequestConflict");
    held.release();
    await putA;
    const after = await errorOf(conditionalPut(isolate().engine, key, pseudoRandom(1000, 43), ifNoneMatch(key)));
    expect((after as S3Error).code).toBe("PreconditionFailed");
    expect(await sha256Hex(await readAll(a.engine, key))).toBe(await sha256Hex(first));
  });

  it("a plain PUT that arrives during a conditional one waits for it and lands after it", async () => {
    const key = `${unique("cond")}/k.bin`;
    const a = isolate();
    const held = a.gated.hold((call) => call.op === "put" && call.key === key);
    const putA = conditionalPut(a.engine, key, pseudoRandom(1000, 44), ifNoneMatch(key));
    await held.reached;
    const later = pseudoRandom(1000, 45);
    let plainDone = false;
    const putB = put(isolate().engine, key, later).then(() => { plainDone = true; });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(plainDone).toBe(false);
    held.release();
    await putA;
    await putB;
    expect(await sha256Hex(await readAll(a.engine, key))).toBe(await sha256Hex(later));
  });

  it("If-Match: only the ETag current when the write lands is accepted", async () => {
    const key = `${unique("cond")}/k.bin`;
    const engine = isolate().engine;
    const v1 = await put(engine, key, pseudoRandom(1000, 46));
    const v2 = await conditionalPut(engine, key, pseudoRandom(1000, 47), ifMatch(key, v1.etag));
    const stale = await errorOf(conditionalPut(engine, key, pseudoRandom(1000, 48), ifMatch(key, v1.etag)));
    expect((stale as S3Error).code).toBe("PreconditionFailed");
    const missing = await errorOf(conditionalPut(engine, `${key}.absent`, pseudoRandom(10, 49), ifMatch(key, v2.etag)));
    expect((missing as S3Error).code).toBe("NoSuchKey");
  });
});

describe("conditional writes through the S3 API", () => {
  it("PutObject and CopyObject with If-None-Match: * do not overwrite (412); If-Match with the current ETag does", async () => {
    const path = `/default/${unique("cond-s3")}/k.bin`;
    expect((await s3("PUT", path, { body: "one", headers: { "if-none-match": "*" } })).status).toBe(200);
    const refused = await s3("PUT", path, { body: "two", headers: { "if-none-match": "*" } });
    expect(refused.status).toBe(412);
    const copyRefused = await s3("PUT", path, { headers: { "x-amz-copy-source": path, "x-amz-metadata-directive": "REPLACE", "if-none-match": "*" } });
    expect(copyRefused.status).toBe(412);
    const etag = (await s3("HEAD", path)).headers.get("etag")!;
    expect((await s3("PUT", path, { body: "three", headers: { "if-match": etag } })).status).toBe(200);
    expect(await (await s3("GET", path)).text()).toBe("three");
  });
});
