// Helpers for the /_/metrics tests: a strict reader of the Prometheus text exposition format 0.0.4 (it throws on
// anything a Prometheus server would refuse or misread), and scrapes through the Worker's real fetch.
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { expect } from "vitest";
import worker from "../../src/index";
import { ORIGIN } from "./s3-support";

export const TOKEN = "metrics-admin-token-0123456789abcdef";

export interface Exposition {
  types: Map<string, string>;
  /** `name{a="x",b="y"}` (labels sorted) → value. */
  samples: Map<string, number>;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(["counter", "gauge", "histogram", "summary", "untyped"]);

/** Parses the whole text or throws naming the line. Checks what Prometheus relies on, not just the syntax. */
export function parseExposition(text: string): Exposition {
  if (!text.endsWith("\n")) throw new Error("the exposition must end with a line feed");
  const types = new Map<string, string>();
  const helped = new Set<string>();
  const samples = new Map<string, number>();
  const closed = new Set<string>();
  let current: string | null = null;
  text.slice(0, -1).split("\n").forEach((line, index) => {
    const where = `line ${index + 1}: ${JSON.stringify(line)}`;
    if (line.startsWith("# HELP ") || line.startsWith("# TYPE ")) {
      const [, kind, name, ...rest] = line.split(" ");
      if (!NAME.test(name)) throw new Error(`${where}: bad metric name`);
      if (kind === "TYPE") {
        if (types.has(name)) throw new Error(`${where}: a second TYPE for ${name}`);
        if (!TYPES.has(rest.join(" "))) throw new Error(`${where}: unknown type`);
        if (closed.has(name) || samples.size > 0 && [...samples.keys()].some((k) => familyOf(k, types) === name)) {
          throw new Error(`${where}: TYPE after samples of ${name}`);
        }
        types.set(name, rest.join(" "));
      } else {
        if (helped.has(name)) throw new Error(`${where}: a second HELP for ${name}`);
        if (/\\[^\\n]/.test(rest.join(" "))) throw new Error(`${where}: bad escape in HELP`);
        helped.add(name);
      }
      if (current !== null && current !== name) closed.add(current);
      current = name;
      return;
    }
    if (line.startsWith("#") || line === "") throw new Error(`${where}: comments and blank lines are not expected here`);
    const { name, labels, value } = parseSample(line, where);
    const family = familyOf(name, types);
    if (family === null) throw new Error(`${where}: sample of a family without a TYPE`);
    if (closed.has(family)) throw new Error(`${where}: samples of ${family} are not together`);
    if (current !== family) {
      if (current !== null) closed.add(current);
      current = family;
    }
    const key = seriesKey(name, labels);
    if (samples.has(key)) throw new Error(`${where}: duplicate series`);
    samples.set(key, value);
  });
  checkHistograms(types, samples);
  for (const [key, value] of samples) {
    const family = familyOf(key.split("{")[0], types)!;
    if (types.get(family) === "counter" && !(value >= 0)) throw new Error(`counter ${key} is ${value}`);
  }
  return { types, samples };
}

function parseSample(line: string, where: string): { name: string; labels: Record<string, string>; value: number } {
  const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$/.exec(line);
  if (!match) throw new Error(`${where}: not a sample line`);
  const labels: Record<string, string> = {};
  let rest = match[3] ?? "";
  while (rest.length > 0) {
    const pair = /^([^=]+)="((?:[^"\\]|\\[\\"n])*)"(,|$)/.exec(rest);
    if (!pair || !LABEL_NAME.test(pair[1])) throw new Error(`${where}: bad label pair in ${JSON.stringify(rest)}`);
    if (pair[1] in labels) throw new Error(`${where}: label ${pair[1]} twice`);
    labels[pair[1]] = pair[2].replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c));
    rest = rest.slice(pair[0].length);
  }
  const raw = match[4];
  const value = raw === "+Inf" ? Infinity : raw === "-Inf" ? -Infinity : raw === "NaN" ? NaN : Number(raw);
  if (!/^(\+Inf|-Inf|NaN|-?\d+(\.\d+)?(e[+-]?\d+)?)$/.test(raw)) throw new Error(`${where}: bad value`);
  return { name: match[1], labels, value };
}

