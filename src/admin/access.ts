// Who may use the operator endpoints under `/_/`. Three ways in, each proving the admin right:
//  - SigV4, exactly as the S3 API is signed (the CLIs: `npm run stats`, scrub, re-baseline), by a DG_CREDENTIALS
//    key with `"admin": true` (the local dev key has it);
//  - `Authorization: Bearer <DG_ADMIN_TOKEN>` (Prometheus scrapers, curl);
//  - a session cookie the browser gets from `/_/login` with that token. The cookie holds no secret: an expiry and
//    an HMAC of it under the token, so it cannot be forged or extended without the token, and it is HttpOnly,
//    SameSite=Strict (a cross-site page cannot make the browser use it) and Secure on https.
import { S3Error } from "../errors";
import type { AuthConfig } from "../s3/auth/index";
import { verifyRequest } from "../s3/auth/verify";
import { constantTimeEqual, hmacHex } from "../s3/auth/sigv4";
import type { AdminConfig } from "./config";

export const SESSION_COOKIE = "dg_admin";
const SESSION_SECONDS = 12 * 3600;

export type AdminPrincipal = { kind: "key"; accessKeyId: string } | { kind: "token" } | { kind: "session" };

/** Why a request may not use an operator endpoint: 401 (no or bad credential) or 403 (a key without the admin right). */
export class AdminDenied extends Error {
  constructor(readonly status: 401 | 403, message: string) {
    super(message);
    this.name = "AdminDenied";
  }
}

export interface AdminAuthorization {
  principal: AdminPrincipal;
  /** The request body, verified against its signature when SigV4-signed (read it from here, not from the request). */
  body: ReadableStream<Uint8Array> | null;
}

export async function authorizeAdmin(request: Request, admin: AdminConfig, auth: AuthConfig, now = Date.now()): Promise<AdminAuthorization> {
  const url = new URL(request.url);
  const authorization = request.headers.get("authorization");
  if (authorization?.startsWith("Bearer ")) return { principal: bearer(authorization.slice(7).trim(), admin), body: request.body };
  if (authorization !== null || url.searchParams.has("X-Amz-Signature")) return signed(request, auth);
  const cookie = cookieValue(request, SESSION_COOKIE);
  if (cookie !== null && admin.token !== null && await validSession(cookie, admin.token, now)) {
    return { principal: { kind: "session" }, body: request.body };
  }
  throw new AdminDenied(401, "Sign in: an admin key's SigV4 signature, Authorization: Bearer <DG_ADMIN_TOKEN>, or /_/login.");
}

function bearer(token: string, admin: AdminConfig): AdminPrincipal {
  if (admin.token === null || !constantTimeEqual(token, admin.token)) throw new AdminDenied(401, "The admin token is not valid.");
  return { kind: "token" };
}

async function signed(request: Request, auth: AuthConfig): Promise<AdminAuthorization> {
  const write = request.method !== "GET" && request.method !== "HEAD";
  let verified;
  try {
    verified = await verifyRequest(request, auth, { bucket: undefined, write });
  } catch (error) {
    if (error instanceof S3Error) // The credential proved nobody (a bad signature is 403 in S3): 401, as for no credential.
      throw new AdminDenied(401, `${error.code}: ${error.message}`);
    throw error;
  }
  const { principal } = verified;
  const key = "accessKeyId" in principal ? auth.keys.find((k) => k.accessKeyId === principal.accessKeyId) : undefined;
  if (!key) throw new AdminDenied(401, "Sign in: an admin key's SigV4 signature, Authorization: Bearer <DG_ADMIN_TOKEN>, or /_/login.");
  if (!key.admin) throw new AdminDenied(403, `Access key ${key.accessKeyId} has no admin right ("admin": true in DG_CREDENTIALS).`);
  return { principal: { kind: "key", accessKeyId: key.accessKeyId }, body: verified.body };
}

/** The Set-Cookie value of a fresh session for a browser that proved the token. */
export async function sessionCookie(token: string, secure: boolean, now = Date.now()): Promise<string> {
  const expires = Math.floor(now / 1000) + SESSION_SECONDS;
  const value = `${expires}.${await sessionMac(token, expires)}`;
  return `${SESSION_COOKIE}=${value}; Path=/_/; Max-Age=${SESSION_SECONDS}; HttpOnly; SameSite=Strict${secure ? "; Secure" : ""}`;
}

export function tokenMatches(candidate: string, admin: AdminConfig): boolean {
  return admin.token !== null && constantTimeEqual(candidate, admin.token);
}

async function validSession(value: string, token: string, now: number): Promise<boolean> {
  const match = /^(\d{1,12})\.([0-9a-f]{64})$/.exec(value);
  if (!match) return false;
  const expires = Number(match[1]);
  if (expires * 1000 <= now) return false;
  return constantTimeEqual(match[2], await sessionMac(token, expires));
}

async function sessionMac(token: string, expires: number): Promise<string> {
  const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(token), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return hmacHex(key, `deltaglider admin session until ${expires}`);
}

function cookieValue(request: Request, name: string): string | null {
  for (const part of (request.headers.get("cookie") ?? "").split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return null;
}
