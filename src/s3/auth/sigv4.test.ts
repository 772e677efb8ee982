// AWS's published SigV4 test vectors, run against our canonicalisation and signing primitives.
import { describe, expect, it } from "vitest";
import suite from "../../../test/fixtures/sigv4/aws-sig-v4-test-suite.json";
import {
  canonicalQuery, canonicalRequest, canonicalUri, constantTimeEqual, credentialScope, hmacHex, sha256Hex, signingKey,
  stringToSign,
} from "./sigv4";

interface ParsedReq {
  method: string;
  path: string;
  query: string;
  headers: Map<string, string[]>;
  body: string;
}

/** Parse a suite .req file: request line, header lines (repeats allowed), blank line, body. */
function parseReq(text: string): ParsedReq {
  const [head, body = ""] = text.split("\n\n");
  const [requestLine, ...headerLines] = head.split("\n");
  const method = requestLine.slice(0, requestLine.indexOf(" "));
  const target = requestLine.slice(method.length + 1, requestLine.lastIndexOf(" HTTP/1.1"));
  const q = target.indexOf("?");
  const headers = new Map<string, string[]>();
  for (const line of headerLines) {
    const colon = line.indexOf(":");
    const name = line.slice(0, colon).toLowerCase();
    headers.set(name, [...(headers.get(name) ?? []), line.slice(colon + 1)]);
  }
  return { method, path: q < 0 ? target : target.slice(0, q), query: q < 0 ? "" : target.slice(q + 1), headers, body };
}

async function signSuiteCase(req: ParsedReq, signedHeaders: string[]) {
  const { credentials } = suite;
  const amzDate = req.headers.get("x-amz-date")![0];
  const canonical = canonicalRequest({
    method: req.method, rawPath: req.path, rawQuery: req.query, headers: req.headers, signedHeaders,
    payloadHash: await sha256Hex(req.body),
  });
  const scope = credentialScope(amzDate.slice(0, 8), credentials.region, credentials.service);
  const sts = await stringToSign(amzDate, scope, canonical);
  const key = await signingKey(credentials.secretAccessKey, amzDate.slice(0, 8), credentials.region, credentials.service);
  return { canonical, sts, signature: await hmacHex(key, sts) };
}

describe("AWS SigV4 test suite vectors (S3 rules)", () => {
  for (const testCase of suite.cases) {
    it(`${testCase.name}: computes the published Authorization signature`, async () => {
      const req = parseReq(testCase.req);
      const signedHeaders = /SignedHeaders=([^,]+)/.exec(testCase.authz)![1].split(";");
      const { signature } = await signSuiteCase(req, signedHeaders);
      const expected = /Signature=([0-9a-f]{64})/.exec(testCase.authz)![1];
      expect(signature).toBe(expected);
    });
  }

  it("post-x-www-form-urlencoded: canonical request and string to sign match the published ones byte for byte", async () => {
    const testCase = suite.cases.find((c) => c.name === "post-x-www-form-urlencoded")!;
    const { canonical, sts } = await signSuiteCase(parseReq(testCase.req), ["content-type", "host", "x-amz-date"]);
    expect(canonical).toBe(suite.expected["post-x-www-form-urlencoded"].creq);
    expect(sts).toBe(suite.expected["post-x-www-form-urlencoded"].sts);
  });
});

describe("S3 canonicalisation", () => {
  it("encodes a key path once and never normalises it", () => {
    expect(canonicalUri("/bucket/a/../b//c")).toBe("/bucket/a/../b//c");
    expect(canonicalUri("/bucket/test$file.text")).toBe("/bucket/test%24file.text");
    // Already-escaped input is not escaped again.
    expect(canonicalUri("/bucket/test%24file.text")).toBe("/bucket/test%24file.text");
    expect(canonicalUri("/bucket/caf%C3%A9%20menu.txt")).toBe("/bucket/caf%C3%A9%20menu.txt");
    // An escaped slash stays escaped: it is part of one segment.
    expect(canonicalUri("/bucket/a%2Fb")).toBe("/bucket/a%2Fb");
  });

  it("sorts the query, encodes names and values, and keeps empty values", () => {
    expect(canonicalQuery("uploads")).toBe("uploads=");
    expect(canonicalQuery("prefix=J&max-keys=2")).toBe("max-keys=2&prefix=J");
    expect(canonicalQuery("list-type=2&prefix=a%2Fb c&delimiter=%2F")).toBe("delimiter=%2F&list-type=2&prefix=a%2Fb%20c");
    expect(canonicalQuery("X-Amz-Signature=abc&a=1", "X-Amz-Signature")).toBe("a=1");
  });
});

describe("constant-time comparison", () => {
  it("tells equal from different strings, including different lengths", () => {
    expect(constantTimeEqual("abc", "abc")).toBe(true);
    expect(constantTimeEqual("abc", "abd")).toBe(false);
    expect(constantTimeEqual("abc", "abcd")).toBe(false);
    expect(constantTimeEqual("", "")).toBe(true);
  });
});
