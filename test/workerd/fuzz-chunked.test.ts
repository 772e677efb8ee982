// Fuzzing the aws-chunked decoder: valid encodings of random bodies (random chunk sizes, hex spellings,
// extensions, delivery in random slices) decode to exactly the body; mutated or truncated encodings give an
// S3Error or exactly the body -- never other bytes accepted silently -- where something commits to the bytes
// (chunk signatures, or a trailer checksum with x-amz-decoded-content-length); arbitrary input never throws
// anything but an S3Error, and the decoder never holds more than its line/trailer limits (its output is views
// of its input, so a declared chunk size never allocates).
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { S3Error } from "../../src/errors";
import { AwsChunkedDecoder, type ChunkSigning } from "../../src/s3/auth/chunked";
import { BodyVerifier } from "../../src/s3/auth/body";
import { EMPTY_SHA256, hmacHex, sha256Hex, signingKey } from "../../src/s3/auth/sigv4";
import { checksumOf, concat } from "./helpers/auth";
import { fuzzRuns, outcomeOf } from "./helpers/fuzz";

const enc = new TextEncoder();
const AMZ_DATE = "20261127T120000Z";
const SCOPE = "20261127/us-east-1/s3/aws4_request";
const SEED = "a".repeat(64);
const KEY = await signingKey("fuzz-secret", "20261127", "us-east-1", "s3");
const SIGNING: ChunkSigning = { key: KEY, amzDate: AMZ_DATE, scope: SCOPE, seedSignature: SEED };

// ---- the test's own encoder ----

interface Spelling {
  /** Chunk sizes in upper-case hex, with leading zeros, and/or with an extension the decoder must ignore. */
  upper: boolean;
  zeros: number;
  extension: boolean;
}

interface Encoding {
  body: Uint8Array;
  /** Lengths of the data chunks; they sum to body.length (zero-length chunks only as the final one). */
  sizes: number[];
  spelling: Spelling;
  signed: boolean;
  /** Trailing headers (name → value), e.g. x-amz-checksum-crc32. */
  trailer?: Record<string, string>;
}

async function encode(e: Encoding): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let previous = SEED;
  let offset = 0;
  for (const size of [...e.sizes, 0]) {
    const data = e.body.subarray(offset, offset + size);
    offset += size;
    let hex = "0".repeat(e.spelling.zeros) + size.toString(16);
    if (e.spelling.upper) hex = hex.toUpperCase();
    let header = hex + (e.spelling.extension && !e.signed ? ";ext=1" : "");
    if (e.signed) {
      previous = await hmacHex(KEY, ["AWS4-HMAC-SHA256-PAYLOAD", AMZ_DATE, SCOPE, previous, EMPTY_SHA256, await sha256Hex(data)].join("\n"));
      header += `;chunk-signature=${previous}`;
    }
    parts.push(enc.encode(`${header}\r\n`));
    if (size) parts.push(data, enc.encode("\r\n"));
  }
  if (e.trailer) {
    const lines = Object.entries(e.trailer);
    parts.push(enc.encode(lines.map(([n, v]) => `${n}:${v}\r\n`).join("")));
    if (e.signed) {
      const canonical = lines.map(([n, v]) => `${n}:${v}\n`).join("");
      const toSign = ["AWS4-HMAC-SHA256-TRAILER", AMZ_DATE, SCOPE, previous, await sha256Hex(canonical)].join("\n");
      parts.push(enc.encode(`x-amz-trailer-signature:${await hmacHex(KEY, toSign)}\r\n`));
    }
  }
  parts.push(enc.encode("\r\n"));
  return concat(parts);
}

/** Splits `bytes` at the given cut points (as a network delivers a body in arbitrary reads). */
function slices(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => (bytes.length ? c % bytes.length : 0)))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let at = 0;
  for (const point of [...points, bytes.length]) {
    if (point > at) out.push(bytes.subarray(at, point));
    at = Math.max(at, point);
  }
  return out;
}

/** Feeds the slices to a fresh decoder and ends it: the decoded bytes, or the S3Error. */
async function decodeAll(input: Uint8Array[], signing: ChunkSigning | undefined, expectTrailer: boolean) {
  const decoder = new AwsChunkedDecoder({ signing, expectTrailer });
  return outcomeOf(async () => {
    const pieces: Uint8Array[] = [];
    let fed = 0;
    for (const slice of input) {
      fed += slice.length;
      pieces.push(...await decoder.write(slice));
      // Bounded memory: what comes out is never more than what went in (views, no size-driven buffers).
      expect(pieces.reduce((n, p) => n + p.length, 0)).toBeLessThanOrEqual(fed);
    }
    await decoder.end();
    return { bytes: concat(pieces), trailers: decoder.trailers };
  });
}

