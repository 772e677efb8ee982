// CORS for browser clients (e.g. a page uploading with a presigned URL). Origins come from DG_CORS_ORIGINS;
// with none configured no CORS headers are sent and preflights are refused, as S3 does for a bucket without
// a CORS configuration.
import { S3Error } from "../../errors";
import type { AuthConfig } from "./index";

const ALLOWED_METHODS = "GET, PUT, POST, DELETE, HEAD";
/** Response headers a browser script may read (S3 clients need ETag, version and checksum headers). */
const EXPOSED_HEADERS = [
  "ETag", "Content-Length", "Content-Range", "Content-Type", "Last-Modified", "x-amz-request-id", "x-amz-version-id",
  "x-amz-delete-marker", "x-amz-storage-type", "x-amz-checksum-crc32", "x-amz-checksum-crc32c",
  "x-amz-checksum-crc64nvme", "x-amz-checksum-sha1", "x-amz-checksum-sha256", "x-amz-checksum-type",
].join(", ");

function allowedOrigin(origin: string | null, config: AuthConfig): string | null {
  if (!origin) return null;
  const origins = config.cors.origins;
  if (origins.includes("*")) return "*";
  return origins.includes(origin) ? origin : null;
}

/**
 * Answer a CORS preflight (OPTIONS with Origin and Access-Control-Request-Method); null if the request is not an
 * OPTIONS. S3 has no other OPTIONS operation, so one without those headers is a bad preflight (400, as S3).
 */
export function corsPreflight(request: Request, config: AuthConfig): Response | null {
  if (request.method !== "OPTIONS") return null;
  const origin = request.headers.get("origin");
  const method = request.headers.get("access-control-request-method");
  if (!origin) throw new S3Error("BadRequest", "Insufficient information. Origin request header needed.");
  if (!method) throw new S3Error("BadRequest", "Invalid Access-Control-Request-Method: null");
  const allowed = allowedOrigin(origin, config);
  if (!allowed || !ALLOWED_METHODS.split(", ").includes(method.toUpperCase())) {
    throw new S3Error("AccessDenied", "CORSResponse: This CORS request is not allowed.", {}, 403);
  }
  const headers = new Headers({
    "Access-Control-Allow-Origin": allowed,
    "Access-Control-Allow-Methods": ALLOWED_METHODS,
    "Access-Control-Max-Age": String(config.cors.maxAgeSeconds),
    "Access-Control-Expose-Headers": EXPOSED_HEADERS,
    Vary: "Origin, Access-Control-Request-Headers, Access-Control-Request-Method",
  });
  const requested = request.headers.get("access-control-request-headers");
  if (requested) headers.set("Access-Control-Allow-Headers", requested);
  return new Response(null, { status: 200, headers });
}

/** Add CORS headers to a response when the request's Origin is allowed. */
export function withCors(response: Response, request: Request, config: AuthConfig): Response {
  const allowed = allowedOrigin(request.headers.get("origin"), config);
  if (!allowed) return response;
  const headers = new Headers(response.headers);
  headers.set("Access-Control-Allow-Origin", allowed);
  headers.set("Access-Control-Expose-Headers", EXPOSED_HEADERS);
  headers.append("Vary", "Origin");
  // A body with a Content-Encoding is an object's stored bytes, already encoded: keep them as they are.
  const encodeBody = response.headers.has("content-encoding") ? "manual" : "automatic";
  return new Response(response.body, { status: response.status, statusText: response.statusText, headers, encodeBody });
}
