// verifyRequest against AWS's documented S3 signing examples, every upload style, and every refusal the issue
// lists. Refused uploads are also pushed into the real local R2 binding to prove nothing gets stored.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import examples from "../../../test/fixtures/sigv4/s3-examples.json";
import { S3Error } from "../../errors";
import { AwsChunkedDecoder } from "./chunked";
import { corsPreflight, parseAuthConfig, verifyRequest, withCors, type AuthConfig } from "./index";
import { signingKey } from "./sigv4";
import {
  AMZ_NOW, KEY, NOW, READER, bytes, checksumOf, chunkedBody, concat, seedOf, signed, storeInR2, testConfig,
} from "../../../test/workerd/helpers/auth";

const bucket = (env as unknown as { BUCKET: R2Bucket }).BUCKET;
const BASE = "https://s3.example.test";

async function refusal(promise: Promise<unknown>): Promise<S3Error> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof S3Error) return error;
    throw error;
  }
  throw new Error("expected an S3Error, but the call succeeded");
}

async function readAll(stream: ReadableStream<Uint8Array> | null): Promise<Uint8Array> {
  if (!stream) return new Uint8Array(0);
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** Verify, then store in R2; returns the refusal (or undefined) and whether the key exists afterwards. */
async function uploadThroughR2(request: Request, key: string, config: AuthConfig = testConfig()) {
  await bucket.delete(key);
  let error: S3Error | undefined;
  try {
    const verified = await verifyRequest(request, config, { bucket: "docs", write: true, now: NOW });
    try {
      await storeInR2(bucket, key, verified.body!, verified.bodyLength!);
    } catch (storageError) {
      error = verified.bodyError() ?? (storageError as S3Error);
    }
  } catch (e) {
    error = e as S3Error;
  }
  return { error, stored: await bucket.head(key) };
}

const awsConfig: AuthConfig = testConfig({
  keys: [{
    accessKeyId: examples.credentials.accessKeyId,
    secretAccessKey: examples.credentials.secretAccessKey,
    access: "read-write",
    buckets: ["*"],
    admin: false,
  }],
});
const awsNow = new Date(examples.credentials.now);

describe("AWS's documented S3 SigV4 examples pass exactly", () => {
  for (const example of examples.single) {
    it(`${example.name}`, async () => {
      const request = new Request(example.url, { method: example.method, headers: example.headers as unknown as Record<string, string>, body: example.body });
      const verified = await verifyRequest(request, awsConfig, { bucket: "examplebucket", write: example.method === "PUT", now: awsNow });
      expect(verified.principal).toEqual({ accessKeyId: "AKIAIOSFODNN7EXAMPLE" });
      expect(new TextDecoder().decode(await readAll(verified.body))).toBe(example.body ?? "");
    });
  }

  it("presigned GET URL (X-Amz-Expires=86400) is accepted within its lifetime", async () => {
    const p = examples.presigned;
    const request = new Request(p.url, { headers: { host: p.host } });
    const verified = await verifyRequest(request, awsConfig, { bucket: "examplebucket", write: false, now: new Date("2013-05-24T12:00:00Z") });
    expect(verified.principal).toEqual({ accessKeyId: "AKIAIOSFODNN7EXAMPLE" });
  });

  it("the same presigned URL is refused with AccessDenied 'Request has expired' after 86400 s", async () => {
    const p = examples.presigned;
    const error = await refusal(verifyRequest(new Request(p.url), awsConfig, { bucket: "examplebucket", write: false, now: new Date("2013-05-25T00:00:01Z") }));
    expect(error.code).toBe("AccessDenied");
    expect(error.message).toBe("Request has expired");
    expect(error.details["X-Amz-Expires"]).toBe("86400");
  });

  it("chunked upload (STREAMING-AWS4-HMAC-SHA256-PAYLOAD): seed and every chunk signature verify, 66560 bytes decoded", async () => {
    const c = examples.chunked;
    const chunks = c.chunks.filter((k) => k.size > 0).map((k) => new Uint8Array(k.size).fill(0x61));
    const body = concat([
      ...c.chunks.flatMap((k, i) => [bytes(`${k.size.toString(16)};chunk-signature=${k.signature}\r\n`), ...(k.size ? [chunks[i], bytes("\r\n")] : [])]),
      bytes("\r\n"),
    ]);
    expect(body.length).toBe(66824);
    const headers = {
      ...c.headers,
      authorization: `AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=${c.signedHeaders},Signature=${c.seedSignature}`,
    };
    const verified = await verifyRequest(new Request(c.url, { method: "PUT", headers, body }), awsConfig, { bucket: "examplebucket", write: true, now: awsNow });
    expect(verified.bodyLength).toBe(66560);
    const decoded = await readAll(verified.body);
    expect(decoded.length).toBe(66560);
    expect(decoded.every((b) => b === 0x61)).toBe(true);
  });

  it("chunked upload with trailer (STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER): chunk chain and trailer signature verify", async () => {
    const t = examples.chunkedTrailer;
    const key = await signingKey(examples.credentials.secretAccessKey, "20130524", "us-east-1", "s3");
    const decoder = new AwsChunkedDecoder({
      signing: { key, amzDate: "20130524T000000Z", scope: "20130524/us-east-1/s3/aws4_request", seedSignature: t.seedSignature },
      expectTrailer: true,
    });
    let decoded = 0;
    for (const k of t.chunks) {
      const frame = [bytes(`${k.size.toString(16)};chunk-signature=${k.signature}\r\n`)];
      if (k.size) frame.push(new Uint8Array(k.size).fill(0x61), bytes("\r\n"));
      for (const piece of await decoder.write(concat(frame))) decoded += piece.length;
    }
    await decoder.write(bytes(`x-amz-checksum-crc32c:${t.trailer["x-amz-checksum-crc32c"]}\r\nx-amz-trailer-signature:${t.trailerSignature}\r\n\r\n`));
    await decoder.end();
    expect(decoded).toBe(66560);
    expect(decoder.trailers.get("x-amz-checksum-crc32c")).toBe("sOO8/Q==");
    expect(await checksumOf("crc32c", new Uint8Array(66560).fill(0x61))).toBe("sOO8/Q==");
  });
});

describe("payload modes are accepted and verified", () => {
  const data = bytes("hello delta world ".repeat(1000));

  it("hex x-amz-content-sha256 body is delivered intact and stored", async () => {
    const request = await signed(`${BASE}/docs/hex.txt`, { method: "PUT", body: data, headers: { "x-amz-content-sha256": await sha256(data) } });
    const { error, stored } = await uploadThroughR2(request, "auth/hex");
    expect(error).toBeUndefined();
    expect(stored?.size).toBe(data.length);
  });

  it("UNSIGNED-PAYLOAD (rclone) passes the body through untouched", async () => {
    const request = await signed(`${BASE}/docs/u.txt`, { method: "PUT", body: data });
    expect(request.headers.get("x-amz-content-sha256")).toBe("UNSIGNED-PAYLOAD");
    const verified = await verifyRequest(request, testConfig(), { bucket: "docs", write: true, now: NOW });
    expect(await readAll(verified.body)).toEqual(data);
  });

  it("STREAMING-UNSIGNED-PAYLOAD-TRAILER with a CRC32 trailer (AWS SDK default) decodes and reports the checksum", async () => {
    const crc = await checksumOf("crc32", data);
    const body = await chunkedBody({ chunks: [data.subarray(0, 8192), data.subarray(8192)], trailer: { "x-amz-checksum-crc32": crc } });
    const request = await signed(`${BASE}/docs/sdk.txt`, { method: "PUT", body, headers: sdkHeaders("STREAMING-UNSIGNED-PAYLOAD-TRAILER", data.length, "crc32") });
    const verified = await verifyRequest(request, testConfig(), { bucket: "docs", write: true, now: NOW });
    expect(verified.bodyLength).toBe(data.length);
    expect(verified.trailerChecksum).toBe("crc32");
    expect(await readAll(verified.body)).toEqual(data);
    expect(verified.checksums.crc32).toBe(crc);
  });

  it("STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER with signed chunks and a signed CRC32C trailer is stored", async () => {
    const crc = await checksumOf("crc32c", data);
    const request = await signedChunkedRequest(data, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER", { trailer: { "x-amz-checksum-crc32c": crc } });
    const { error, stored } = await uploadThroughR2(request, "auth/signed-trailer");
    expect(error).toBeUndefined();
    expect(stored?.size).toBe(data.length);
  });

  for (const algorithm of ["crc32", "crc32c", "crc64nvme", "sha1", "sha256"] as const) {
    it(`x-amz-checksum-${algorithm} header is verified and reported`, async () => {
      const value = await checksumOf(algorithm, data);
      const request = await signed(`${BASE}/docs/c.txt`, { method: "PUT", body: data, headers: { [`x-amz-checksum-${algorithm}`]: value } });
      const verified = await verifyRequest(request, testConfig(), { bucket: "docs", write: true, now: NOW });
      expect(verified.checksums[algorithm]).toBe(value);
      expect(await readAll(verified.body)).toEqual(data);
    });
  }

  it("Content-MD5 matching the body is accepted", async () => {
    const md5 = btoa(String.fromCharCode(...new Uint8Array(await crypto.subtle.digest("MD5", data))));
    const request = await signed(`${BASE}/docs/m.txt`, { method: "PUT", body: data, headers: { "content-md5": md5 } });
    const { error } = await uploadThroughR2(request, "auth/md5-ok");
    expect(error).toBeUndefined();
  });
});

describe("refusals: the right S3 code, and nothing is written", () => {
  const data = bytes("important release bytes ".repeat(500));

  it("wrong secret → SignatureDoesNotMatch with the StringToSign in the details, never the secret", async () => {
    const request = await signed(`${BASE}/docs/a.txt`, { key: { ...KEY, secretAccessKey: "not-the-secret-at-all" } });
    const error = await refusal(verifyRequest(request, testConfig(), { bucket: "docs", write: false, now: NOW }));
    expect(error.code).toBe("SignatureDoesNotMatch");
    expect(error.status).toBe(403);
    expect(error.details.StringToSign).toMatch(/^AWS4-HMAC-SHA256\n20261127T120000Z\n20261127\/us-east-1\/s3\/aws4_request\n[0-9a-f]{64}$/);
    expect(JSON.stringify(error.details) + error.message).not.toContain(KEY.secretAccessKey);
  });

  it("unknown access key → InvalidAccessKeyId", async () => {
    const request = await signed(`${BASE}/docs/a.txt`, { key: { ...KEY, accessKeyId: "AKIDNOBODY" } });
    const error = await refusal(verifyRequest(request, testConfig(), { bucket: "docs", write: false, now: NOW }));
    expect(error.code).toBe("InvalidAccessKeyId");
    expect(error.details.AWSAccessKeyId).toBe("AKIDNOBODY");
  });

  it("no Authorization on a private bucket → AccessDenied", async () => {
    const error = await refusal(verifyRequest(new Request(`${BASE}/docs/a.txt`), testConfig(), { bucket: "docs", write: false, now: NOW }));
    expect(error.code).toBe("AccessDenied");
  });

  it("malformed Authorization → AuthorizationHeaderMalformed", async () => {
    const headers = { authorization: "AWS4-HMAC-SHA256 Credential=AKIDTESTWRITER/20261127/us-east-1/s3/aws4_request", "x-amz-date": AMZ_NOW, "x-amz-content-sha256": "UNSIGNED-PAYLOAD" };
    const error = await refusal(verifyRequest(new Request(`${BASE}/docs/a.txt`, { headers }), testConfig(), { bucket: "docs", write: false, now: NOW }));
    expect(error.code).toBe("AuthorizationHeaderMalformed");
    const badScope = await signed(`${BASE}/docs/a.txt`, { region: "mars-west-1" });
    const regionError = await refusal(verifyRequest(badScope, testConfig(), { bucket: "docs", write: false, now: NOW }));
    expect(regionError.code).toBe("AuthorizationHeaderMalformed");
    expect(regionError.details.Region).toBe("us-east-1");
  });

  it("signed 30 minutes ago → RequestTimeTooSkewed", async () => {
    const request = await signed(`${BASE}/docs/a.txt`, { datetime: "20261127T113000Z" });
    const error = await refusal(verifyRequest(request, testConfig(), { bucket: "docs", write: false, now: NOW }));
    expect(error.code).toBe("RequestTimeTooSkewed");
    expect(error.status).toBe(403);
  });

  it("a signed Accept-Encoding: gzip that the runtime rewrote to 'br, gzip' (rclone's GET) still verifies", async () => {
    const request = await signed(`${BASE}/docs/a.txt`, { headers: { "accept-encoding": "gzip" } });
    expect(request.headers.get("authorization")).toContain("accept-encoding;host");
    const rewritten = new Request(request.url, { headers: request.headers });
    rewritten.headers.set("accept-encoding", "br, gzip");
    const ok = await verifyRequest(rewritten, testConfig(), { bucket: "docs", write: false, now: NOW });
    expect(ok.principal).toEqual({ accessKeyId: KEY.accessKeyId });
    const tampered = new Request(`${BASE}/docs/b.txt`, { headers: rewritten.headers });
    expect((await refusal(verifyRequest(tampered, testConfig(), { bucket: "docs", write: false, now: NOW }))).code).toBe("SignatureDoesNotMatch");
  });

  it("a signature made for another request (other key, other method) → SignatureDoesNotMatch", async () => {
    const original = await signed(`${BASE}/docs/a.txt`);
    const replayed = new Request(`${BASE}/docs/b.txt`, { headers: original.headers });
    expect((await refusal(verifyRequest(replayed, testConfig(), { bucket: "docs", write: false, now: NOW }))).code).toBe("SignatureDoesNotMatch");
    const asDelete = new Request(original.url, { method: "DELETE", headers: original.headers });
    expect((await refusal(verifyRequest(asDelete, testConfig(), { bucket: "docs", write: true, now: NOW }))).code).toBe("SignatureDoesNotMatch");
  });

  it("body changed after signing (hex payload hash) → XAmzContentSHA256Mismatch, nothing stored", async () => {
    const request = await signed(`${BASE}/docs/a.txt`, { method: "PUT", body: data, headers: { "x-amz-content-sha256": await sha256(data) } });
    const tampered = new Request(request.url, { method: "PUT", headers: request.headers, body: concat([data.subarray(0, data.length - 1), bytes("X")]) });
    expect(tampered.headers.get("content-length")).toBe(String(data.length));
    const { error, stored } = await uploadThroughR2(tampered, "auth/tampered-body");
    expect(error?.code).toBe("XAmzContentSHA256Mismatch");
    expect(stored).toBeNull();
  });

  it("chunk signature tampered → SignatureDoesNotMatch, nothing stored", async () => {
    const request = await signedChunkedRequest(data, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", { tamperChunk: 1 });
    const { error, stored } = await uploadThroughR2(request, "auth/tampered-chunk");
    expect(error?.code).toBe("SignatureDoesNotMatch");
    expect(stored).toBeNull();
  });

  it("chunk data changed in flight (signature left as is) → SignatureDoesNotMatch, nothing stored", async () => {
    const request = await signedChunkedRequest(data, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", { flipDataByte: true });
    const { error, stored } = await uploadThroughR2(request, "auth/flipped-chunk");
    expect(error?.code).toBe("SignatureDoesNotMatch");
    expect(stored).toBeNull();
  });

  it("trailer checksum wrong → BadDigest, nothing stored", async () => {
    const wrong = await checksumOf("crc32", bytes("something else"));
    const body = await chunkedBody({ chunks: [data], trailer: { "x-amz-checksum-crc32": wrong } });
    const request = await signed(`${BASE}/docs/t.txt`, { method: "PUT", body, headers: sdkHeaders("STREAMING-UNSIGNED-PAYLOAD-TRAILER", data.length, "crc32") });
    const { error, stored } = await uploadThroughR2(request, "auth/bad-trailer");
    expect(error?.code).toBe("BadDigest");
    expect(stored).toBeNull();
  });

  it("signed trailer with an altered checksum (signature left as is) → SignatureDoesNotMatch, nothing stored", async () => {
    const crc = await checksumOf("crc32c", data);
    const request = await signedChunkedRequest(data, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER", { trailer: { "x-amz-checksum-crc32c": crc }, alterTrailer: "AAAAAA==" });
    const { error, stored } = await uploadThroughR2(request, "auth/altered-trailer");
    expect(error?.code).toBe("SignatureDoesNotMatch");
    expect(stored).toBeNull();
  });

  it("body cut short of x-amz-decoded-content-length → IncompleteBody, nothing stored", async () => {
    const body = await chunkedBody({ chunks: [data.subarray(0, 100)] });
    const request = await signed(`${BASE}/docs/s.txt`, { method: "PUT", body, headers: sdkHeaders("STREAMING-UNSIGNED-PAYLOAD-TRAILER", data.length) });
    const { error, stored } = await uploadThroughR2(request, "auth/short");
    expect(error?.code).toBe("IncompleteBody");
    expect(stored).toBeNull();
  });

  it("header checksum or Content-MD5 that does not match → BadDigest, nothing stored; malformed ones → InvalidRequest/InvalidDigest", async () => {
    const wrongCrc = await checksumOf("crc32", bytes("nope"));
    const crcRequest = await signed(`${BASE}/docs/c.txt`, { method: "PUT", body: data, headers: { "x-amz-checksum-crc32": wrongCrc } });
    const crcResult = await uploadThroughR2(crcRequest, "auth/bad-crc");
    expect(crcResult.error?.code).toBe("BadDigest");
    expect(crcResult.stored).toBeNull();

    const md5Request = await signed(`${BASE}/docs/m.txt`, { method: "PUT", body: data, headers: { "content-md5": "1B2M2Y8AsgTpgAmY7PhCfg==" } });
    const md5Result = await uploadThroughR2(md5Request, "auth/bad-md5");
    expect(md5Result.error?.code).toBe("BadDigest");
    expect(md5Result.stored).toBeNull();

    const malformed = await signed(`${BASE}/docs/c.txt`, { method: "PUT", body: data, headers: { "x-amz-checksum-sha256": "AAAA" } });
    expect((await refusal(verifyRequest(malformed, testConfig(), { bucket: "docs", write: true, now: NOW }))).code).toBe("InvalidRequest");
    const badMd5 = await signed(`${BASE}/docs/c.txt`, { method: "PUT", body: data, headers: { "content-md5": "not base64!" } });
    expect((await refusal(verifyRequest(badMd5, testConfig(), { bucket: "docs", write: true, now: NOW }))).code).toBe("InvalidDigest");
  });

  it("presigned URL expired → AccessDenied 'Request has expired'; presigned signature altered → SignatureDoesNotMatch", async () => {
    const presigned = await signed(`${BASE}/docs/p.txt?X-Amz-Expires=60`, { presign: true });
    const later = new Date(NOW.getTime() + 61_000);
    const expired = await refusal(verifyRequest(new Request(presigned.url), testConfig(), { bucket: "docs", write: false, now: later }));
    expect(expired.code).toBe("AccessDenied");
    expect(expired.message).toBe("Request has expired");

    const url = new URL(presigned.url);
    const sig = url.searchParams.get("X-Amz-Signature")!;
    url.searchParams.set("X-Amz-Signature", (sig[0] === "a" ? "b" : "a") + sig.slice(1));
    const altered = await refusal(verifyRequest(new Request(url), testConfig(), { bucket: "docs", write: false, now: NOW }));
    expect(altered.code).toBe("SignatureDoesNotMatch");

    const ok = await verifyRequest(new Request(presigned.url), testConfig(), { bucket: "docs", write: false, now: NOW });
    expect(ok.principal).toEqual({ accessKeyId: KEY.accessKeyId });
  });

  it("a presigned PUT carrying the SDK's empty-body x-amz-checksum-crc32 in its query is accepted (S3 ignores query checksums)", async () => {
    const presigned = await signed(`${BASE}/docs/p.bin?x-amz-checksum-crc32=AAAAAA%3D%3D&x-amz-sdk-checksum-algorithm=CRC32`, { method: "PUT", presign: true });
    const request = new Request(presigned.url, { method: "PUT", body: data, headers: { "content-length": String(data.length) } });
    const { error, stored } = await uploadThroughR2(request, "auth/presigned-put");
    expect(error).toBeUndefined();
    expect(stored?.size).toBe(data.length);
  });

  it("presigned URL with X-Amz-Expires=0 → 403 AccessDenied 'Request has expired', even in the second it was signed", async () => {
    const presigned = await signed(`${BASE}/docs/p.txt?X-Amz-Expires=0`, { presign: true });
    const error = await refusal(verifyRequest(new Request(presigned.url), testConfig(), { bucket: "docs", write: false, now: NOW }));
    expect([error.status, error.code, error.message]).toEqual([403, "AccessDenied", "Request has expired"]);
  });

  it("presigned URL valid for more than 7 days → AuthorizationQueryParametersError", async () => {
    const presigned = await signed(`${BASE}/docs/p.txt?X-Amz-Expires=604801`, { presign: true });
    const error = await refusal(verifyRequest(new Request(presigned.url), testConfig(), { bucket: "docs", write: false, now: NOW }));
    expect(error.code).toBe("AuthorizationQueryParametersError");
  });

  it("anonymous write, even to an anonymous-read bucket → AccessDenied, nothing stored", async () => {
    const request = new Request(`${BASE}/public/x.txt`, { method: "PUT", body: data });
    const error = await refusal(verifyRequest(request, testConfig(), { bucket: "public", write: true, now: NOW }));
    expect(error.code).toBe("AccessDenied");
    expect(await bucket.head("public/x.txt")).toBeNull();
    const read = await verifyRequest(new Request(`${BASE}/public/x.txt`), testConfig(), { bucket: "public", write: false, now: NOW });
    expect(read.principal).toEqual({ anonymous: true });
  });

  it("read-only key writing, or a key used outside its buckets → AccessDenied", async () => {
    const write = await signed(`${BASE}/docs/r.txt`, { method: "PUT", body: data, key: READER });
    expect((await refusal(verifyRequest(write, testConfig(), { bucket: "docs", write: true, now: NOW }))).code).toBe("AccessDenied");
    const otherBucket = await signed(`${BASE}/private/r.txt`, { key: READER });
    expect((await refusal(verifyRequest(otherBucket, testConfig(), { bucket: "private", write: false, now: NOW }))).code).toBe("AccessDenied");
    const read = await signed(`${BASE}/docs/r.txt`, { key: READER });
    expect((await verifyRequest(read, testConfig(), { bucket: "docs", write: false, now: NOW })).principal).toEqual({ accessKeyId: READER.accessKeyId });
  });

  it("an unsigned x-amz-* header added to a signed request → AccessDenied", async () => {
    const request = await signed(`${BASE}/docs/a.txt`);
    const headers = new Headers(request.headers);
    headers.set("x-amz-meta-injected", "1");
    const error = await refusal(verifyRequest(new Request(request.url, { headers }), testConfig(), { bucket: "docs", write: false, now: NOW }));
    expect(error.code).toBe("AccessDenied");
    expect(error.details.HeadersNotSigned).toContain("x-amz-meta-injected");
  });

  it("a Worker with no credentials configured refuses everything, with a message saying how to fix it", async () => {
    const config = parseAuthConfig({});
    const request = await signed(`${BASE}/public/a.txt`);
    const error = await refusal(verifyRequest(request, config, { bucket: "public", write: false, now: NOW }));
    expect(error.code).toBe("AccessDenied");
    expect(error.message).toContain("wrangler secret put DG_CREDENTIALS");
  });
});

describe("credentials configuration", () => {
  it("parses keys with rights and buckets; the dev key only with DG_DEV_CREDENTIALS=true", () => {
    const config = parseAuthConfig({
      DG_CREDENTIALS: JSON.stringify([{ accessKeyId: "ci", secretAccessKey: "ci-secret-123", access: "read-only", buckets: ["releases"] }]),
      DG_ANONYMOUS_READ_BUCKETS: "public, mirror",
    });
    expect(config.keys).toEqual([{ accessKeyId: "ci", secretAccessKey: "ci-secret-123", access: "read-only", buckets: ["releases"], admin: false }]);
    expect(config.anonymousReadBuckets).toEqual(["public", "mirror"]);
    expect(config.failClosed).toBe(false);
    expect(parseAuthConfig({}).failClosed).toBe(true);
    const dev = parseAuthConfig({ DG_DEV_CREDENTIALS: "true" });
    expect(dev.keys.map((k) => [k.accessKeyId, k.secretAccessKey])).toEqual([["deltaglider", "deltaglider-secret"]]);
  });

  it("a bad DG_CREDENTIALS names the variable and never echoes the secret", () => {
    const secretish = '[{"accessKeyId":"ci","secretAccessKey":"super-secret-value"';
    expect(() => parseAuthConfig({ DG_CREDENTIALS: secretish })).toThrow(/configuration variable DG_CREDENTIALS: is not valid JSON/);
    try {
      parseAuthConfig({ DG_CREDENTIALS: secretish });
    } catch (error) {
      expect(String(error)).not.toContain("super-secret-value");
    }
    expect(() => parseAuthConfig({ DG_CREDENTIALS: '[{"accessKeyId":"ci","secretAccessKey":"x"}]' })).toThrow(/configuration variable DG_CREDENTIALS\[0\]\.secretAccessKey: /);
    expect(() => parseAuthConfig({ DG_CREDENTIALS: '[{"accessKeyId":"ci","secretAccessKey":"long-enough","access":"admin"}]' })).toThrow(/configuration variable DG_CREDENTIALS\[0\]\.access: must be/);
  });
});

describe("CORS", () => {
  it("answers a preflight from an allowed origin and refuses others", () => {
    const preflight = (origin: string) => new Request(`${BASE}/docs/a.txt`, {
      method: "OPTIONS",
      headers: { origin, "access-control-request-method": "PUT", "access-control-request-headers": "content-type,x-amz-date" },
    });
    const ok = corsPreflight(preflight("https://app.example.com"), testConfig())!;
    expect(ok.status).toBe(200);
    expect(ok.headers.get("access-control-allow-origin")).toBe("https://app.example.com");
    expect(ok.headers.get("access-control-allow-headers")).toBe("content-type,x-amz-date");
    expect(() => corsPreflight(preflight("https://evil.example"), testConfig())).toThrow(S3Error);
    expect(corsPreflight(new Request(`${BASE}/docs/a.txt`), testConfig())).toBeNull();
  });

  it("an OPTIONS request that is no preflight (no Origin, or no requested method) is a 400 BadRequest, not 405", () => {
    const options = (headers: Record<string, string>) => () => corsPreflight(new Request(`${BASE}/docs/a.txt`, { method: "OPTIONS", headers }), testConfig());
    expect(options({ "access-control-request-method": "PUT" })).toThrow(expect.objectContaining({ code: "BadRequest", status: 400 }));
    expect(options({})).toThrow(expect.objectContaining({ code: "BadRequest", status: 400 }));
    expect(options({ origin: "https://app.example.com" })).toThrow(expect.objectContaining({ code: "BadRequest", status: 400 }));
  });

  it("adds Allow-Origin and exposes ETag on responses to allowed origins only", () => {
    const request = (origin: string) => new Request(`${BASE}/docs/a.txt`, { headers: { origin } });
    const response = withCors(new Response("x", { headers: { etag: '"abc"' } }), request("https://app.example.com"), testConfig());
    expect(response.headers.get("access-control-allow-origin")).toBe("https://app.example.com");
    expect(response.headers.get("access-control-expose-headers")).toContain("ETag");
    expect(withCors(new Response("x"), request("https://evil.example"), testConfig()).headers.get("access-control-allow-origin")).toBeNull();
  });
});

// ---- helpers ----

async function sha256(data: Uint8Array): Promise<string> {
  return Array.from(new Uint8Array(await crypto.subtle.digest("SHA-256", data)), (b) => b.toString(16).padStart(2, "0")).join("");
}

function sdkHeaders(contentSha256: string, decodedLength: number, trailer?: string): Record<string, string> {
  return {
    "x-amz-content-sha256": contentSha256,
    "content-encoding": "aws-chunked",
    "x-amz-decoded-content-length": String(decodedLength),
    ...(trailer ? { "x-amz-trailer": `x-amz-checksum-${trailer}`, "x-amz-sdk-checksum-algorithm": trailer.toUpperCase() } : {}),
  };
}

interface ChunkedTamper {
  trailer?: Record<string, string>;
  tamperChunk?: number;
  flipDataByte?: boolean;
  alterTrailer?: string;
}

/** A signed aws-chunked PUT: aws4fetch signs the headers (the seed); chunks are signed in a chain from it. */
async function signedChunkedRequest(data: Uint8Array, mode: string, options: ChunkedTamper = {}): Promise<Request> {
  const trailerName = options.trailer ? Object.keys(options.trailer)[0].replace("x-amz-checksum-", "") : undefined;
  const headerSigned = await signed(`${BASE}/docs/chunked.bin`, { method: "PUT", headers: sdkHeaders(mode, data.length, trailerName) });
  const half = Math.floor(data.length / 2);
  let body = await chunkedBody({
    chunks: [data.subarray(0, half), data.subarray(half)],
    signing: { seed: seedOf(headerSigned), secret: KEY.secretAccessKey, amzDate: AMZ_NOW },
    trailer: options.trailer,
  });
  let text = new TextDecoder("latin1").decode(body);
  if (options.tamperChunk !== undefined) {
    const signatures = [...text.matchAll(/chunk-signature=([0-9a-f]{64})/g)];
    const target = signatures[options.tamperChunk];
    const flipped = (target[1][0] === "a" ? "b" : "a") + target[1].slice(1);
    text = text.slice(0, target.index!) + `chunk-signature=${flipped}` + text.slice(target.index! + target[0].length);
  }
  if (options.alterTrailer) text = text.replace(/(x-amz-checksum-[a-z0-9]+:)[^\r]+/, `$1${options.alterTrailer}`);
  body = Uint8Array.from(text, (c) => c.charCodeAt(0));
  if (options.flipDataByte) {
    const at = text.indexOf("\r\n") + 10;
    body[at] ^= 0x01;
  }
  return new Request(headerSigned.url, { method: "PUT", headers: headerSigned.headers, body });
}