/** The same, through the body verifier with x-amz-decoded-content-length and a CRC32 trailer checksum. */
async function verifyAll(input: Uint8Array[], decodedLength: number) {
  const verifier = new BodyVerifier({ chunked: { expectTrailer: true }, decodedLength, checksums: {}, trailerChecksum: "crc32" });
  return outcomeOf(async () => {
    const pieces: Uint8Array[] = [];
    for (const slice of input) pieces.push(...await verifier.write(slice));
    await verifier.end();
    return concat(pieces);
  });
}

// ---- generators ----

const spelling: fc.Arbitrary<Spelling> = fc.record({ upper: fc.boolean(), zeros: fc.nat({ max: 3 }), extension: fc.boolean() });

/** A body and a division of it into chunks of random sizes. */
const chunkedBody = fc.oneof(fc.uint8Array({ maxLength: 3000 }), fc.uint8Array({ maxLength: 3000, size: "large" })).chain((body) =>
  fc.array(fc.oneof(fc.integer({ min: 1, max: 16 }), fc.integer({ min: 1, max: 1024 })), { maxLength: 12, size: "medium" }).map((raw) => {
    const sizes: number[] = [];
    let left = body.length;
    for (const size of raw) {
      if (left === 0) break;
      sizes.push(Math.min(size, left));
      left -= sizes[sizes.length - 1];
    }
    if (left > 0) sizes.push(left);
    return { body, sizes };
  }));

const cuts = fc.array(fc.nat(), { maxLength: 6 });

type Mutation = { kind: "flip"; at: number; bit: number } | { kind: "truncate"; at: number } | { kind: "insert"; at: number; byte: number }
  | { kind: "delete"; at: number } | { kind: "splice"; at: number; from: number; length: number };
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant("flip" as const), at: fc.nat(), bit: fc.nat({ max: 7 }) }),
  fc.record({ kind: fc.constant("truncate" as const), at: fc.nat() }),
  fc.record({ kind: fc.constant("insert" as const), at: fc.nat(), byte: fc.constantFrom(0x0d, 0x0a, 0x30, 0x3b, 0x61, 0x00, 0xff) }),
  fc.record({ kind: fc.constant("delete" as const), at: fc.nat() }),
  fc.record({ kind: fc.constant("splice" as const), at: fc.nat(), from: fc.nat(), length: fc.integer({ min: 1, max: 80 }) }),
);

function mutate(bytes: Uint8Array, m: Mutation): Uint8Array {
  const at = bytes.length ? m.at % bytes.length : 0;
  switch (m.kind) {
    case "flip": {
      const out = bytes.slice();
      if (out.length) out[at] ^= 1 << m.bit;
      return out;
    }
    case "truncate": return bytes.slice(0, at);
    case "insert": return concat([bytes.subarray(0, at), new Uint8Array([m.byte]), bytes.subarray(at)]);
    case "delete": return concat([bytes.subarray(0, at), bytes.subarray(at + 1)]);
    default: {
      // A slice of the encoding copied over another place (a duplicated or misplaced chunk frame).
      const from = bytes.length ? m.from % bytes.length : 0;
      return concat([bytes.subarray(0, at), bytes.subarray(from, from + m.length), bytes.subarray(at)]);
    }
  }
}

