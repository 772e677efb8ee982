// The dashboard page `GET /_/` as the Worker serves it: only to a signed-in operator (a browser without a session
// gets the sign-in form), with a Content-Security-Policy that lets nothing run but the page's own script and style
// (a fresh nonce per response), no inline event handlers, and a script that never turns data into markup. What the
// page shows, with real data and real keys, is checked in a real browser by test/e2e/dashboard.test.ts.
import { env } from "cloudflare:workers";
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import worker from "../../src/index";
import { sessionCookie } from "../../src/admin/access";
import { DASHBOARD_SCRIPT } from "../../src/admin/dashboard-script";
import { ORIGIN } from "./s3-support";

const TOKEN = "admin-token-for-dashboard-tests-0123456789";
const adminEnv = { ...(env as object), DG_ADMIN_TOKEN: TOKEN };

async function call(request: Request): Promise<Response> {
  const ctx = createExecutionContext();
  const response = await worker.fetch(request, adminEnv as never, ctx);
  await waitOnExecutionContext(ctx);
  return response;
}

async function signedInPage(): Promise<Response> {
  const cookie = (await sessionCookie(TOKEN, false)).split(";")[0];
  return call(new Request(`${ORIGIN}/_/`, { headers: { cookie, accept: "text/html" } }));
}

/** The CSP directives as a map: name → its sources. */
function directives(csp: string): Map<string, string[]> {
  return new Map(csp.split(";").map((d) => d.trim().split(/\s+/)).map(([name, ...sources]) => [name, sources]));
}

describe("GET /_/ (the dashboard page)", () => {
  it("a browser without a session gets the sign-in form, a script gets a JSON 401; neither gets the page", async () => {
    const page = await call(new Request(`${ORIGIN}/_/`, { headers: { accept: "text/html,application/xhtml+xml" } }));
    expect(page.status).toBe(401);
    const html = await page.text();
    expect(html).toContain('<form method="post" action="/_/login">');
    expect(html).not.toContain("data-stat");
    const script = await call(new Request(`${ORIGIN}/_/`));
    expect(script.status).toBe(401);
    expect((await script.json() as { error: string }).error).toBe("Unauthorized");
  });

  it("is served to a signed-in browser and to the Bearer token", async () => {
    const page = await signedInPage();
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(page.headers.get("cache-control")).toBe("no-store");
    expect(await page.text()).toContain('data-stat="savedPercent"');
    const bearer = await call(new Request(`${ORIGIN}/_/`, { headers: { authorization: `Bearer ${TOKEN}` } }));
    expect(bearer.status).toBe(200);
  });

  it("lets only its own nonce-tagged script and style run, fetch only its origin, and not be framed", async () => {
    const page = await signedInPage();
    const csp = directives(page.headers.get("content-security-policy") ?? "");
    expect(csp.get("default-src")).toEqual(["'none'"]);
    const scriptSources = csp.get("script-src") ?? [];
    expect(scriptSources).toHaveLength(1);
    const nonce = /^'nonce-([A-Za-z0-9+/=]{24})'$/.exec(scriptSources[0])?.[1];
    expect(nonce).toBeDefined();
    expect(csp.get("style-src")).toEqual([`'nonce-${nonce}'`]);
    expect(csp.get("connect-src")).toEqual(["'self'"]);
    expect(csp.get("frame-ancestors")).toEqual(["'none'"]);
    expect(page.headers.get("x-content-type-options")).toBe("nosniff");

    const html = await page.text();
    const scripts = [...html.matchAll(/<script\b([^>]*)>/g)].map((m) => m[1].trim());
    expect(scripts).toEqual([`nonce="${nonce}"`]);
    expect([...html.matchAll(/<style\b([^>]*)>/g)].map((m) => m[1].trim())).toEqual([`nonce="${nonce}"`]);
    // No inline event handlers (they would need 'unsafe-inline') and no inline style attributes.
    expect(html).not.toMatch(/\son[a-z]+\s*=/i);
    expect(html).not.toMatch(/\sstyle\s*=/i);

    const again = await signedInPage();
    expect(again.headers.get("content-security-policy")).not.toContain(`'nonce-${nonce}'`);
  });

  it("the page's script builds the DOM from text only: no markup sinks, no eval", () => {
    for (const sink of ["innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function", "setAttribute(\"on", "setAttribute(\"style"]) {
      expect(DASHBOARD_SCRIPT, sink).not.toContain(sink);
    }
  });
});
