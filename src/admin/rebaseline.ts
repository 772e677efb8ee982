// `GET /_/rebaseline?bucket=B&deltaspace=D`: what moving the deltaspace onto another reference would save (its
// stored size now and estimated per candidate; reads only). `POST /_/rebaseline?bucket=B&deltaspace=D
// [&reference=<key>]`: do it (src/engine/rebaseline.ts), as far as one call's time budget allows; the answer says
// `done`, and the caller (`npm run rebaseline`) calls again until it is. Before/after sizes are in the answer.
import { S3Error, S3_ERROR_STATUS } from "../errors";
import { bucketParam, positiveParam } from "./bucket-param";
import { AdminError, type AdminRequest } from "./router";

const NO_STORE = { "cache-control": "no-store" };

export async function getRebaseline(admin: AdminRequest): Promise<Response> {
  const { name, engine } = await bucketParam(admin);
  const evaluation = await asAdmin(() => engine.evaluateRebaseline(deltaspaceParam(admin)));
  return Response.json({ bucket: name, ...evaluation }, { headers: NO_STORE });
}

export async function postRebaseline(admin: AdminRequest): Promise<Response> {
  const { name, engine } = await bucketParam(admin);
  const reference = admin.url.searchParams.get("reference") ?? undefined;
  const seconds = positiveParam(admin, "seconds");
  const progress = await asAdmin(() => engine.rebaseline(deltaspaceParam(admin), {
    reference,
    maxMs: seconds === undefined ? undefined : Math.min(seconds, 600) * 1000,
  }));
  return Response.json({ bucket: name, ...progress }, { headers: NO_STORE });
}

/** `?deltaspace=` is required and may be empty (the bucket's root); a trailing "/" is accepted. */
function deltaspaceParam(admin: AdminRequest): string {
  const value = admin.url.searchParams.get("deltaspace");
  if (value === null) throw new AdminError(400, "InvalidArgument", "Name the deltaspace: ?deltaspace=<prefix without the trailing slash> (empty for the bucket root).");
  return value.replace(/\/+$/, "");
}

/** The engine's S3 errors as the operator endpoint's JSON errors, with the same status. */
async function asAdmin<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof S3Error) throw new AdminError(S3_ERROR_STATUS[error.code], error.code, error.message);
    throw error;
  }
}