function same(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

// ---- properties ----

describe("aws-chunked decoding under fuzzing", () => {
  it("unsigned encodings of random bodies decode to exactly the body, however the bytes arrive", async () => {
    await fc.assert(fc.asyncProperty(chunkedBody, spelling, cuts, async ({ body, sizes }, s, c) => {
      const encoded = await encode({ body, sizes, spelling: s, signed: false });
      const outcome = await decodeAll(slices(encoded, c), undefined, false);
      expect(outcome.ok && same(outcome.value.bytes, body)).toBe(true);
    }), { numRuns: fuzzRuns(300) });
  });

  it("signed encodings (chunk signatures and a signed trailer) decode to exactly the body", async () => {
    await fc.assert(fc.asyncProperty(chunkedBody, spelling, cuts, fc.boolean(), async ({ body, sizes }, s, c, withTrailer) => {
      const trailer = withTrailer ? { "x-amz-checksum-crc32": await checksumOf("crc32", body) } : undefined;
      const encoded = await encode({ body, sizes, spelling: s, signed: true, trailer });
      const outcome = await decodeAll(slices(encoded, c), { ...SIGNING }, withTrailer);
      expect(outcome.ok && same(outcome.value.bytes, body)).toBe(true);
      if (outcome.ok && trailer) expect(outcome.value.trailers.get("x-amz-checksum-crc32")).toBe(trailer["x-amz-checksum-crc32"]);
    }), { numRuns: fuzzRuns(150) });
  });

  it("a mutated or truncated signed encoding gives an S3Error or exactly the body", async () => {
    await fc.assert(fc.asyncProperty(chunkedBody, fc.array(mutation, { minLength: 1, maxLength: 3 }), cuts, async ({ body, sizes }, ms, c) => {
      const encoded = await encode({ body, sizes, spelling: { upper: false, zeros: 0, extension: false }, signed: true });
      const bad = ms.reduce(mutate, encoded);
      const outcome = await decodeAll(slices(bad, c), { ...SIGNING }, false);
      if (outcome.ok) expect(same(outcome.value.bytes, body)).toBe(true);
    }), { numRuns: fuzzRuns(300) });
  });

  it("a mutated or truncated unsigned encoding with a CRC32 trailer and decoded length gives an S3Error or exactly the body", async () => {
    await fc.assert(fc.asyncProperty(chunkedBody, spelling, fc.array(mutation, { minLength: 1, maxLength: 3 }), cuts, async ({ body, sizes }, s, ms, c) => {
      const trailer = { "x-amz-checksum-crc32": await checksumOf("crc32", body) };
      const encoded = await encode({ body, sizes, spelling: s, signed: false, trailer });
      const outcome = await verifyAll(slices(ms.reduce(mutate, encoded), c), body.length);
      if (outcome.ok) expect(same(outcome.value, body)).toBe(true);
    }), { numRuns: fuzzRuns(300) });
  });

  it("arbitrary bytes and chunk-header-like lines give an S3Error or output no longer than the input", async () => {
    const line = fc.oneof(
      fc.constantFrom("0", "5", "ffffffffffffffff", "fffffffffffff", "10000000000000000", "-1", "0x5", " 5 ", "5;chunk-signature=", "", "g"),
      fc.string({ unit: "grapheme-ascii", maxLength: 30 }),
    ).map((text) => enc.encode(`${text}\r\n`));
    const noise = fc.oneof(line, fc.uint8Array({ maxLength: 64 }), fc.constant(enc.encode("\r\n")));
    await fc.assert(fc.asyncProperty(fc.array(noise, { maxLength: 10 }), cuts, fc.boolean(), fc.boolean(), async (parts, c, signed, expectTrailer) => {
      await decodeAll(slices(concat(parts), c), signed ? { ...SIGNING } : undefined, expectTrailer);
    }), { numRuns: fuzzRuns(500) });
  });
});

describe("aws-chunked limits", () => {
  async function refusal(input: Uint8Array[], signing?: ChunkSigning): Promise<S3Error> {
    const outcome = await decodeAll(input, signing, false);
    if (outcome.ok) throw new Error("expected an S3Error");
    return outcome.error;
  }

  it("a chunk header line without an end is refused once it passes 4 KiB, without reading the rest", async () => {
    const error = await refusal([enc.encode("5".repeat(4096)), enc.encode("5".repeat(1 << 20))]);
    expect(error.message).toMatch(/header line is too long/);
  });

  it("trailing headers past 16 KiB are refused", async () => {
    const error = await refusal([enc.encode("0\r\n"), enc.encode(`x-amz-meta-a:${"v".repeat(20_000)}\r\n`)]);
    expect(error.message).toMatch(/trailing headers are too long/);
  });

  it("a chunk size beyond 2^53 is refused; a huge declared size with a short body ends as IncompleteBody", async () => {
    expect((await refusal([enc.encode("ffffffffffffffff\r\nabc")])).message).toMatch(/too large/);
    expect((await refusal([enc.encode("fffffffffffff\r\nabc")])).code).toBe("IncompleteBody");
  });
});
