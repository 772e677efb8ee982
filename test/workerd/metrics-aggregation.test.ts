// /_/metrics sums every isolate's counts in the MetricsAggregator Durable Object, not one isolate's memory. Each
// "isolate" here is its own env object, hence its own services and its own in-memory accumulator (with its own
// sender id), all sending to the one DG_METRICS namespace of the test Worker — as separate isolates of a
// deployed Worker do. Also: a scrape sends its own isolate's waiting counts first; counts survive a restart of
// the object; a batch whose answer was lost is added once; a busy isolate flushes before its interval ends.
import { env } from "cloudflare:workers";
import { abortAllDurableObjects } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { servicesFor } from "../../src/wiring";
import { IsolateMetrics, durableMetricsStore, type MetricsStore } from "../../src/metrics/isolate";
import { DEV_CLIENT, ORIGIN } from "./s3-support";
import { TOKEN, scrape, through, valueOf, withoutContext, type Exposition } from "./metrics-support";

/** A separate isolate: a fresh env object (fresh services, fresh accumulator), the same Durable Object namespace. */
function newIsolate(vars: Record<string, string> = {}): Record<string, unknown> {
  return { ...(env as object), DG_ADMIN_TOKEN: TOKEN, DG_METRICS_FLUSH_SECONDS: "0", ...vars };
}

const missing = () => `/default/metrics-missing-${crypto.randomUUID()}`;

async function getMissing(isolate: object, send: typeof through = through): Promise<void> {
  const response = await send(isolate, await DEV_CLIENT.sign(`${ORIGIN}${missing()}`));
  expect(response.status).toBe(404);
}

const notFound = (exposition: Exposition) =>
  valueOf(exposition, "deltaglider_http_requests_total", { method: "GET", operation: "get_object", status: "404" });

