// verifyRequest: who signed this request (header or presigned SigV4, or nobody), may they do this, and is the
// body the one they signed? Refusals are S3Errors with the codes and details AWS S3 answers.
import type { ChecksumAlgorithm } from "../../engine/api";
import { S3Error } from "../../errors";
import { BodyVerifier, needsVerification, verifiedStream, type BodyChecks } from "./body";
import { bytesToHex, strictBase64ToBytes } from "../../encoding";
import { CHECKSUM_ALGORITHMS, CHECKSUM_BYTES, algorithmOfHeader, checksumHeaderName } from "./checksums";
import { NO_CREDENTIALS_MESSAGE, mayAccess } from "./config";
import { rawPathOf } from "../request-path";
import type { AccessKey, AuthConfig, Principal, RequestAccess, VerifiedRequest } from "./index";
import {
  ALGORITHM, EMPTY_SHA256, canonicalRequest, constantTimeEqual, credentialScope, hmacHex, signingKey, stringToSign,
} from "./sigv4";

const MAX_SKEW_MS = 15 * 60 * 1000;
const MAX_PRESIGNED_EXPIRES = 7 * 24 * 3600;
const SERVICE = "s3";

const UNSIGNED = "UNSIGNED-PAYLOAD";
const STREAMING_SIGNED = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD";
const STREAMING_SIGNED_TRAILER = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER";
const STREAMING_UNSIGNED_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER";

/** What the client claims in its Authorization header or presigned query. */
interface SignatureClaim {
  kind: "header" | "presigned";
  accessKeyId: string;
  scopeDate: string;
  region: string;
  service: string;
  terminator: string;
  signedHeaders: string[];
  signature: string;
  /** ISO 8601 basic time the signature was made (x-amz-date / X-Amz-Date / Date). */
  amzDate: string;
  /** Seconds a presigned URL stays valid. */
  expires?: number;
  payloadHash: string;
}

export async function verifyRequest(request: Request, config: AuthConfig, access: RequestAccess): Promise<VerifiedRequest> {
  if (config.failClosed) throw new S3Error("AccessDenied", NO_CREDENTIALS_MESSAGE);
  const url = new URL(request.url);
  const now = access.now ?? new Date();
  const claim = readClaim(request, url);

  let principal: Principal;
  let signing: { key: CryptoKey; scope: string; signature: string } | undefined;
  if (!claim) {
    principal = { anonymous: true };
  } else {
    const key = findKey(config, claim.accessKeyId);
    checkScope(claim, config);
    checkTime(claim, now);
    checkSignedHeaders(claim, request, url);
    signing = await checkSignature(claim, key, request, url);
    principal = { accessKeyId: key.accessKeyId };
  }
  authorize(config, principal, access);
  return verifyBody(request, url, claim, signing);
}

// ---- reading the claim ----

function readClaim(request: Request, url: URL): SignatureClaim | null {
  const authorization = request.headers.get("authorization");
  const presigned = url.searchParams.has("X-Amz-Algorithm") || url.searchParams.has("X-Amz-Signature");
  if (authorization !== null && presigned) {
    throw new S3Error("InvalidArgument", "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter or the Authorization header should be specified.", { ArgumentName: "Authorization" });
  }
  if (authorization !== null) return readHeaderClaim(authorization, request);
  if (presigned) return readQueryClaim(url.searchParams);
  if (url.searchParams.has("AWSAccessKeyId") || url.searchParams.has("Signature")) {
    throw new S3Error("InvalidRequest", "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.");
  }
  return null;
}

