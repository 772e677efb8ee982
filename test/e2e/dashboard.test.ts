// The dashboard in a real browser: `npm start`, versioned artifacts uploaded with the AWS SDK into two deltaspaces,
// then Debian's headless chromium (driven by playwright-core) follows the signed-in link npm start prints and the
// test checks that every number the page shows is the one GET /_/stats answers, formatted. It saves a screenshot
// (test/e2e/output/dashboard.png; with DG_UPDATE_SCREENSHOT=1 also docs/images/dashboard.png, the README's).
// Then keys that are markup (user data) are uploaded: the page must show them as text and create no element from
// them. Skipped, saying so, only when chromium is not installed (.ci/run installs it).
import { DeleteObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startNpmStart, type NpmStart } from "./support/npm-start";
import { localWorkerClient } from "./support/sdk";

const PORT = 9640;
const ROOT = new URL("../../", import.meta.url).pathname;
const OUTPUT = join(ROOT, "test/e2e/output");
const DOCS_SCREENSHOT = join(ROOT, "docs/images/dashboard.png");
const CHROMIUM = [process.env.DG_CHROMIUM, "/usr/bin/chromium", "/usr/bin/chromium-browser"].find((p) => p && existsSync(p));
const SKIP_REASON = "dashboard browser test skipped: chromium is not installed (apt-get install chromium, or set DG_CHROMIUM)";
if (!CHROMIUM) console.warn(SKIP_REASON);

interface TypeCounts { objects: number; logicalBytes: number; storedBytes: number }
interface Summary {
  objects: number; logicalBytes: number; storedBytes: number; savedBytes: number; savedPercent: number;
  referenceBytes: number; byType: Record<"reference" | "delta" | "direct", TypeCounts>;
}
interface DeltaspaceStats extends Summary { deltaspace: string; worst: { key: string; ratio: number } | null }
interface BucketStats extends Summary {
  bucket: string;
  deltaspaces: DeltaspaceStats[];
  recent: { at: string; op: string; key: string; storageType: string; size: number; storedBytes: number }[];
}
interface AllStats { generatedAt: string; totals: Summary; buckets: (Summary & { bucket: string })[] }

// The page's number formats, written down independently: binary units with 3 significant digits, one decimal for %.
function bytes(n: number): string {
  const sign = n < 0 ? "−" : "";
  let v = Math.abs(n);
  if (v < 1024) return `${sign}${v} B`;
  const units = ["KiB", "MiB", "GiB", "TiB", "PiB"];
  let unit = -1;
  while (v >= 1024 && unit < units.length - 1) { v /= 1024; unit++; }
  return `${sign}${v.toFixed(v >= 100 ? 0 : v >= 10 ? 1 : 2)} ${units[unit]}`;
}
const percent = (p: number) => `${p < 0 ? "−" : ""}${Math.abs(p).toFixed(1)}%`;
const count = (n: number) => n.toLocaleString("en-US");
const ratio = (r: number) => { const p = r * 100; return `${p === 0 ? "0" : p < 10 ? p.toPrecision(2) : p.toFixed(1)}%`; };

/** Release artifacts: each version is the previous one with a few bytes changed, as successive builds are. */
function versions(size: number, n: number): Buffer[] {
  const out = [randomBytes(size)];
  for (let i = 1; i < n; i++) {
    const next = Buffer.from(out[i - 1]);
    for (let j = 0; j < 24; j++) next[(j * 7919 * (i + 3)) % size] ^= 0x5a;
    out.push(next);
  }
  return out;
}

const ARTIFACTS = [
  ...versions(3 * 1024 * 1024, 4).map((body, i) => ({ key: `releases/app/app-1.${i}.0-linux-x86_64.zip`, body })),
  ...versions(1536 * 1024, 3).map((body, i) => ({ key: `backups/db/nightly-2026-05-0${i + 1}.sql`, body })),
];
const MARKUP_KEYS = ['xss/<img src=x onerror="window.__pwned=1">.zip', '"><svg onload="window.__pwned=2">/v1.zip'];