describe("metrics across isolates", () => {
  it("two isolates' counts are summed: a scrape through either shows both", async () => {
    const a = newIsolate();
    const b = newIsolate();
    expect(servicesFor(a).isolateMetrics!.sender).not.toBe(servicesFor(b).isolateMetrics!.sender);
    const before = notFound(await scrape(a));
    for (let i = 0; i < 2; i++) await getMissing(a);
    for (let i = 0; i < 3; i++) await getMissing(b);
    expect(notFound(await scrape(a)) - before).toBe(5);
    expect(notFound(await scrape(b)) - before).toBe(5);
  });

  it("a scrape sends its own isolate's waiting counts before it reads the sums", async () => {
    const busy = newIsolate({ DG_METRICS_FLUSH_SECONDS: "20", DG_METRICS_FLUSH_REQUESTS: "1000" });
    const other = newIsolate();
    const waiting404s = () => servicesFor(busy).isolateMetrics!.unconfirmed()
      .filter((s) => s.name === "deltaglider_http_requests_total" && s.labels === '["GET","404","get_object"]');
    const before = notFound(await scrape(other));
    // No request context: nothing is sent in the background, the counts wait in `busy`.
    for (let i = 0; i < 4; i++) await getMissing(busy, withoutContext);
    expect(waiting404s()).toHaveLength(1);
    expect(notFound(await scrape(other)) - before).toBe(0);
    expect(notFound(await scrape(busy, withoutContext)) - before).toBe(4);
    expect(waiting404s()).toEqual([]);
    expect(notFound(await scrape(other)) - before).toBe(4);
  });

  it("counts survive a restart of the Durable Object, and keep adding up after it", async () => {
    const isolate = newIsolate();
    await getMissing(isolate);
    const before = await scrape(isolate);
    await abortAllDurableObjects(); // the object's memory is gone; its SQLite storage is not
    const after = await scrape(isolate);
    for (const [series, value] of before.samples) {
      if (series.includes('operation="metrics"') || series.startsWith("deltaglider_metrics_flushes_total")) continue; // the scrape counts itself
      if (after.types.get(series.split("{")[0]) === "gauge") continue;
      expect(after.samples.get(series), series).toBe(value);
    }
    expect(notFound(after)).toBeGreaterThan(0);
    await getMissing(newIsolate());
    expect(notFound(await scrape(isolate))).toBe(notFound(after) + 1);
  });

  it("a batch whose answer was lost is sent again and added once", async () => {
    const real = durableMetricsStore(env.DG_METRICS);
    let loseNextAnswer = true;
    const lossy: MetricsStore = {
      apply: async (sender, batches, read) => {
        const answer = await real.apply(sender, batches, read); // the object added them…
        if (loseNextAnswer) {
          loseNextAnswer = false;
          throw new Error("connection reset"); // …but the isolate never hears so
        }
        return answer;
      },
    };
    const metrics = new IsolateMetrics(lossy, { flushMs: 0, flushRequests: 1 });
    const reader = new IsolateMetrics(real, { flushMs: 0, flushRequests: 1 });
    const count = (totals: Awaited<ReturnType<IsolateMetrics["totals"]>>) => totals.samples
      .filter((s) => s.name === "deltaglider_s3_errors_total" && s.labels === '["LostAnswerTest"]')
      .reduce((sum, s) => sum + s.value, 0);
    const before = count(await reader.totals());
    metrics.record((batch) => batch.count("s3Errors", { code: "LostAnswerTest" }, 7));
    await metrics.flush(); // answer lost: the batch stays unconfirmed
    expect(metrics.unconfirmed().length).toBeGreaterThan(0);
    metrics.record((batch) => batch.count("s3Errors", { code: "LostAnswerTest" }, 1));
    await metrics.flush(); // sends both batches; the object skips the one it has
    expect(metrics.unconfirmed()).toEqual([]);
    expect(count(await reader.totals()) - before).toBe(8);
  });

  it("an isolate sends within its interval after a request, and at once when flushRequests are waiting", async () => {
    const store = durableMetricsStore(env.DG_METRICS);
    const reader = new IsolateMetrics(store, { flushMs: 0, flushRequests: 1 });
    const count = async () => (await reader.totals()).samples
      .filter((s) => s.name === "deltaglider_s3_errors_total" && s.labels === '["FlushPolicyTest"]')
      .reduce((sum, s) => sum + s.value, 0);
    const metrics = new IsolateMetrics(store, { flushMs: 300, flushRequests: 3 });
    const background: Promise<unknown>[] = [];
    const waitUntil = (promise: Promise<unknown>) => void background.push(promise);
    const before = await count();

    metrics.forRequest(waitUntil).record((batch) => batch.count("s3Errors", { code: "FlushPolicyTest" }));
    expect(background).toHaveLength(1); // the timer, armed once
    metrics.forRequest(waitUntil).record((batch) => batch.count("s3Errors", { code: "FlushPolicyTest" }));
    expect(background).toHaveLength(1);
    expect(await count()).toBe(before); // nothing sent yet
    metrics.forRequest(waitUntil).record((batch) => batch.count("s3Errors", { code: "FlushPolicyTest" }));
    expect(background).toHaveLength(2); // the third waiting request: sent at once
    await background[1];
    expect(await count()).toBe(before + 3);

    metrics.forRequest(waitUntil).record((batch) => batch.count("s3Errors", { code: "FlushPolicyTest" }));
    await Promise.all(background); // the timer fires and sends the fourth
    expect(await count()).toBe(before + 4);
  });

  it("without the DG_METRICS binding /_/metrics says why (503), and S3 requests still work", async () => {
    const unbound = newIsolate();
    delete unbound.DG_METRICS;
    const response = await through(unbound, new Request(`${ORIGIN}/_/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } }));
    expect(response.status).toBe(503);
    expect(await response.json()).toMatchObject({ error: "MetricsUnavailable" });
    await getMissing(unbound);
  });
});
