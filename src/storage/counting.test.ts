// The operation-counting decorator over the real local R2 binding.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { CountingBackend, formatCounts, parseCounts } from "./counting";
import { R2Backend } from "./r2";

describe("counting backend", () => {
  it("counts each kind of storage operation and still returns the real results", async () => {
    const backend = new CountingBackend(new R2Backend(env.BUCKET, "BUCKET"));
    await backend.put("counting/a", "hello", 5);
    expect((await backend.head("counting/a"))?.size).toBe(5);
    const got = await backend.get("counting/a", { offset: 1, length: 3 });
    expect(await new Response(got!.body).text()).toBe("ell");
    expect((await backend.list({ prefix: "counting/" })).objects.map((o) => o.key)).toEqual(["counting/a"]);
    await backend.delete(["counting/a", "counting/missing"]);
    await backend.delete([]);
    expect(await backend.head("counting/a")).toBeNull();
    expect(backend.counts).toEqual({ head: 2, get: 1, put: 1, list: 1, delete: 1, multipart: 0 });
    expect(backend.total).toBe(6);
  });

  it("counts multipart calls: create, each part, complete", async () => {
    const backend = new CountingBackend(new R2Backend(env.BUCKET, "BUCKET"));
    const upload = await backend.createMultipart("counting/mp");
    const part = new Uint8Array(5 * 1024 * 1024).fill(1);
    const p1 = await upload.uploadPart(1, part, part.length);
    const p2 = await upload.uploadPart(2, new Uint8Array(10), 10);
    const done = await upload.complete([p1, p2]);
    expect(done.size).toBe(part.length + 10);
    expect(backend.counts.multipart).toBe(4);
  });

  it("round-trips its counts through the header form", () => {
    const counts = { head: 1, get: 2, put: 0, list: 0, delete: 0, multipart: 3 };
    expect(formatCounts(counts)).toBe("head=1,get=2,put=0,list=0,delete=0,multipart=3");
    expect(parseCounts(formatCounts(counts))).toEqual(counts);
    expect(parseCounts("get=x,bogus=4,head=2")).toMatchObject({ head: 2, get: 0 });
  });
});

describe("isolate-wide operation totals", () => {
  it("adds the operations of every counted backend into one record an endpoint can report", async () => {
    const { countedBackend, isolateCounts, operationCountsResponse } = await import("./counting");
    const before = { ...isolateCounts };
    const a = countedBackend(new R2Backend(env.BUCKET, "BUCKET"));
    const b = countedBackend(new R2Backend(env.BUCKET, "BUCKET"));
    await a.head("counting/none");
    await b.get("counting/none");
    await b.head("counting/none");
    const reported = (await operationCountsResponse().json()) as Record<string, number>;
    expect(reported.head - before.head).toBe(2);
    expect(reported.get - before.get).toBe(1);
  });
});
