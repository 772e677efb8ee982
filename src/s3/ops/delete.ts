// DeleteObject and DeleteObjects (≤ 1000 keys, Quiet mode).
import type { DeleteOutcome } from "../../engine/api";
import { S3Error } from "../../errors";
import { buildXml, parseXml, readSmallBody, xmlResponse, type XmlNode } from "../xml";
import type { OpContext } from "./context";

/** A Delete body names at most 1000 keys of at most 1 KiB each; anything far larger is not a Delete body. */
const MAX_DELETE_BODY_BYTES = 4 * 1024 * 1024;
const MAX_DELETE_KEYS = 1000;

export async function deleteObject(ctx: OpContext, bucket: string, key: string): Promise<Response> {
  const entry = await ctx.buckets.require(bucket);
  await ctx.engineFor(entry).delete(key);
  return new Response(null, { status: 204 });
}

export async function deleteObjects(ctx: OpContext, bucket: string): Promise<Response> {
  const entry = await ctx.buckets.require(bucket);
  const { keys, quiet } = parseDeleteRequest(await readSmallBody(ctx.verified.body, MAX_DELETE_BODY_BYTES));
  const outcomes: DeleteOutcome[] = keys.length > 0 ? await ctx.engineFor(entry).deleteMany(keys) : [];
  const deleted: XmlNode[] = [];
  const errors: XmlNode[] = [];
  for (const outcome of outcomes) {
    if (outcome.error) errors.push({ Key: outcome.key, Code: outcome.error.code, Message: outcome.error.message });
    else if (!quiet) deleted.push({ Key: outcome.key });
  }
  return xmlResponse(buildXml("DeleteResult", { Deleted: deleted, Error: errors }));
}

export function parseDeleteRequest(text: string): { keys: string[]; quiet: boolean } {
  const root = parseXml(text).Delete as { Object?: unknown[]; Quiet?: unknown } | undefined;
  if (!root || typeof root !== "object") throw malformed();
  const objects = root.Object ?? [];
  if (objects.length === 0 || objects.length > MAX_DELETE_KEYS) throw malformed();
  const keys = objects.map((object) => {
    const key = (object as { Key?: unknown } | null)?.Key;
    if (typeof key !== "string" || key === "") throw malformed();
    return key;
  });
  const quiet = typeof root.Quiet === "string" && root.Quiet.trim().toLowerCase() === "true";
  return { keys, quiet };
}

function malformed(): S3Error {
  return new S3Error("MalformedXML", "The XML you provided was not well-formed or did not validate against our published schema.");
}
