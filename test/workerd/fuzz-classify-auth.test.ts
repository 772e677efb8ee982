// Fuzzing request classification and SigV4 parsing: arbitrary methods, paths (percent-encoding, dot segments,
// unicode, very long), queries and headers classify into a typed S3Op or a 4xx S3Error; arbitrary and mutated
// Authorization headers and presigned query parameters are refused with a 4xx S3Error (or, for a mutation that
// does not change what was signed, accepted for the same key), never another exception.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { OPERATIONS, classify, needsWrite, type S3Op } from "../../src/s3/classify";
import { accessFor } from "../../src/s3/auth/authorizer";
import { verifyRequest } from "../../src/s3/auth";
import { AMZ_NOW, KEY, NOW, signed, testConfig } from "./helpers/auth";
import { fuzzRuns, isClientError, outcomeOf } from "./helpers/fuzz";

const OPTIONS = { virtualHostDomains: ["localhost", "s3.example.com"] };
const HOSTS = ["127.0.0.1:8787", "localhost", "bucket.localhost", "s3.example.com", "my.bucket.s3.example.com", "xn--bcher-kva.localhost", "LOCALHOST"];

/** Builds a Request, or null where the platform itself refuses (a forbidden method, an invalid header value). */
function requestOf(url: string, init: RequestInit): Request | null {
  try {
    return new Request(url, init);
  } catch {
    return null;
  }
}

// ---- generators ----

