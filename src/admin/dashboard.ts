// `GET /_/`: the operator dashboard, one self-contained HTML page served by the Worker (no build step, no
// framework). The page carries no data: its script asks `/_/buckets` and `/_/stats` with the browser's session
// cookie and builds the DOM with textContent only, because keys are user data. A per-response nonce is the only
// way the page's own <style> and <script> may run (Content-Security-Policy), so markup injected by any future bug
// could not execute either, and the page cannot be framed.
import { DASHBOARD_SCRIPT } from "./dashboard-script";
import { DASHBOARD_STYLE } from "./dashboard-style";
import type { AdminRequest } from "./router";

export async function dashboardPage(_admin: AdminRequest): Promise<Response> {
  const nonce = freshNonce();
  return new Response(dashboardHtml(nonce), { headers: pageHeaders(nonce) });
}

/** Everything the page needs from this origin: its own script and style (by nonce), and fetch to `/_/…`. */
export function contentSecurityPolicy(nonce: string): string {
  return [
    "default-src 'none'",
    `script-src 'nonce-${nonce}'`,
    `style-src 'nonce-${nonce}'`,
    "connect-src 'self'",
    "img-src data:",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join("; ");
}

function pageHeaders(nonce: string): Headers {
  return new Headers({
    "content-type": "text/html; charset=utf-8",
    "content-security-policy": contentSecurityPolicy(nonce),
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
  });
}

function freshNonce(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(18));
  return btoa(String.fromCharCode(...bytes));
}

/** The page's skeleton: fixed text only; the script fills the elements that have an id or a data-stat. */
function dashboardHtml(nonce: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>DeltaGlider proxy — savings</title>
<link rel="icon" href="data:,">
<style nonce="${nonce}">${DASHBOARD_STYLE}</style></head>
<body data-state="loading">
<header class="top"><div class="wrap top-row">
  <div class="brand"><span class="logo" aria-hidden="true">Δ</span><div><h1>DeltaGlider proxy</h1><p class="sub">Storage savings</p></div></div>
  <div class="controls">
    <label for="bucket">Bucket</label><select id="bucket" disabled></select>
    <button id="refresh" type="button">Refresh</button>
    <span id="updated" class="muted"></span>
  </div>
</div></header>
<main class="wrap">
  <p id="problem" class="problem" hidden></p>
  <section class="cards" aria-label="Totals for the bucket">
    <div class="card"><h2>Objects</h2><p class="big" data-stat="objects">…</p><p class="note" id="deltaspace-count"></p></div>
    <div class="card"><h2>Logical size</h2><p class="big" data-stat="logicalBytes">…</p><p class="note">what clients uploaded</p></div>
    <div class="card"><h2>Stored size</h2><p class="big" data-stat="storedBytes">…</p><p class="note">in storage, references included</p></div>
    <div class="card saved"><h2>Saved</h2><p class="big" data-stat="savedPercent">…</p><p class="note"><span data-stat="savedBytes">…</span> less to store</p></div>
  </section>
  <div class="meter" aria-hidden="true"><div id="meter-stored" class="meter-stored"></div></div>
  <p id="provenance" class="muted provenance"></p>
  <section class="panel"><h2>Savings per deltaspace</h2>
    <p class="muted legend"><span class="swatch stored"></span>stored <span class="swatch saved"></span>saved — bar length is the logical size</p>
    <div id="chart" class="chart"></div></section>
  <section class="panel"><h2>Worst deltaspaces</h2><p class="muted">lowest savings first: candidates for a better reference</p>
    <div class="scroll"><table id="worst"><thead><tr><th>Deltaspace</th><th class="num">Objects</th><th class="num">Saved</th><th class="num">Reference</th><th>Worst object</th><th class="num" title="its delta's size as a share of its original size">Delta size</th></tr></thead><tbody></tbody></table></div></section>
  <div class="two">
    <section class="panel"><h2>By storage type</h2><p class="muted">how the objects are stored; reference.bin files are the deltas' bases</p>
      <div class="scroll"><table id="types"><thead><tr><th>Type</th><th class="num">Objects</th><th class="num">Logical</th><th class="num">Stored</th></tr></thead><tbody></tbody></table></div></section>
    <section class="panel"><h2>All buckets</h2><p class="muted" id="all-buckets"></p>
      <div class="scroll"><table id="buckets"><thead><tr><th>Bucket</th><th class="num">Objects</th><th class="num">Logical</th><th class="num">Stored</th><th class="num">Saved</th></tr></thead><tbody></tbody></table></div></section>
  </div>
  <section class="panel"><h2>Recent activity</h2>
    <div class="scroll"><table id="recent"><thead><tr><th>Time</th><th>Operation</th><th>Key</th><th>Type</th><th class="num">Size</th><th class="num">Stored</th></tr></thead><tbody></tbody></table></div></section>
</main>
<script nonce="${nonce}">${DASHBOARD_SCRIPT}</script>
</body></html>`;
}
