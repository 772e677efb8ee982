// Operators' endpoints under /_/ need the admin right: an admin key's SigV4 signature, the admin token as a
// Bearer credential, or the session cookie /_/login gives for that token. Everyone else gets 401/403 and learns
// nothing; /_/health alone answers anyone.
import { env } from "cloudflare:workers";
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { AwsClient } from "aws4fetch";
import { describe, expect, it } from "vitest";
import worker from "../../src/index";
import { sessionCookie } from "../../src/admin/access";
import { parseConfig } from "../../src/config";
import { DEV_CLIENT, ORIGIN } from "./s3-support";

const TOKEN = "admin-token-for-tests-0123456789abcdef";
const NON_ADMIN = { accessKeyId: "uploader", secretAccessKey: "uploader-secret-0123", access: "read-write", buckets: ["*"] };
const ADMIN = { accessKeyId: "operator", secretAccessKey: "operator-secret-0123", admin: true };

/** The Worker with an admin token and, besides the dev key, one plain and one admin key. */
const adminEnv = { ...(env as object), DG_ADMIN_TOKEN: TOKEN, DG_CREDENTIALS: JSON.stringify([NON_ADMIN, ADMIN]) };

async function call(request: Request): Promise<Response> {
  const ctx = createExecutionContext();
  const response = await worker.fetch(request, adminEnv as never, ctx);
  await waitOnExecutionContext(ctx);
  return response;
}

function client(key: { accessKeyId: string; secretAccessKey: string }): AwsClient {
  return new AwsClient({ ...key, service: "s3", region: "us-east-1" });
}

async function bucketNames(response: Response): Promise<string[]> {
  const body = await response.json() as { buckets: { name: string }[] };
  return body.buckets.map((b) => b.name);
}

describe("operator endpoints need the admin right", () => {
  it("/_/health answers anyone and names no bucket", async () => {
    const response = await call(new Request(`${ORIGIN}/_/health`));
    expect(response.status).toBe(200);
    expect(await response.text()).not.toContain("default");
  });

  it("an unsigned request is refused with 401 and no data; a browser gets the sign-in form", async () => {
    const response = await call(new Request(`${ORIGIN}/_/buckets`));
    expect(response.status).toBe(401);
    expect(response.headers.get("www-authenticate")).toContain("Bearer");
    const text = await response.text();
    expect(JSON.parse(text).error).toBe("Unauthorized");
    expect(text).not.toContain("default");
    const page = await call(new Request(`${ORIGIN}/_/buckets`, { headers: { accept: "text/html" } }));
    expect(page.status).toBe(401);
    expect(await page.text()).toContain('<form method="post" action="/_/login">');
  });

  it("an admin key's SigV4 signature is let in (the dev key is one), a key without the right gets 403", async () => {
    for (const signer of [client(ADMIN), DEV_CLIENT]) {
      const response = await call(await signer.sign(`${ORIGIN}/_/buckets`));
      expect(response.status).toBe(200);
      expect(await bucketNames(response)).toContain("default");
    }
    const refused = await call(await client(NON_ADMIN).sign(`${ORIGIN}/_/buckets`));
    expect(refused.status).toBe(403);
    expect((await refused.json() as { error: string }).error).toBe("AccessDenied");
  });

  it("a bad signature by an admin key is refused", async () => {
    const forged = await client({ ...ADMIN, secretAccessKey: "not-the-secret-0123" }).sign(`${ORIGIN}/_/buckets`);
    expect((await call(forged)).status).toBe(401);
  });

  it("the admin token is accepted as a Bearer credential; any other token is not", async () => {
    const ok = await call(new Request(`${ORIGIN}/_/buckets`, { headers: { authorization: `Bearer ${TOKEN}` } }));
    expect(ok.status).toBe(200);
    const wrong = await call(new Request(`${ORIGIN}/_/buckets`, { headers: { authorization: `Bearer ${TOKEN}x` } }));
    expect(wrong.status).toBe(401);
  });

  it("/_/login with the token sets an HttpOnly SameSite=Strict session cookie that lets the browser in", async () => {
    const login = await call(new Request(`${ORIGIN}/_/login?token=${TOKEN}`, { redirect: "manual" }));
    expect(login.status).toBe(303);
    expect(login.headers.get("location")).toBe("/_/");
    const setCookie = login.headers.get("set-cookie") ?? "";
    expect(setCookie).toMatch(/HttpOnly/);
    expect(setCookie).toMatch(/SameSite=Strict/);
    expect(setCookie).not.toContain(TOKEN);
    const cookie = setCookie.split(";")[0];
    const inside = await call(new Request(`${ORIGIN}/_/buckets`, { headers: { cookie } }));
    expect(inside.status).toBe(200);

    const form = await call(new Request(`${ORIGIN}/_/login`, {
      method: "POST", body: `token=${TOKEN}`, headers: { "content-type": "application/x-www-form-urlencoded" },
    }));
    expect(form.status).toBe(303);
    const wrong = await call(new Request(`${ORIGIN}/_/login?token=wrong`));
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get("set-cookie")).toBeNull();
  });

  it("a forged, tampered or expired session cookie is refused", async () => {
    const good = (await sessionCookie(TOKEN, false)).split(";")[0];
    const [name, value] = good.split("=");
    const [expires, mac] = value.split(".");
    const tampered = `${name}=${Number(expires) + 3600}.${mac}`;
    const forged = (await sessionCookie("some-other-token-0123456789abcdefgh", false)).split(";")[0];
    const expired = (await sessionCookie(TOKEN, false, Date.now() - 13 * 3600 * 1000)).split(";")[0];
    for (const cookie of [tampered, forged, expired]) {
      const response = await call(new Request(`${ORIGIN}/_/buckets`, { headers: { cookie } }));
      expect(response.status).toBe(401);
    }
  });

  it("unknown operator paths are 404 and say nothing else", async () => {
    const response = await call(new Request(`${ORIGIN}/_/nothing-here`, { headers: { authorization: `Bearer ${TOKEN}` } }));
    expect(response.status).toBe(404);
  });

  it("a short DG_ADMIN_TOKEN is a configuration error naming the variable, not the value", () => {
    expect(() => parseConfig({ ...(env as object), DG_ADMIN_TOKEN: "short-secret" })).toThrow(/DG_ADMIN_TOKEN/);
    expect(() => parseConfig({ ...(env as object), DG_ADMIN_TOKEN: "short-secret" })).not.toThrow(/short-secret/);
  });

  it('"admin" in DG_CREDENTIALS must be a boolean', () => {
    const bad = JSON.stringify([{ ...ADMIN, admin: "yes" }]);
    expect(() => parseConfig({ ...(env as object), DG_CREDENTIALS: bad })).toThrow(/DG_CREDENTIALS\[0\]\.admin/);
  });
});
