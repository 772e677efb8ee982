// S3 XML in and out (fast-xml-parser), and the one place an S3Error becomes an XML response.
import { XMLBuilder, XMLParser, XMLValidator } from "fast-xml-parser";
import { S3Error } from "../errors";
import { characterReferenceDecoder } from "../xml-references";

export const S3_XMLNS = "http://s3.amazonaws.com/doc/2006-03-01/";
const DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n';

/** A JSON-ish tree: strings, numbers, booleans, nested objects, arrays (repeated elements). `@_x` = attribute. */
export type XmlNode = string | number | boolean | undefined | XmlNode[] | { [name: string]: XmlNode };

const builder = new XMLBuilder({
  ignoreAttributes: false,
  attributeNamePrefix: "@_",
  suppressEmptyNode: false,
  suppressBooleanAttributes: false,
  format: false,
});

/** Serialize `<root xmlns=S3>…</root>` with the XML declaration. Undefined children are left out. */
export function buildXml(root: string, content: { [name: string]: XmlNode }, xmlns: string | null = S3_XMLNS): string {
  const element = xmlns ? { "@_xmlns": xmlns, ...dropUndefined(content) } : dropUndefined(content);
  return DECLARATION + builder.build({ [root]: element });
}

function dropUndefined(content: { [name: string]: XmlNode }): { [name: string]: XmlNode } {
  const out: { [name: string]: XmlNode } = {};
  for (const [name, value] of Object.entries(content)) if (value !== undefined) out[name] = value;
  return out;
}

export function xmlResponse(xml: string, status = 200, headers: HeadersInit = {}): Response {
  const response = new Response(xml, { status, headers });
  response.headers.set("content-type", "application/xml");
  return response;
}

/** S3 timestamps in XML: ISO 8601 with milliseconds, UTC. */
export function xmlDate(date: Date): string {
  return date.toISOString();
}

/** The S3 error body: Code, Message, Resource, RequestId (+ any details such as Key or BucketName). */
export function errorXml(error: S3Error, resource: string, requestId: string): string {
  return buildXml(
    "Error",
    { Code: error.code, Message: error.message, ...error.details, Resource: resource, RequestId: requestId },
    null,
  );
}

/** Error response; HEAD requests and 304 get no body, as S3 does. */
export function errorResponse(error: S3Error, resource: string, requestId: string, method: string): Response {
  const headers = new Headers({ "x-amz-request-id": requestId, "x-amz-id-2": requestId });
  if (error.status === 304 || method === "HEAD") {
    if (error.status !== 304) headers.set("x-amz-error-code", error.code);
    return new Response(null, { status: error.status, headers });
  }
  headers.set("content-type", "application/xml");
  return new Response(errorXml(error, resource, requestId), { status: error.status, headers });
}

const parser = new XMLParser({
  ignoreAttributes: true,
  removeNSPrefix: true,
  parseTagValue: false,
  trimValues: false,
  processEntities: true,
  entityDecoder: characterReferenceDecoder,
  isArray: (name) => name === "Object" || name === "Part",
});

const MALFORMED_XML = "The XML you provided was not well-formed or did not validate against our published schema.";

/**
 * Parse a request body with its character references decoded. Anything that is not well-formed XML, declares
 * entities (DOCTYPE), refers to no XML character, or goes past the parser's own limits (nesting depth) is
 * MalformedXML: the client sent it, so it is never a 500.
 */
export function parseXml(text: string): Record<string, unknown> {
  if (text.trim() === "" || XMLValidator.validate(text) !== true) throw new S3Error("MalformedXML", MALFORMED_XML);
  try {
    return parser.parse(text) as Record<string, unknown>;
  } catch {
    throw new S3Error("MalformedXML", MALFORMED_XML);
  }
}

/** Read a small XML request body with a hard size cap (these bodies are never large). */
export async function readSmallBody(request: Request | ReadableStream<Uint8Array> | null, limit: number): Promise<string> {
  const stream = request instanceof Request ? request.body : request;
  if (!stream) return "";
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > limit) {
      await reader.cancel();
      throw new S3Error("MalformedXML", `The XML you provided was larger than the maximum ${limit} bytes allowed.`);
    }
    chunks.push(value);
  }
  const joined = new Uint8Array(total);
  let at = 0;
  for (const chunk of chunks) {
    joined.set(chunk, at);
    at += chunk.byteLength;
  }
  return new TextDecoder().decode(joined);
}