function readHeaderClaim(authorization: string, request: Request): SignatureClaim {
  const trimmed = authorization.trim();
  if (!trimmed.startsWith(`${ALGORITHM} `)) {
    if (/^AWS [^:]+:/.test(trimmed)) {
      throw new S3Error("InvalidRequest", "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.");
    }
    throw headerMalformed("The authorization header is malformed; the authorization header requires three components: Credential, SignedHeaders, and Signature.");
  }
  const fields = new Map<string, string>();
  for (const part of trimmed.slice(ALGORITHM.length).split(",")) {
    const eq = part.indexOf("=");
    if (eq > 0) fields.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  const credential = fields.get("Credential");
  const signedHeaders = fields.get("SignedHeaders");
  const signature = fields.get("Signature");
  if (!credential || !signedHeaders || !signature) {
    throw headerMalformed("The authorization header is malformed; the authorization header requires three components: Credential, SignedHeaders, and Signature.");
  }
  const payloadHash = request.headers.get("x-amz-content-sha256");
  if (!payloadHash) {
    throw new S3Error("InvalidRequest", "Missing required header for this request: x-amz-content-sha256");
  }
  return {
    kind: "header",
    ...parseCredential(credential, headerMalformed),
    signedHeaders: signedHeaders.split(";"),
    signature,
    amzDate: headerDate(request),
    payloadHash: payloadHash.trim(),
  };
}

function readQueryClaim(query: URLSearchParams): SignatureClaim {
  const get = (name: string) => query.get(name);
  const algorithm = get("X-Amz-Algorithm");
  if (algorithm !== ALGORITHM) {
    throw queryError(algorithm ? "X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\"" : "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.");
  }
  const credential = get("X-Amz-Credential");
  const amzDate = get("X-Amz-Date");
  const expiresText = get("X-Amz-Expires");
  const signedHeaders = get("X-Amz-SignedHeaders");
  const signature = get("X-Amz-Signature");
  if (!credential || !amzDate || !expiresText || !signedHeaders || !signature) {
    throw queryError("Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.");
  }
  if (!/^\d+$/.test(expiresText)) throw queryError("X-Amz-Expires should be a number");
  const expires = Number(expiresText);
  if (expires > MAX_PRESIGNED_EXPIRES) throw queryError("X-Amz-Expires must be less than a week (in seconds) that is 604800");
  if (parseAmzDate(amzDate) === null) throw queryError("X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"");
  return {
    kind: "presigned",
    ...parseCredential(credential, queryError),
    signedHeaders: signedHeaders.split(";"),
    signature,
    amzDate,
    expires,
    payloadHash: get("X-Amz-Content-Sha256") ?? UNSIGNED,
  };
}

function parseCredential(credential: string, error: (message: string) => S3Error) {
  // The access key id itself never contains "/", so split from the right is not needed.
  const parts = credential.split("/");
  if (parts.length !== 5 || parts.some((p) => p === "")) {
    throw error(`The Credential is mal-formed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".`);
  }
  const [accessKeyId, scopeDate, region, service, terminator] = parts;
  return { accessKeyId, scopeDate, region, service, terminator };
}

/** x-amz-date, or the Date header (RFC 1123) converted to the ISO 8601 basic form SigV4 signs. */
function headerDate(request: Request): string {
  const amzDate = request.headers.get("x-amz-date");
  if (amzDate && parseAmzDate(amzDate.trim())) return amzDate.trim();
  const date = request.headers.get("date");
  const parsed = date ? new Date(date) : null;
  if (!amzDate && parsed && !Number.isNaN(parsed.getTime())) return toAmzDate(parsed);
  throw new S3Error("AccessDenied", "AWS authentication requires a valid Date or x-amz-date header");
}

// ---- checks ----

function findKey(config: AuthConfig, accessKeyId: string): AccessKey {
  const key = config.keys.find((k) => k.accessKeyId === accessKeyId);
  if (!key) {
    throw new S3Error("InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.", { AWSAccessKeyId: accessKeyId });
  }
  return key;
}

function checkScope(claim: SignatureClaim, config: AuthConfig): void {
  const error = claim.kind === "header" ? headerMalformed : queryError;
  if (claim.scopeDate !== claim.amzDate.slice(0, 8)) {
    throw error(claim.kind === "header"
      ? "The authorization header is malformed; Invalid credential date. Date is not the same as X-Amz-Date."
      : "Invalid credential date. Date is not the same as X-Amz-Date.");
  }
  if (!config.regions.includes(claim.region)) {
    const prefix = claim.kind === "header" ? "The authorization header is malformed;" : "Error parsing the X-Amz-Credential parameter;";
    const e = error(`${prefix} the region '${claim.region}' is wrong; expecting '${config.regions[0]}'`);
    e.details.Region = config.regions[0];
    throw e;
  }
  if (claim.service !== SERVICE) {
    throw error(`The authorization header is malformed; incorrect service "${claim.service}". This endpoint belongs to "${SERVICE}".`);
  }
  if (claim.terminator !== "aws4_request") {
    throw error(`The authorization header is malformed; incorrect terminal "${claim.terminator}". This endpoint uses "aws4_request".`);
  }
}

function checkTime(claim: SignatureClaim, now: Date): void {
  const signedAt = parseAmzDate(claim.amzDate);
  if (!signedAt) throw new S3Error("AccessDenied", "AWS authentication requires a valid Date or x-amz-date header");
  const serverTime = toIsoSeconds(now);
  if (claim.kind === "presigned") {
    if (signedAt.getTime() - now.getTime() > MAX_SKEW_MS) {
      throw new S3Error("AccessDenied", "Request is not valid yet", { RequestTime: toIsoSeconds(signedAt), ServerTime: serverTime });
    }
    const expiresAt = new Date(signedAt.getTime() + claim.expires! * 1000);
    // X-Amz-Expires=0 is a URL that has already expired (S3: 403 AccessDenied), not a malformed one.
    if (claim.expires === 0 || now.getTime() > expiresAt.getTime()) {
      throw new S3Error("AccessDenied", "Request has expired", {
        "X-Amz-Expires": String(claim.expires),
        Expires: toIsoSeconds(expiresAt),
        ServerTime: serverTime,
      });
    }
    return;
  }
  if (Math.abs(signedAt.getTime() - now.getTime()) > MAX_SKEW_MS) {
    throw new S3Error("RequestTimeTooSkewed", "The difference between the request time and the current time is too large.", {
      RequestTime: claim.amzDate,
      ServerTime: serverTime,
      MaxAllowedSkewMilliseconds: String(MAX_SKEW_MS),
    });
  }
}

/** Host must be signed, and so must every x-amz-* header sent (otherwise they could be changed in flight). */
function checkSignedHeaders(claim: SignatureClaim, request: Request, url: URL): void {
  const signed = new Set(claim.signedHeaders);
  if (claim.signedHeaders.some((h) => h !== h.toLowerCase() || h === "")) {
    throw (claim.kind === "header" ? headerMalformed : queryError)("SignedHeaders must be lowercase header names separated by ';'.");
  }
  if (!signed.has("host")) {
    throw new S3Error("AccessDenied", "There were headers present in the request which were not signed", { HeadersNotSigned: "host" });
  }
  const unsigned: string[] = [];
  request.headers.forEach((_, name) => {
    if (name.startsWith("x-amz-") && !signed.has(name)) unsigned.push(name);
  });
  if (unsigned.length) {
    throw new S3Error("AccessDenied", "There were headers present in the request which were not signed", { HeadersNotSigned: unsigned.join(", ") });
  }
  void url;
}

async function checkSignature(claim: SignatureClaim, key: AccessKey, request: Request, url: URL) {
  const scope = credentialScope(claim.scopeDate, claim.region, claim.service);
  const signingKeyValue = await signingKey(key.secretAccessKey, claim.scopeDate, claim.region, claim.service);
  let first: { canonical: string; toSign: string } | undefined;
  for (const acceptEncoding of acceptEncodingCandidates(claim, request)) {
    const canonical = canonicalFor(claim, request, url, acceptEncoding);
    const toSign = await stringToSign(claim.amzDate, scope, canonical);
    const expected = await hmacHex(signingKeyValue, toSign);
    if (constantTimeEqual(expected, claim.signature.toLowerCase())) return { key: signingKeyValue, scope, signature: expected };
    first ??= { canonical, toSign };
  }
  throw new S3Error("SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided. Check your key and signing method.", {
    AWSAccessKeyId: key.accessKeyId,
    StringToSign: first!.toSign,
    SignatureProvided: claim.signature,
    StringToSignBytes: hexBytes(first!.toSign),
    CanonicalRequest: first!.canonical,
    CanonicalRequestBytes: hexBytes(first!.canonical),
  });
}

function canonicalFor(claim: SignatureClaim, request: Request, url: URL, acceptEncoding: string | null): string {
  const headers = new Map<string, string[]>();
  for (const name of claim.signedHeaders) {
    const value = name === "host" ? hostOf(request, url) : name === "accept-encoding" ? acceptEncoding : request.headers.get(name);
    if (value !== null) headers.set(name, [value]);
  }
  return canonicalRequest({
    method: request.method,
    rawPath: rawPathOf(request.url),
    rawQuery: url.search.slice(1),
    headers,
    signedHeaders: claim.signedHeaders,
    payloadHash: claim.payloadHash,
    excludeQuery: claim.kind === "presigned" ? "X-Amz-Signature" : undefined,
  });
}

/**
 * The Accept-Encoding values the client may have signed. The runtime rewrites that header before the Worker
 * sees it (workerd turns "gzip" into "br, gzip"), so a client that signs it (rclone and other AWS SDK for Go
 * clients send and sign "gzip" on every GET) would never verify. It only chooses the response's encoding, so
 * trying the value received, that value without the tokens the runtime adds, and the values clients send
 * gives nothing away.
 */
function acceptEncodingCandidates(claim: SignatureClaim, request: Request): (string | null)[] {
  const received = request.headers.get("accept-encoding");
  if (!claim.signedHeaders.includes("accept-encoding")) return [received];
  const tokens = (received ?? "").split(",").map((token) => token.trim()).filter(Boolean);
  const withoutAdded = tokens.filter((token) => !RUNTIME_ADDED_ENCODINGS.has(token.split(";")[0].toLowerCase())).join(", ");
  return [...new Set([received, withoutAdded, ...CLIENT_ACCEPT_ENCODINGS])];
}

const RUNTIME_ADDED_ENCODINGS = new Set(["br", "zstd"]);
const CLIENT_ACCEPT_ENCODINGS = ["gzip", "identity", "gzip, deflate", "gzip, deflate, br"];

function authorize(config: AuthConfig, principal: Principal, access: RequestAccess): void {
  if (access.bucket === undefined) {
    // ListBuckets: any valid key may list (the handler filters with mayAccess); anonymous callers may not.
    if ("anonymous" in principal) throw new S3Error("AccessDenied", "Access Denied");
    return;
  }
  if (!mayAccess(config, principal, access.bucket, access.write)) throw new S3Error("AccessDenied", "Access Denied");
}

// ---- body ----

async function verifyBody(
  request: Request,
  url: URL,
  claim: SignatureClaim | null,
  signing: { key: CryptoKey; scope: string; signature: string } | undefined,
): Promise<VerifiedRequest> {
  const checks = bodyChecks(request, url, claim, signing);
  const verifier = new BodyVerifier(checks);
  let failure: S3Error | undefined;
  const contentLength = numberHeader(request, "content-length");
  const bodyLength = checks.decodedLength ?? contentLength;
  const base = {
    principal: claim ? { accessKeyId: claim.accessKeyId } : ({ anonymous: true } as const),
    bodyLength,
    checksums: verifier.checksums,
    trailerChecksum: checks.trailerChecksum,
    bodyError: () => failure,
  };
  if (!request.body || (bodyLength === 0 && !checks.chunked)) {
    // No body: the digests the client committed to must be those of zero bytes.
    if (needsVerification(checks)) await verifier.end();
    return { ...base, body: null, bodyLength: bodyLength ?? (request.body ? null : 0) };
  }
  if (!needsVerification(checks)) return { ...base, body: request.body };
  return { ...base, body: verifiedStream(request.body, verifier, (error) => { failure = error; }) };
}

function bodyChecks(
  request: Request,
  url: URL,
  claim: SignatureClaim | null,
  signing: { key: CryptoKey; scope: string; signature: string } | undefined,
): BodyChecks {
  const checks: BodyChecks = { checksums: headerChecksums(request) };
  const md5 = request.headers.get("content-md5");
  if (md5 !== null) {
    const bytes = strictBase64ToBytes(md5.trim());
    if (!bytes || bytes.length !== 16) throw new S3Error("InvalidDigest", "The Content-MD5 you specified was invalid.");
    checks.contentMd5 = md5.trim();
  }
  const payloadHash = claim?.payloadHash ?? request.headers.get("x-amz-content-sha256") ?? UNSIGNED;
  if (/^[0-9a-fA-F]{64}$/.test(payloadHash)) {
    // Anonymous requests' hashes are not signed, but a client that sends one still means it.
    checks.sha256Hex = payloadHash.toLowerCase();
    return checks;
  }
  if (payloadHash === UNSIGNED) return checks;
  const streaming = [STREAMING_SIGNED, STREAMING_SIGNED_TRAILER, STREAMING_UNSIGNED_TRAILER].includes(payloadHash);
  if (!streaming) {
    throw new S3Error("InvalidArgument", "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-… or a valid sha256 value.", {
      ArgumentName: "x-amz-content-sha256",
      ArgumentValue: payloadHash,
    });
  }
  const signedChunks = payloadHash !== STREAMING_UNSIGNED_TRAILER;
  if (signedChunks && (!claim || claim.kind !== "header" || !signing)) {
    throw new S3Error("InvalidRequest", `${payloadHash} requires an Authorization header signature.`);
  }
  const decodedLength = numberHeader(request, "x-amz-decoded-content-length");
  if (decodedLength === null) {
    throw new S3Error("MissingContentLength", "You must provide the x-amz-decoded-content-length HTTP header for an aws-chunked upload.");
  }
  const trailerChecksum = announcedTrailer(request);
  if (payloadHash === STREAMING_SIGNED && trailerChecksum) {
    throw new S3Error("InvalidRequest", "x-amz-trailer requires a *-TRAILER x-amz-content-sha256 value.");
  }
  checks.decodedLength = decodedLength;
  checks.trailerChecksum = trailerChecksum;
  checks.chunked = {
    expectTrailer: trailerChecksum !== undefined,
    signing: signedChunks
      ? { key: signing!.key, amzDate: claim!.amzDate, scope: signing!.scope, seedSignature: signing!.signature }
      : undefined,
  };
  return checks;
}

/**
 * x-amz-checksum-<algorithm> request headers, at most one. Query parameters of that name are ignored, as S3
 * does ("presigned URLs don't support using the data-integrity checksum algorithms"): the JS SDK presigns
 * PutObject with the CRC32 of an empty body (AAAAAA==) in the query, which real uploads could never match.
 */
function headerChecksums(request: Request): Partial<Record<ChecksumAlgorithm, string>> {
  const found: Partial<Record<ChecksumAlgorithm, string>> = {};
  for (const algorithm of CHECKSUM_ALGORITHMS) {
    const name = checksumHeaderName(algorithm);
    const value = request.headers.get(name);
    if (value === null) continue;
    const bytes = strictBase64ToBytes(value.trim());
    if (!bytes || bytes.length !== CHECKSUM_BYTES[algorithm]) {
      throw new S3Error("InvalidRequest", `Value for ${name} header is invalid.`);
    }
    found[algorithm] = value.trim();
  }
  if (Object.keys(found).length > 1) {
    throw new S3Error("InvalidRequest", "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.");
  }
  return found;
}

function announcedTrailer(request: Request): ChecksumAlgorithm | undefined {
  const trailer = request.headers.get("x-amz-trailer");
  if (trailer === null || trailer.trim() === "") return undefined;
  const names = trailer.split(",").map((n) => n.trim()).filter(Boolean);
  const algorithms = names.map(algorithmOfHeader);
  if (names.length !== 1 || !algorithms[0]) {
    throw new S3Error("InvalidRequest", "The value specified in the x-amz-trailer header is not supported");
  }
  return algorithms[0];
}

// ---- helpers ----

/** The Host as the client signed it; URL parsing drops default ports, so prefer the header. */
function hostOf(request: Request, url: URL): string {
  return request.headers.get("host") ?? url.host;
}

function numberHeader(request: Request, name: string): number | null {
  const value = request.headers.get(name);
  if (value === null) return null;
  if (!/^\d+$/.test(value.trim())) throw new S3Error("InvalidArgument", `${name} must be a non-negative integer.`, { ArgumentName: name });
  return Number(value.trim());
}

function parseAmzDate(text: string): Date | null {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(text);
  if (!m) return null;
  const date = new Date(Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]));
  return Number.isNaN(date.getTime()) ? null : date;
}

function toAmzDate(date: Date): string {
  return date.toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");
}

function toIsoSeconds(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, "Z");
}

function hexBytes(text: string): string {
  return bytesToHex(new TextEncoder().encode(text), " ");
}

function headerMalformed(message: string): S3Error {
  return new S3Error("AuthorizationHeaderMalformed", message);
}

function queryError(message: string): S3Error {
  return new S3Error("AuthorizationQueryParametersError", message);
}

export { EMPTY_SHA256 };