function familyOf(name: string, types: Map<string, string>): string | null {
  if (types.has(name)) return types.get(name) === "histogram" ? null : name;
  for (const suffix of ["_bucket", "_sum", "_count"]) {
    const base = name.endsWith(suffix) ? name.slice(0, -suffix.length) : null;
    if (base !== null && types.get(base) === "histogram") return base;
  }
  return null;
}

/** Buckets of each histogram series: `le` ascending, counts non-decreasing, +Inf present and equal to _count. */
function checkHistograms(types: Map<string, string>, samples: Map<string, number>): void {
  for (const [family, type] of types) {
    if (type !== "histogram") continue;
    const series = new Map<string, Array<[number, number]>>();
    for (const [key, value] of samples) {
      const { name, labels } = parseSample(`${key} 0`, key);
      if (name !== `${family}_bucket`) continue;
      if (!("le" in labels)) throw new Error(`${key}: bucket without le`);
      const { le, ...rest } = labels;
      const id = seriesKey("", rest);
      series.set(id, [...(series.get(id) ?? []), [le === "+Inf" ? Infinity : Number(le), value]]);
    }
    for (const [id, buckets] of series) {
      const sorted = [...buckets].sort((a, b) => a[0] - b[0]);
      sorted.forEach(([, count], i) => {
        if (i > 0 && count < sorted[i - 1][1]) throw new Error(`${family}${id}: buckets not cumulative`);
      });
      const inf = sorted.at(-1)!;
      if (inf[0] !== Infinity) throw new Error(`${family}${id}: no +Inf bucket`);
      const count = samples.get(`${family}_count${id}`);
      if (count !== inf[1]) throw new Error(`${family}${id}: _count ${count} is not the +Inf bucket ${inf[1]}`);
      if (!samples.has(`${family}_sum${id}`)) throw new Error(`${family}${id}: no _sum`);
    }
  }
}

export function seriesKey(name: string, labels: Record<string, string>): string {
  const pairs = Object.keys(labels).sort().map((label) => `${label}="${labels[label]}"`);
  return pairs.length > 0 ? `${name}{${pairs.join(",")}}` : name;
}

/** A value from a parsed exposition (0 when the series is absent, as Prometheus treats a counter not yet seen). */
export function valueOf(exposition: Exposition, name: string, labels: Record<string, string> = {}): number {
  return exposition.samples.get(seriesKey(name, labels)) ?? 0;
}

/**
 * A request through the Worker's fetch as one isolate (env object) answers it: its body read to the end (a delta
 * GET's decode ends with it), then its waitUntil work settled (the flush). Answers a copy holding the body.
 */
export async function through(isolate: object, request: Request): Promise<Response> {
  const ctx = createExecutionContext();
  const response = await worker.fetch(request, isolate as never, ctx);
  const body = await response.arrayBuffer();
  await waitOnExecutionContext(ctx);
  return copy(request, response, body);
}

/** The same, without a request context: nothing is sent in the background (the counts wait in the isolate). */
export async function withoutContext(isolate: object, request: Request): Promise<Response> {
  const response = await worker.fetch(request, isolate as never);
  const body = await response.arrayBuffer();
  return copy(request, response, body);
}

function copy(request: Request, response: Response, body: ArrayBuffer): Response {
  const bodiless = request.method === "HEAD" || [204, 205, 304].includes(response.status);
  return new Response(bodiless ? null : body, response);
}

/** GET /_/metrics with the admin token, parsed strictly. */
export async function scrape(isolate: object, send: typeof through = through): Promise<Exposition> {
  const response = await send(isolate, new Request(`${ORIGIN}/_/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } }));
  expect(response.status).toBe(200);
  expect(response.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
  return parseExposition(await response.text());
}
