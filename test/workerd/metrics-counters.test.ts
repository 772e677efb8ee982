// GET /_/metrics through the Worker's fetch: the counters DeltaGlider's dashboards read move as real requests are
// made (PUT reference / delta / as-is, GET from a decode and from the cache, errors), the bytes saved agree with
// the bytes actually stored in R2, and the whole answer is valid Prometheus text (parsed strictly). Only the
// admin right may read it.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { edited, pseudoRandom } from "./engine-helpers";
import { DEV_CLIENT, ORIGIN } from "./s3-support";
import { TOKEN, parseExposition, scrape, through, valueOf, type Exposition } from "./metrics-support";

const KiB = 1024;
/** One isolate: its own env object, so its own services and metrics accumulator; flushed after every request. */
const isolate = { ...(env as object), DG_ADMIN_TOKEN: TOKEN, DG_METRICS_FLUSH_SECONDS: "0" };

function signed(method: string, path: string, body?: Uint8Array): Promise<Request> {
  const headers: Record<string, string> = body ? { "content-length": String(body.byteLength) } : {};
  return DEV_CLIENT.sign(`${ORIGIN}${path}`, { method, headers, body: body ?? null });
}

/** How much each named series grew between two scrapes. */
function grew(before: Exposition, after: Exposition, name: string, labels: Record<string, string> = {}): number {
  return valueOf(after, name, labels) - valueOf(before, name, labels);
}