let server: NpmStart;
let s3: S3Client;
let browser: Browser;
let page: Page;
let token: string;
let signInLink: string;
const problems: string[] = [];

async function stats<T>(query = ""): Promise<T> {
  const response = await fetch(`${server.endpoint}/_/stats${query}`, { headers: { authorization: `Bearer ${token}` } });
  expect(response.status, await response.clone().text()).toBe(200);
  return await response.json() as T;
}

/** The running totals are kept as writes happen; wait until they count what was uploaded. */
async function statsWithObjects(objects: number): Promise<BucketStats> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const current = await stats<BucketStats>("?bucket=default");
    if (current.objects === objects || Date.now() > deadline) return current;
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function dashboardLink(): Promise<string> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const match = /dashboard\s+(http:\/\/\S+\/_\/login\?token=(\S+))/.exec(server.log());
    if (match) { token = match[2]; return match[1]; }
    if (Date.now() > deadline) throw new Error(`npm start printed no dashboard link:\n${server.log()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function statText(name: string): Promise<{ text: string; value: string | null }> {
  const node = page.locator(`[data-stat="${name}"]`);
  return { text: (await node.textContent()) ?? "", value: await node.getAttribute("data-value") };
}

async function reloadReady(): Promise<void> {
  await page.reload();
  await page.waitForSelector("body[data-state=ready]", { timeout: 20_000 });
}

describe.skipIf(!CHROMIUM)(CHROMIUM ? "dashboard in headless chromium" : SKIP_REASON, () => {
  beforeAll(async () => {
    server = await startNpmStart({ port: PORT, inspectorPort: PORT + 1 });
    signInLink = await dashboardLink();
    s3 = localWorkerClient(server.endpoint);
    for (const { key, body } of ARTIFACTS) await s3.send(new PutObjectCommand({ Bucket: "default", Key: key, Body: body }));
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: "en-US", timezoneId: "UTC" });
    page = await context.newPage();
    page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
    page.on("console", (message) => { if (message.type() === "error") problems.push(`console: ${message.text()}`); });
    page.on("dialog", (dialog) => { problems.push(`dialog: ${dialog.message()}`); void dialog.dismiss(); });
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    s3?.destroy();
    await server?.stop();
  });

  it("opens signed in from the link npm start prints and shows the numbers /_/stats answers", async () => {
    const api = await statsWithObjects(ARTIFACTS.length);
    await page.goto(signInLink);
    await page.waitForSelector("body[data-state=ready]", { timeout: 20_000 });
    expect(new URL(page.url()).pathname).toBe("/_/");
    expect(new URL(page.url()).search).not.toContain("token");
    expect(await page.getAttribute("body", "data-bucket")).toBe("default");
    const all = await stats<AllStats>();

    expect(await statText("objects")).toEqual({ text: count(api.objects), value: String(api.objects) });
    expect(await statText("logicalBytes")).toEqual({ text: bytes(api.logicalBytes), value: String(api.logicalBytes) });
    expect(await statText("storedBytes")).toEqual({ text: bytes(api.storedBytes), value: String(api.storedBytes) });
    expect(await statText("savedBytes")).toEqual({ text: bytes(api.savedBytes), value: String(api.savedBytes) });
    expect(await statText("savedPercent")).toEqual({ text: percent(api.savedPercent), value: String(api.savedPercent) });
    expect(api.objects).toBe(ARTIFACTS.length);
    expect(api.logicalBytes).toBe(ARTIFACTS.reduce((sum, a) => sum + a.body.length, 0));
    expect(api.savedPercent).toBeGreaterThan(50);  // versioned artifacts: the point of the proxy

    // The chart: one bar per deltaspace, labelled with its saved % and logical → stored sizes.
    const spaces = api.deltaspaces.filter((s) => s.objects > 0);
    expect(spaces.map((s) => s.deltaspace).sort()).toEqual(["backups/db", "releases/app"]);
    for (const space of spaces) {
      const bar = page.locator(`#chart g[data-deltaspace="${space.deltaspace}"]`);
      const text = await bar.locator("text").allTextContents();
      expect(text).toContain(space.deltaspace);
      expect(text.join(" ")).toContain(`${percent(space.savedPercent)}${bytes(space.logicalBytes)} → ${bytes(space.storedBytes)}`);
    }

    // The worst deltaspaces: lowest saved % first, with reference size and the least compressed delta.
    const worstRows = await page.locator("#worst tbody tr").evaluateAll((rows) =>
      rows.map((row) => [...row.querySelectorAll("td")].map((td) => td.textContent)));
    const worstFirst = [...spaces].sort((a, b) => a.savedPercent - b.savedPercent);
    expect(worstRows).toEqual(worstFirst.map((s) => [s.deltaspace, count(s.objects), percent(s.savedPercent),
      bytes(s.referenceBytes), s.worst!.key.slice(s.deltaspace.length + 1), ratio(s.worst!.ratio)]));

    // Storage types and the all-buckets table.
    const typeRows = await page.locator("#types tbody tr").evaluateAll((rows) =>
      rows.map((row) => [...row.querySelectorAll("td")].map((td) => td.textContent)));
    const typeLabels = { reference: "reference.bin", delta: "Delta", direct: "Direct" };
    expect(typeRows).toEqual((["reference", "delta", "direct"] as const).map((type) => [
      typeLabels[type], count(api.byType[type].objects), bytes(api.byType[type].logicalBytes),
      bytes(api.byType[type].storedBytes)]));
    const defaultRow = await page.locator("#buckets tbody tr.current td").allTextContents();
    const defaultTotals = all.buckets.find((b) => b.bucket === "default")!;
    expect(defaultRow).toEqual(["default", count(defaultTotals.objects), bytes(defaultTotals.logicalBytes),
      bytes(defaultTotals.storedBytes), percent(defaultTotals.savedPercent)]);

    // Recent activity: the uploads, newest first as the API lists them.
    const recentKeys = await page.locator("#recent tbody td.key").allTextContents();
    expect(recentKeys).toEqual(api.recent.slice(0, 15).map((r) => r.key));
    expect(recentKeys).toContain(ARTIFACTS[ARTIFACTS.length - 1].key);

    mkdirSync(OUTPUT, { recursive: true });
    await page.screenshot({ path: join(OUTPUT, "dashboard.png"), fullPage: true });
    if (process.env.DG_UPDATE_SCREENSHOT === "1") {
      mkdirSync(join(ROOT, "docs/images"), { recursive: true });
      await page.screenshot({ path: DOCS_SCREENSHOT, fullPage: true });
    }
    expect(problems).toEqual([]);
  });

  it("shows keys that are markup as text, runs none of it, and follows a delete", async () => {
    for (const key of MARKUP_KEYS) await s3.send(new PutObjectCommand({ Bucket: "default", Key: key, Body: randomBytes(4096) }));
    await s3.send(new DeleteObjectCommand({ Bucket: "default", Key: ARTIFACTS[0].key }));
    const api = await statsWithObjects(ARTIFACTS.length + MARKUP_KEYS.length - 1);
    await reloadReady();

    expect(await statText("objects")).toEqual({ text: count(api.objects), value: String(api.objects) });
    expect(await statText("storedBytes")).toEqual({ text: bytes(api.storedBytes), value: String(api.storedBytes) });
    const recentKeys = await page.locator("#recent tbody td.key").allTextContents();
    for (const key of MARKUP_KEYS) expect(recentKeys).toContain(key);
    expect(recentKeys).toContain(ARTIFACTS[0].key);  // its delete
    const chartLabels = await page.locator("#chart text").allTextContents();
    expect(chartLabels).toContain('"><svg onload="window.__pwned=2">');
    const injected = await page.evaluate(() => ({
      handlers: document.querySelectorAll("[onload],[onerror]").length,
      images: document.querySelectorAll("img").length,
      pwned: (window as unknown as { __pwned?: number }).__pwned ?? null,
    }));
    expect(injected).toEqual({ handlers: 0, images: 0, pwned: null });
    expect(problems).toEqual([]);
  });
});
