// Signing a browser in to the operator pages: `/_/login` takes the admin token (a form POST, or `?token=` in the
// link `npm start` prints) and answers with the session cookie and a redirect to the dashboard, so the token
// leaves the address bar at once. A wrong token gets the form again with 401.
import { sessionCookie, tokenMatches } from "./access";
import type { AdminConfig } from "./config";

export async function login(request: Request, admin: AdminConfig): Promise<Response> {
  const url = new URL(request.url);
  const token = request.method === "POST" ? formToken(await request.text()) : url.searchParams.get("token");
  if (token === null) return loginPage(200, "");
  if (!tokenMatches(token, admin)) return loginPage(401, admin.token === null ? "This Worker has no DG_ADMIN_TOKEN set." : "That token is not valid.");
  const cookie = await sessionCookie(admin.token as string, url.protocol === "https:");
  return new Response(null, { status: 303, headers: { location: "/_/", "set-cookie": cookie, "cache-control": "no-store" } });
}

function formToken(body: string): string | null {
  return new URLSearchParams(body).get("token");
}

/** The sign-in form; `problem` is shown above it (fixed text, never echoing input). */
export function loginPage(status: number, problem: string): Response {
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>DeltaGlider proxy — sign in</title>
<style>body{font:16px system-ui,sans-serif;max-width:28rem;margin:4rem auto;padding:0 1rem;color:#1d2330}
input{font:inherit;width:100%;padding:.5rem;margin:.5rem 0;box-sizing:border-box}button{font:inherit;padding:.5rem 1rem}
.problem{color:#a01818}</style></head>
<body><h1>DeltaGlider proxy</h1>
${problem ? `<p class="problem">${problem}</p>` : ""}
<form method="post" action="/_/login"><label for="token">Admin token (DG_ADMIN_TOKEN)</label>
<input id="token" name="token" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button></form></body></html>`;
  return new Response(html, { status, headers: { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" } });
}
