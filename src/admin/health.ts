// `/_/health` answers anyone, unauthenticated, so it tells only whether the configuration is usable: no bucket
// names, no configuration error (that goes to the log, and to signed S3 requests as InternalError).
import { configFrom } from "../config";

// Not exported from the Worker's main module: workerd treats every named export there as an entrypoint.
export const VERSION = "0.1.0";

export function health(env: Record<string, unknown>): Response {
  try {
    configFrom(env);
    return Response.json({ status: "ok", version: VERSION });
  } catch (error) {
    console.error("health:", (error as Error).message);
    return Response.json({ status: "error", version: VERSION }, { status: 500 });
  }
}
