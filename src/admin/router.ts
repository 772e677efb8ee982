// The operator endpoints under `/_/`: one table from "METHOD path" to handler. `/_/health` and `/_/login` answer
// anyone; every other route needs the admin right (src/admin/access.ts), checked here once, before the handler
// runs. Answers are JSON (`{ error, message }` on failure), except the pages, which are HTML.
import type { WorkerServices } from "../wiring";
import { AdminDenied, authorizeAdmin, type AdminPrincipal } from "./access";
import { listBuckets } from "./buckets";
import { dashboardPage } from "./dashboard";
import { health } from "./health";
import { login, loginPage } from "./login";
import { metricsEndpoint } from "./metrics";
import { getStats, rebuildStats } from "./stats";
import { getScrub, postScrub } from "./scrub";
import { getRebaseline, postRebaseline } from "./rebaseline";

/** What an operator endpoint gets: the request, its verified body, the Worker's services. */
export interface AdminRequest {
  request: Request;
  url: URL;
  /** The request body, verified against its signature when SigV4-signed: read this, not request.body. */
  body: ReadableStream<Uint8Array> | null;
  principal: AdminPrincipal;
  services: WorkerServices;
  env: Record<string, unknown>;
  /** Work that may outlive the response (ctx.waitUntil), or awaited when there is no request context. */
  waitUntil(promise: Promise<unknown>): void;
}

export type AdminHandler = (admin: AdminRequest) => Promise<Response>;

/** Failures an operator endpoint reports to its caller: status + a message safe to show. */
export class AdminError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
    this.name = "AdminError";
  }
}

const ROUTES: Record<string, AdminHandler> = {
  "GET /_/": dashboardPage,
  "GET /_/buckets": listBuckets,
  "GET /_/metrics": metricsEndpoint,
  "GET /_/stats": getStats,
  "POST /_/stats/rebuild": rebuildStats,
  "POST /_/scrub": postScrub,
  "GET /_/scrub": getScrub,
  "POST /_/rebaseline": postRebaseline,
  "GET /_/rebaseline": getRebaseline,
};

export async function handleAdmin(
  request: Request, services: WorkerServices, env: Record<string, unknown>, ctx?: ExecutionContext,
): Promise<Response> {
  const url = new URL(request.url);
  if (url.pathname === "/_/health" && (request.method === "GET" || request.method === "HEAD")) return health(env);
  if (url.pathname === "/_/login" && (request.method === "GET" || request.method === "POST")) return login(request, services.config.admin);
  const handler = ROUTES[`${request.method} ${url.pathname}`];
  if (!handler) return jsonError(404, "NotFound", `No operator endpoint ${request.method} ${url.pathname}.`);
  let authorized;
  try {
    authorized = await authorizeAdmin(request, services.config.admin, services.config.auth);
  } catch (error) {
    if (!(error instanceof AdminDenied)) throw error;
    if (wantsPage(request)) return loginPage(error.status, "Sign in to see this page.");
    return jsonError(error.status, error.status === 401 ? "Unauthorized" : "AccessDenied", error.message);
  }
  const waitUntil = (promise: Promise<unknown>) => (ctx ? ctx.waitUntil(promise) : void promise.catch(() => {}));
  try {
    return await handler({ request, url, body: authorized.body, principal: authorized.principal, services, env, waitUntil });
  } catch (error) {
    if (error instanceof AdminError) return jsonError(error.status, error.code, error.message);
    console.error(`operator endpoint ${url.pathname}:`, error);
    return jsonError(500, "InternalError", `The operator endpoint failed: ${(error as Error).message}`);
  }
}

/** A browser navigating to a page (not a script or scraper asking for data). */
function wantsPage(request: Request): boolean {
  return request.method === "GET" && (request.headers.get("accept") ?? "").includes("text/html");
}

export function jsonError(status: number, code: string, message: string): Response {
  const headers: Record<string, string> = { "cache-control": "no-store" };
  if (status === 401) headers["www-authenticate"] = 'Bearer realm="deltaglider-admin"';
  return Response.json({ error: code, message }, { status, headers });
}