describe("GET /_/metrics", () => {
  it("needs the admin right, and answers Prometheus text 0.0.4 to Bearer DG_ADMIN_TOKEN", async () => {
    const anonymous = await through(isolate, new Request(`${ORIGIN}/_/metrics`));
    expect(anonymous.status).toBe(401);
    expect(await anonymous.text()).not.toContain("deltaglider_");
    const exposition = await scrape(isolate);
    expect(exposition.types.get("deltaglider_http_requests_total")).toBe("counter");
    expect(exposition.types.get("deltaglider_delta_encode_duration_seconds")).toBe("histogram");
    expect(valueOf(exposition, "deltaglider_build_info", { version: "0.1.0", backend_type: "r2" })).toBe(1);
  });

  it("counts PUTs by storage decision, bytes saved as stored in R2, GETs by cache use, and errors by code", async () => {
    const prefix = `metrics-${crypto.randomUUID()}`;
    const v1 = pseudoRandom(192 * KiB, 31);
    const v2 = edited(v1, 32);
    const text = new TextEncoder().encode("notes, not an artifact\n".repeat(100));
    const before = await scrape(isolate);

    expect((await through(isolate, await signed("PUT", `/default/${prefix}/v1.zip`, v1))).headers.get("x-amz-storage-type")).toBe("Reference");
    expect((await through(isolate, await signed("PUT", `/default/${prefix}/v2.zip`, v2))).headers.get("x-amz-storage-type")).toBe("Delta");
    expect((await through(isolate, await signed("PUT", `/default/${prefix}/notes.txt`, text))).headers.get("x-amz-storage-type")).toBe("Direct");
    const first = await through(isolate, await signed("GET", `/default/${prefix}/v2.zip`));
    expect(new Uint8Array(await first.arrayBuffer())).toEqual(v2);
    const second = await through(isolate, await signed("GET", `/default/${prefix}/v2.zip`));
    expect((await second.arrayBuffer()).byteLength).toBe(v2.byteLength);
    expect((await through(isolate, await signed("GET", `/default/${prefix}/missing.zip`))).status).toBe(404);
    const after = await scrape(isolate);

    const http = "deltaglider_http_requests_total";
    expect(grew(before, after, http, { method: "PUT", operation: "put_object", status: "200" })).toBe(3);
    expect(grew(before, after, http, { method: "GET", operation: "get_object", status: "200" })).toBe(2);
    expect(grew(before, after, http, { method: "GET", operation: "get_object", status: "404" })).toBe(1);
    // The first scrape itself was counted after it answered, so the second one shows it.
    expect(grew(before, after, http, { method: "GET", operation: "metrics", status: "200" })).toBe(1);
    expect(grew(before, after, "deltaglider_s3_errors_total", { code: "NoSuchKey" })).toBe(1);

    const decisions = "deltaglider_delta_decisions_total";
    expect(grew(before, after, decisions, { decision: "reference" })).toBe(1);
    expect(grew(before, after, decisions, { decision: "delta" })).toBe(1);
    expect(grew(before, after, decisions, { decision: "passthrough" })).toBe(1);
    expect(grew(before, after, "deltaglider_delta_passthrough_reasons_total", { reason: "ineligible" })).toBe(1);

    // Saved = original size − the delta's size as R2 holds it.
    const storedDelta = await env.BUCKET.head(`${prefix}/v2.zip.delta`);
    expect(storedDelta).not.toBeNull();
    expect(grew(before, after, "deltaglider_delta_bytes_saved_total")).toBe(v2.byteLength - storedDelta!.size);
    expect(grew(before, after, "deltaglider_delta_compression_ratio_count")).toBe(1);
    expect(grew(before, after, "deltaglider_delta_compression_ratio_sum")).toBeCloseTo(storedDelta!.size / v2.byteLength, 9);

    // Both delta-eligible PUTs ran the encoder (the seeding one against its own body); one GET decoded.
    expect(grew(before, after, "deltaglider_delta_encode_duration_seconds_count")).toBe(2);
    expect(grew(before, after, "deltaglider_delta_decode_duration_seconds_count")).toBeGreaterThanOrEqual(1);
    // Two delta reads: each is a hit (a cached reference or the cached rebuild) or a miss.
    const hits = grew(before, after, "deltaglider_cache_hits_total");
    const misses = grew(before, after, "deltaglider_cache_misses_total");
    expect(hits + misses).toBe(2);
    const reads = ["rebuilt", "reference", "miss"].map((source) => grew(before, after, "deltaglider_delta_reads_total", { source }));
    expect(reads.reduce((a, b) => a + b)).toBe(2);
    expect(reads[2]).toBe(misses);

    // Body sizes: the three PUT bodies in, the two GET bodies out.
    expect(grew(before, after, "deltaglider_http_request_size_bytes_sum", { method: "PUT" })).toBe(v1.byteLength + v2.byteLength + text.byteLength);
    expect(grew(before, after, "deltaglider_http_response_size_bytes_sum", { method: "GET" }))
      .toBeGreaterThanOrEqual(2 * v2.byteLength); // + the 404's error XML and the first scrape's text
    expect(grew(before, after, "deltaglider_http_request_duration_seconds_count", { method: "PUT", operation: "put_object" })).toBe(3);
  });

  it("counts a multipart completion's decision, recorded once its object is stored behind the keep-alive", async () => {
    const prefix = `metrics-mpu-${crypto.randomUUID()}`;
    const v1 = pseudoRandom(128 * KiB, 41);
    const v2 = edited(v1, 42);
    expect((await through(isolate, await signed("PUT", `/default/${prefix}/v1.zip`, v1))).status).toBe(200);
    const before = await scrape(isolate);
    const created = await through(isolate, await signed("POST", `/default/${prefix}/v2.zip?uploads`));
    const uploadId = /<UploadId>([^<]+)<\/UploadId>/.exec(await created.text())![1];
    const part = await through(isolate, await signed("PUT", `/default/${prefix}/v2.zip?partNumber=1&uploadId=${uploadId}`, v2));
    const etag = part.headers.get("etag")!;
    const xml = new TextEncoder().encode(
      `<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>${etag}</ETag></Part></CompleteMultipartUpload>`);
    const completed = await through(isolate, await signed("POST", `/default/${prefix}/v2.zip?uploadId=${uploadId}`, xml));
    expect(await completed.text()).toContain("<CompleteMultipartUploadResult");
    const after = await scrape(isolate);
    expect(grew(before, after, "deltaglider_delta_decisions_total", { decision: "delta" })).toBe(1);
    const storedDelta = await env.BUCKET.head(`${prefix}/v2.zip.delta`);
    expect(grew(before, after, "deltaglider_delta_bytes_saved_total")).toBe(v2.byteLength - storedDelta!.size);
    expect(grew(before, after, "deltaglider_http_requests_total", { method: "POST", operation: "post_object", status: "200" })).toBe(2);
    expect(grew(before, after, "deltaglider_http_requests_total", { method: "PUT", operation: "put_object", status: "200" })).toBe(1);
  });

  it("says why a delta-eligible write was stored as-is: empty, or its delta would not have paid", async () => {
    const prefix = `metrics-why-${crypto.randomUUID()}`;
    const reasons = "deltaglider_delta_passthrough_reasons_total";
    const before = await scrape(isolate);
    expect((await through(isolate, await signed("PUT", `/default/${prefix}/v1.zip`, pseudoRandom(64 * KiB, 51)))).status).toBe(200);
    const unrelated = await through(isolate, await signed("PUT", `/default/${prefix}/other.zip`, pseudoRandom(64 * KiB, 52)));
    expect(unrelated.headers.get("x-amz-storage-type")).toBe("Direct");
    const empty = await through(isolate, await signed("PUT", `/default/${prefix}/empty.zip`, new Uint8Array(0)));
    expect(empty.headers.get("x-amz-storage-type")).toBe("Direct");
    const after = await scrape(isolate);
    expect(grew(before, after, reasons, { reason: "ratio" })).toBe(1);
    expect(grew(before, after, reasons, { reason: "empty" })).toBe(1);
    expect(grew(before, after, "deltaglider_delta_decisions_total", { decision: "passthrough" })).toBe(2);
  });

  it("labels stay bounded: an unknown method is OTHER, an unclassifiable request is operation unknown", async () => {
    const before = await scrape(isolate);
    const odd = await through(isolate, new Request(`${ORIGIN}/default/x`, { method: "PROPFIND" }));
    expect(odd.status).toBeGreaterThanOrEqual(400);
    const after = await scrape(isolate);
    const total = [...after.samples.entries()]
      .filter(([key]) => key.startsWith("deltaglider_http_requests_total{") && key.includes('method="OTHER"'))
      .reduce((sum, [key, value]) => sum + value - (before.samples.get(key) ?? 0), 0);
    expect(total).toBe(1);
    expect([...after.samples.keys()].some((key) => key.includes("PROPFIND"))).toBe(false);
  });
});

describe("the strict exposition reader used above", () => {
  it("refuses what Prometheus would refuse", () => {
    const good = "# HELP a_total x\n# TYPE a_total counter\na_total{l=\"v\"} 1\n";
    expect(parseExposition(good).samples.get('a_total{l="v"}')).toBe(1);
    expect(() => parseExposition(good.trimEnd())).toThrow(/line feed/);
    expect(() => parseExposition("a_total 1\n")).toThrow(/without a TYPE/);
    expect(() => parseExposition(good + "a_total{l=\"v\"} 2\n")).toThrow(/duplicate/);
    expect(() => parseExposition(good.replace('"v"', "v"))).toThrow(/label/);
    const histogram = (inf: number, count: number) =>
      `# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} ${inf}\nh_sum 3\nh_count ${count}\n`;
    expect(() => parseExposition(histogram(3, 3))).not.toThrow();
    expect(() => parseExposition(histogram(1, 1))).toThrow(/cumulative/);
    expect(() => parseExposition(histogram(3, 4))).toThrow(/_count/);
  });
});
