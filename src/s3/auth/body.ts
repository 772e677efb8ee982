// The verified request body: decodes aws-chunked framing when present and checks every digest the client
// committed to (hex x-amz-content-sha256, chunk/trailer signatures, Content-MD5, flexible checksums) while the
// bytes stream through. The last decoded piece is held back until every check has passed, so a consumer never
// receives the complete body of a request that fails: a storage write of this stream errors and stores nothing.
import { bytesToBase64, bytesToHex } from "../../encoding";
import type { ChecksumAlgorithm } from "../../engine/api";
import { S3Error } from "../../errors";
import { AwsChunkedDecoder, type ChunkedOptions } from "./chunked";
import { checksumHasher, checksumHeaderName, digestHasher, type Hasher } from "./checksums";

export interface BodyChecks {
  /** aws-chunked framing to strip (and chunk signatures to verify); absent for a plain body. */
  chunked?: ChunkedOptions;
  /** Decoded length the body must have (x-amz-decoded-content-length for aws-chunked). */
  decodedLength?: number;
  /** Hex SHA-256 the body must hash to (signed single-chunk payload). */
  sha256Hex?: string;
  /** Content-MD5, base64. */
  contentMd5?: string;
  /** Flexible checksums sent as headers (base64). */
  checksums: Partial<Record<ChecksumAlgorithm, string>>;
  /** The checksum whose value arrives in the aws-chunked trailer. */
  trailerChecksum?: ChecksumAlgorithm;
}

export function needsVerification(checks: BodyChecks): boolean {
  return Boolean(
    checks.chunked || checks.sha256Hex || checks.contentMd5 || checks.trailerChecksum || Object.keys(checks.checksums).length,
  );
}

export class BodyVerifier {
  private readonly decoder?: AwsChunkedDecoder;
  private readonly hashers: Array<{ label: string; hasher: Hasher; check: (digest: Uint8Array) => S3Error | null }> = [];
  private decodedBytes = 0;
  /** Checksums verified so far (header values at once, the trailer value once the body has ended). */
  readonly checksums: Partial<Record<ChecksumAlgorithm, string>>;

  constructor(private readonly checks: BodyChecks) {
    this.checksums = { ...checks.checksums };
    if (checks.chunked) this.decoder = new AwsChunkedDecoder(checks.chunked);
    if (checks.sha256Hex) this.addSha256Check(checks.sha256Hex);
    if (checks.contentMd5) this.addMd5Check(checks.contentMd5);
    for (const [algorithm, expected] of Object.entries(checks.checksums) as Array<[ChecksumAlgorithm, string]>) {
      this.addChecksum(algorithm, () => expected);
    }
    const trailer = checks.trailerChecksum;
    if (trailer && checks.checksums[trailer] === undefined) {
      this.addChecksum(trailer, () => this.trailerValue(trailer));
    }
  }

  /** Feed raw request bytes; returns decoded body pieces, already hashed. */
  async write(raw: Uint8Array): Promise<Uint8Array[]> {
    const pieces = this.decoder ? await this.decoder.write(raw) : [raw];
    for (const piece of pieces) {
      this.decodedBytes += piece.length;
      if (this.checks.decodedLength !== undefined && this.decodedBytes > this.checks.decodedLength) {
        throw new S3Error("InvalidRequest", "The decoded body is longer than x-amz-decoded-content-length.");
      }
      for (const { hasher } of this.hashers) await hasher.update(piece);
    }
    return pieces;
  }

  /** The raw body has ended: run every check; throws the first failure as an S3Error. */
  async end(): Promise<void> {
    if (this.decoder) await this.decoder.end();
    if (this.checks.decodedLength !== undefined && this.decodedBytes !== this.checks.decodedLength) {
      throw new S3Error("IncompleteBody", "You did not provide the number of bytes specified by the x-amz-decoded-content-length HTTP header.");
    }
    for (const { hasher, check } of this.hashers) {
      const failure = check(await hasher.digest());
      if (failure) throw failure;
    }
    const trailer = this.checks.trailerChecksum;
    if (trailer && this.checksums[trailer] === undefined) this.checksums[trailer] = this.trailerValue(trailer);
  }

  private trailerValue(algorithm: ChecksumAlgorithm): string {
    const value = this.decoder?.trailers.get(checksumHeaderName(algorithm));
    if (value === undefined) {
      throw new S3Error("InvalidRequest", `The ${checksumHeaderName(algorithm)} trailer announced in x-amz-trailer was not sent.`);
    }
    return value;
  }

  private addSha256Check(expectedHex: string) {
    this.hashers.push({
      label: "sha256-hex",
      hasher: digestHasher("SHA-256"),
      check: (digest) => {
        const computed = bytesToHex(digest);
        return computed === expectedHex.toLowerCase() ? null : new S3Error(
          "XAmzContentSHA256Mismatch",
          "The provided 'x-amz-content-sha256' header does not match what was computed.",
          { ClientComputedContentSHA256: expectedHex, S3ComputedContentSHA256: computed },
        );
      },
    });
  }

  private addMd5Check(expectedBase64: string) {
    this.hashers.push({
      label: "md5",
      hasher: digestHasher("MD5"),
      check: (digest) => bytesToBase64(digest) === expectedBase64 ? null : new S3Error(
        "BadDigest",
        "The Content-MD5 you specified did not match what we received.",
        { ExpectedDigest: expectedBase64, CalculatedDigest: bytesToBase64(digest) },
      ),
    });
  }

  private addChecksum(algorithm: ChecksumAlgorithm, expected: () => string) {
    this.hashers.push({
      label: algorithm,
      hasher: checksumHasher(algorithm),
      check: (digest) => {
        const computed = bytesToBase64(digest);
        return computed === expected() ? null : new S3Error(
          "BadDigest",
          `The ${algorithm.toUpperCase()} you specified did not match the calculated checksum.`,
        );
      },
    });
  }
}

/**
 * Pipe the raw body through the verifier. The most recent decoded piece is always held back and released only
 * when the next one arrives or after every end-of-body check has passed.
 */
export function verifiedStream(
  raw: ReadableStream<Uint8Array>,
  verifier: BodyVerifier,
  onFailure: (error: S3Error) => void,
): ReadableStream<Uint8Array> {
  let held: Uint8Array | null = null;
  const fail = (error: unknown): never => {
    const s3Error = error instanceof S3Error ? error : new S3Error("IncompleteBody", "The request body could not be read to its end.");
    onFailure(s3Error);
    throw s3Error;
  };
  return raw.pipeThrough(new TransformStream<Uint8Array, Uint8Array>({
    async transform(chunk, controller) {
      try {
        for (const piece of await verifier.write(chunk)) {
          if (piece.length === 0) continue;
          if (held) controller.enqueue(held);
          held = piece;
        }
      } catch (error) {
        fail(error);
      }
    },
    async flush(controller) {
      try {
        await verifier.end();
      } catch (error) {
        fail(error);
      }
      if (held) controller.enqueue(held);
      held = null;
    },
  }));
}