const method = fc.oneof(
  fc.constantFrom("GET", "HEAD", "PUT", "POST", "DELETE", "OPTIONS", "PATCH", "get", "Put", "PROPFIND", "M-SEARCH"),
  fc.stringMatching(/^[A-Za-z!#$%&'*+.^_`|~0-9-]{1,12}$/),
);

/** One path segment: plain, percent-encoded unicode, raw %-garbage, dot segments, or very long. */
const segment = fc.oneof(
  fc.constantFrom("", ".", "..", "%2e", "%2E%2E", "%2F", "%", "%zz", "%C3", "%ED%A0%80", "%00", "a%20b", "+", "~", "\\", ";x", "@"),
  fc.string({ maxLength: 10 }).map(encodeURIComponent),
  fc.string({ unit: "grapheme", maxLength: 6 }).map(encodeURIComponent),
  fc.string({ unit: "grapheme-ascii", maxLength: 10 }).map((s) => s.replace(/[?#]/g, "")),
  fc.nat({ max: 3000 }).map((n) => "k".repeat(n)),
);
const path = fc.array(segment, { maxLength: 6 }).map((segments) => `/${segments.join("/")}`);

const SUBRESOURCES = [
  "acl", "tagging", "uploads", "uploadId", "partNumber", "delete", "location", "versioning", "list-type", "versionId",
  "policy", "cors", "lifecycle", "attributes", "torrent", "retention", "legal-hold", "versions", "X-Amz-Algorithm",
  "X-Amz-Signature", "AWSAccessKeyId", "Signature",
];
const queryPair = fc.tuple(
  fc.oneof(fc.constantFrom(...SUBRESOURCES), fc.string({ maxLength: 6 }).map(encodeURIComponent)),
  fc.option(fc.oneof(fc.constantFrom("", "2", "1", "0", "10000", "10001", "-1", "1e3", "00001", "99999999999999999999", "%zz"), fc.string({ maxLength: 8 }).map(encodeURIComponent)), { nil: undefined }),
).map(([name, value]) => (value === undefined ? name : `${name}=${value}`));
const query = fc.array(queryPair, { maxLength: 4 }).map((pairs) => (pairs.length ? `?${pairs.join("&")}` : ""));

const headerValue = fc.oneof(
  fc.constantFrom("", "/", "b/k", "/b/k", "b/", "/b", "b/k?versionId=null", "b/k?versionId=v1", "%zz/k", "b/%zz", "b/k?"),
  fc.string({ unit: "grapheme-ascii", maxLength: 20 }),
);
const headers = fc.record({
  "x-amz-copy-source": headerValue,
  "x-amz-copy-source-range": headerValue,
  "content-md5": headerValue,
  "x-amz-acl": headerValue,
}, { requiredKeys: [] });

// ---- classification ----

function expectTypedOp(op: S3Op, requestMethod: string): void {
  expect(Object.keys(OPERATIONS)).toContain(op.kind);
  if ("bucket" in op && op.bucket !== undefined) expect(typeof op.bucket).toBe("string");
  if ("key" in op && op.key !== undefined) expect(typeof op.key).toBe("string");
  if ("partNumber" in op) expect(Number.isInteger(op.partNumber) && op.partNumber >= 1 && op.partNumber <= 10000).toBe(true);
  // Authorization is derived from every op without failing.
  expect(typeof needsWrite(op, requestMethod)).toBe("boolean");
  expect(typeof accessFor(op, requestMethod).write).toBe("boolean");
}

describe("classification under fuzzing", () => {
  it("any method, path, query and headers classify into a typed S3Op or a 4xx S3Error", async () => {
    await fc.assert(fc.asyncProperty(method, fc.constantFrom(...HOSTS), path, query, headers, async (m, host, p, q, h) => {
      const request = requestOf(`http://${host}${p}${q}`, { method: m, headers: h });
      fc.pre(request !== null);
      const outcome = await outcomeOf(() => classify(request!, OPTIONS));
      if (outcome.ok) expectTypedOp(outcome.value, request!.method);
      else expect(isClientError(outcome.error) || outcome.error.status === 501).toBe(true);
    }), { numRuns: fuzzRuns(1000) });
  });

  it("a path-style object address round-trips: any bucket and key (encoded per segment) come back exactly", async () => {
    // Dot segments are left out: the URL parser resolves "a/../b" before any code of ours sees the path.
    const name = fc.string({ unit: "grapheme", minLength: 1, maxLength: 12 }).filter((s) => s !== "." && s !== "..");
    await fc.assert(fc.asyncProperty(name, fc.array(name, { minLength: 1, maxLength: 4 }), async (bucket, keySegments) => {
      const key = keySegments.join("/");
      const url = `http://127.0.0.1:8787/${encodeURIComponent(bucket)}/${keySegments.map(encodeURIComponent).join("/")}`;
      expect(classify(new Request(url), OPTIONS)).toEqual({ kind: "GetObject", bucket, key });
    }), { numRuns: fuzzRuns(300) });
  });
});

// ---- SigV4 ----

const BASE = "https://s3.example.test";
const ACCESS = { bucket: "docs", write: false, now: NOW };

const hex64 = fc.stringMatching(/^[0-9a-f]{64}$/);
const junk = (maxLength: number) => fc.string({ unit: "grapheme-ascii", maxLength });
/** Mostly the valid value (so later checks are reached), sometimes a listed variant or junk. */
function mostly<T>(valid: T, variants: fc.Arbitrary<T>): fc.Arbitrary<T> {
  return fc.oneof({ weight: 3, arbitrary: fc.constant(valid) }, { weight: 1, arbitrary: variants });
}

const credential = fc.oneof(
  { weight: 4, arbitrary: fc.tuple(
    mostly(KEY.accessKeyId, fc.oneof(fc.constantFrom("AKIDUNKNOWN", "", "a b"), junk(8))),
    mostly(AMZ_NOW.slice(0, 8), fc.constantFrom("20000101", "", "2026112", "20261128")),
    mostly("us-east-1", fc.constantFrom("auto", "eu-west-1", "", "US-EAST-1")),
    mostly("s3", fc.constantFrom("iam", "", "S3")),
    mostly("aws4_request", fc.constantFrom("aws4", "")),
    fc.oneof({ weight: 5, arbitrary: fc.constant([] as string[]) }, { weight: 1, arbitrary: fc.array(junk(4), { minLength: 1, maxLength: 2 }) }),
  ).map(([id, date, region, service, end, extra]) => [id, date, region, service, end, ...extra].join("/")) },
  { weight: 1, arbitrary: junk(40) },
);
const signedHeaderList = mostly("host;x-amz-content-sha256;x-amz-date", fc.oneof(
  fc.constantFrom("host", "host;x-amz-date", "Host;x-amz-date", "", ";", "host;;x", "x-amz-date", "host;x-amz-content-sha256;x-amz-date;x-amz-meta-extra"),
  fc.array(junk(8), { maxLength: 4 }).map((l) => l.join(";")),
));
const signature = mostly("", fc.oneof(junk(70), fc.constantFrom("ABC", "0".repeat(63)))).chain((s) => (s === "" ? hex64 : fc.constant(s)));
const authorizationHeader = fc.oneof(
  { weight: 4, arbitrary: fc.tuple(
    mostly("AWS4-HMAC-SHA256 ", fc.constantFrom("AWS4-HMAC-SHA256", "AWS4-HMAC-SHA1 ", "AWS AKID:sig", "Bearer ", "", " AWS4-HMAC-SHA256  ")),
    credential, signedHeaderList, signature, mostly(",", fc.constantFrom(", ", " ,", ";", "")),
  ).map(([scheme, c, h, sig, sep]) => `${scheme}Credential=${c}${sep}SignedHeaders=${h}${sep}Signature=${sig}`) },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom("AWS4-HMAC-SHA256 ", "", "AWS "), fc.shuffledSubarray([
    credential.map((c) => `Credential=${c}`), signedHeaderList.map((h) => `SignedHeaders=${h}`), signature.map((x) => `Signature=${x}`), junk(20),
  ])).chain(([scheme, parts]) => fc.tuple(...parts).map((values) => scheme + values.join(","))) },
  { weight: 1, arbitrary: junk(120) },
);
const amzDate = mostly(AMZ_NOW, fc.oneof(
  fc.constantFrom("20261127T120000", "20261327T120000Z", "20261127T250000Z", "99991231T235959Z", "00000000T000000Z", "20261128T120000Z", ""),
  junk(20),
));
const payloadHash = fc.oneof(
  fc.constantFrom("UNSIGNED-PAYLOAD", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", "STREAMING-UNSIGNED-PAYLOAD-TRAILER", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER", "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
  hex64,
  junk(70),
);
/** Mostly absent, so that a request can get as far as the signature comparison. */
function rarely(value: fc.Arbitrary<string>): fc.Arbitrary<string | undefined> {
  return fc.oneof({ weight: 4, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: value });
}
const extraHeaders = fc.record({
  "x-amz-date": amzDate,
  "x-amz-content-sha256": payloadHash,
  date: rarely(fc.constantFrom("Fri, 27 Nov 2026 12:00:00 GMT", "not a date", "", "Sat, 01 Jan 300000 00:00:00 GMT")),
  "x-amz-decoded-content-length": rarely(fc.constantFrom("0", "5", "-1", "1e3", "99999999999999999999", "")),
  "x-amz-trailer": rarely(fc.constantFrom("x-amz-checksum-crc32", "x-amz-checksum-nope", "a,b", "")),
  "x-amz-checksum-crc32": rarely(fc.constantFrom("AAAAAA==", "not base64", "")),
  "content-md5": rarely(fc.constantFrom("1B2M2Y8AsgTpgAmY7PhCfg==", "bad", "")),
  "x-amz-meta-extra": rarely(junk(8)),
}).map((headers) => Object.fromEntries(Object.entries(headers).filter(([, v]) => v !== undefined)) as Record<string, string>);
/** Queries without the presigned-URL parameters (a header-signed request with them is refused early). */
const plainQuery = query.map((q) => q.replace(/(X-Amz-[A-Za-z]+|AWSAccessKeyId|Signature)/g, "q"));

/** One header-signed case per stage of the checks (malformed, unknown key, unsigned host, wrong signature). */
function headerExamples(): Array<[string, string, string, string, Record<string, string>]> {
  const scope = `${AMZ_NOW.slice(0, 8)}/us-east-1/s3/aws4_request`;
  const headers = { "x-amz-date": AMZ_NOW, "x-amz-content-sha256": "UNSIGNED-PAYLOAD" };
  return [
    `Credential=${KEY.accessKeyId}/${scope},SignedHeaders=host;x-amz-content-sha256;x-amz-date,Signature=${"0".repeat(64)}`,
    `Credential=AKIDUNKNOWN/${scope},SignedHeaders=host;x-amz-content-sha256;x-amz-date,Signature=${"0".repeat(64)}`,
    `Credential=${KEY.accessKeyId}/${scope},SignedHeaders=x-amz-content-sha256;x-amz-date,Signature=${"0".repeat(64)}`,
    "Credential=x,Signature=y",
  ].map((fields) => ["GET", "/docs/x", "", `AWS4-HMAC-SHA256 ${fields}`, headers]);
}

/** verifyRequest's answer: the principal's key id, or the S3Error (which must be a 4xx). */
async function verdict(request: Request): Promise<string | { code: string; status: number }> {
  const outcome = await outcomeOf(() => verifyRequest(request, testConfig(), ACCESS));
  if (outcome.ok) return "accessKeyId" in outcome.value.principal ? outcome.value.principal.accessKeyId : "anonymous";
  expect(isClientError(outcome.error), `${outcome.error.code} ${outcome.error.message}`).toBe(true);
  return { code: outcome.error.code, status: outcome.error.status };
}

/** Edits to a string: replace, delete or insert one character, or flip the case of a slice. */
const edit = fc.tuple(fc.nat(), fc.constantFrom("replace", "delete", "insert", "case"), fc.string({ unit: "grapheme-ascii", minLength: 1, maxLength: 3 }));
function applyEdit(text: string, [at, how, insert]: [number, string, string]): string {
  const i = text.length ? at % text.length : 0;
  switch (how) {
    case "replace": return text.slice(0, i) + insert + text.slice(i + 1);
    case "delete": return text.slice(0, i) + text.slice(i + 1);
    case "insert": return text.slice(0, i) + insert + text.slice(i);
    default: return text.slice(0, i) + text.slice(i, i + 8).toUpperCase() + text.slice(i + 8);
  }
}

describe("SigV4 parsing under fuzzing", () => {
  it("arbitrary Authorization headers with arbitrary date, payload and checksum headers are refused with a 4xx S3Error", async () => {
    const codes = new Set<string>();
    await fc.assert(fc.asyncProperty(method, path, plainQuery, authorizationHeader, extraHeaders, async (m, p, q, authorization, h) => {
      const request = requestOf(`${BASE}${p}${q}`, { method: m, headers: { ...h, authorization } });
      fc.pre(request !== null);
      const answer = await verdict(request!);
      expect(typeof answer).toBe("object");
      codes.add((answer as { code: string }).code);
    }), { numRuns: fuzzRuns(700), examples: headerExamples() });
    // The generators (and, so that no seed misses one, the examples) reach every stage of the parsing, up to the signature comparison itself.
    expect([...codes]).toEqual(expect.arrayContaining(["AuthorizationHeaderMalformed", "InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied"]));
  });

  it("arbitrary presigned query parameters are refused with a 4xx S3Error", async () => {
    const valid: Record<string, string> = {
      "X-Amz-Algorithm": "AWS4-HMAC-SHA256", "X-Amz-Credential": `${KEY.accessKeyId}/${AMZ_NOW.slice(0, 8)}/us-east-1/s3/aws4_request`,
      "X-Amz-Date": AMZ_NOW, "X-Amz-Expires": "600", "X-Amz-SignedHeaders": "host", "X-Amz-Signature": "0".repeat(64),
    };
    const value = fc.oneof(
      fc.constantFrom("AWS4-HMAC-SHA256", "AWS4-HMAC-SHA1", "", "0", "1", "604800", "604801", "-5", "1.5", "99999999999999999999999", "host", "host;x-amz-date", "Host", AMZ_NOW, "20261127T115000Z"),
      credential, hex64, junk(30),
    );
    const overrides = fc.dictionary(fc.constantFrom(...Object.keys(valid), "X-Amz-Content-Sha256", "X-Amz-Security-Token", "Signature"), fc.option(value, { nil: null }), { maxKeys: 3 });
    const codes = new Set<string>();
    await fc.assert(fc.asyncProperty(path, overrides, hex64, async (p, changes, sig) => {
      const params = new URLSearchParams({ ...valid, "X-Amz-Signature": sig });
      for (const [name, v] of Object.entries(changes)) {
        if (v === null) params.delete(name);
        else params.set(name, v);
      }
      const request = requestOf(`${BASE}${p}?${params}`, {});
      fc.pre(request !== null);
      const answer = await verdict(request!);
      expect(typeof answer).toBe("object");
      codes.add((answer as { code: string }).code);
    }), {
      numRuns: fuzzRuns(700),
      // One case per stage, so that every seed reaches them all.
      examples: [{}, { "X-Amz-Algorithm": null }, { "X-Amz-Credential": `AKIDUNKNOWN/${AMZ_NOW.slice(0, 8)}/us-east-1/s3/aws4_request` }, { "X-Amz-SignedHeaders": "x-amz-date" }]
        .map((changes) => ["/docs/x", changes, "0".repeat(64)] as [string, Record<string, string | null>, string]),
    });
    expect([...codes]).toEqual(expect.arrayContaining(["AuthorizationQueryParametersError", "InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied"]));
  });

  it("a validly signed request with its Authorization header edited is refused with a 4xx or still verifies as the same key", async () => {
    const request = await signed(`${BASE}/docs/fuzz.txt?list-type=2&prefix=a%20b`, { headers: { "x-amz-meta-a": "1" } });
    expect(await verdict(request)).toBe(KEY.accessKeyId);
    const original = request.headers.get("authorization")!;
    await fc.assert(fc.asyncProperty(fc.array(edit, { minLength: 1, maxLength: 3 }), async (edits) => {
      const headers = new Headers(request.headers);
      const authorization = edits.reduce(applyEdit, original);
      try {
        headers.set("authorization", authorization);
      } catch {
        fc.pre(false);
      }
      const answer = await verdict(new Request(request.url, { headers }));
      if (typeof answer === "string") expect(answer).toBe(KEY.accessKeyId);
    }), { numRuns: fuzzRuns(400) });
  });

  it("a presigned URL with a query parameter replaced, dropped, duplicated or added is refused with a 4xx or still verifies as the same key", async () => {
    const presigned = await signed(`${BASE}/docs/fuzz.txt?X-Amz-Expires=600&versionId=null`, { presign: true });
    expect(await verdict(new Request(presigned.url))).toBe(KEY.accessKeyId);
    const names = [...new URL(presigned.url).searchParams.keys()];
    await fc.assert(fc.asyncProperty(
      fc.constantFrom(...names), fc.constantFrom("replace", "drop", "duplicate", "add", "edit"), fc.string({ unit: "grapheme-ascii", maxLength: 20 }), edit,
      async (name, how, value, valueEdit) => {
        const url = new URL(presigned.url);
        const params = url.searchParams;
        if (how === "replace") params.set(name, value);
        else if (how === "drop") params.delete(name);
        else if (how === "duplicate") params.append(name, value);
        else if (how === "add") params.append(value || "x", name);
        else params.set(name, applyEdit(params.get(name) ?? "", valueEdit));
        const answer = await verdict(new Request(url.href));
        if (typeof answer === "string") expect(answer).toBe(KEY.accessKeyId);
      },
    ), { numRuns: fuzzRuns(400) });
  });
});
