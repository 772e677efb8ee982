// Decoder for S3's aws-chunked body framing:
//   <hex size>[;chunk-signature=<sig>]\r\n <data> \r\n ... 0[;chunk-signature=<sig>]\r\n [trailers] \r\n
// With signed chunks every chunk signature is checked, each chained from the previous one (the first from the
// seed signature of the Authorization header). Trailers (x-amz-checksum-*: value, x-amz-trailer-signature) are
// parsed at the end; their signature, when the mode has one, chains from the final chunk's signature.
import { S3Error } from "../../errors";
import { bytesToHex } from "../../encoding";
import { EMPTY_SHA256, constantTimeEqual, hmacHex, sha256Hex } from "./sigv4";
import { digestHasher, type Hasher } from "./checksums";

export interface ChunkSigning {
  key: CryptoKey;
  amzDate: string;
  scope: string;
  seedSignature: string;
}

export interface ChunkedOptions {
  /** Present for STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]: chunks (and trailers) carry signatures. */
  signing?: ChunkSigning;
  /** True when x-amz-trailer announced trailing headers. */
  expectTrailer: boolean;
}

const MAX_HEADER_LINE = 4096;
const MAX_TRAILER_BYTES = 16 * 1024;
const CRLF = "\r\n";
const ascii = new TextDecoder("latin1");

type State = "header" | "data" | "data-end" | "trailer";

export class AwsChunkedDecoder {
  private state: State = "header";
  private line = "";
  private remaining = 0;
  private crlfSeen = "";
  private chunkSignature = "";
  private chunkHash: Hasher | null = null;
  private previousSignature: string;
  private trailerText = "";
  /** Trailing headers, lowercase name → value, once end() has verified them. */
  trailers = new Map<string, string>();

  constructor(private readonly options: ChunkedOptions) {
    this.previousSignature = options.signing?.seedSignature ?? "";
  }

  /** Feed raw body bytes; returns the decoded data pieces they contained (views into `input`). */
  async write(input: Uint8Array): Promise<Uint8Array[]> {
    const pieces: Uint8Array[] = [];
    let offset = 0;
    while (offset < input.length) {
      switch (this.state) {
        case "header":
          offset = await this.readHeader(input, offset);
          break;
        case "data": {
          const take = Math.min(this.remaining, input.length - offset);
          const piece = input.subarray(offset, offset + take);
          if (this.chunkHash) await this.chunkHash.update(piece);
          pieces.push(piece);
          this.remaining -= take;
          offset += take;
          if (this.remaining === 0) this.state = "data-end";
          break;
        }
        case "data-end":
          offset = await this.readDataEnd(input, offset);
          break;
        case "trailer":
          this.trailerText += ascii.decode(input.subarray(offset));
          if (this.trailerText.length > MAX_TRAILER_BYTES) throw malformed("the trailing headers are too long");
          offset = input.length;
          break;
      }
    }
    return pieces;
  }

  /** The body has ended: it must have ended after the final chunk; verify the trailers. */
  async end(): Promise<void> {
    if (this.state !== "trailer") {
      throw new S3Error("IncompleteBody", "The request body ended before the final aws-chunked chunk.");
    }
    const lines = this.trailerText.split(CRLF).filter((l) => l.trim() !== "");
    if (lines.length > 0 && !this.options.expectTrailer) throw malformed("trailing headers were sent without x-amz-trailer");
    let signature: string | undefined;
    const canonical: string[] = [];
    for (const line of lines) {
      const colon = line.indexOf(":");
      if (colon <= 0) throw malformed("a trailing header line has no name");
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      if (name === "x-amz-trailer-signature") {
        signature = value;
        continue;
      }
      this.trailers.set(name, value);
      canonical.push(`${name}:${value}\n`);
    }
    if (this.options.signing && this.options.expectTrailer) await this.verifyTrailerSignature(canonical.join(""), signature);
  }

  private async readHeader(input: Uint8Array, offset: number): Promise<number> {
    const end = indexOfLf(input, offset);
    const stop = end < 0 ? input.length : end + 1;
    this.line += ascii.decode(input.subarray(offset, stop));
    if (this.line.length > MAX_HEADER_LINE) throw malformed("a chunk header line is too long");
    if (end < 0) return stop;
    const header = this.line.endsWith(CRLF) ? this.line.slice(0, -2) : null;
    this.line = "";
    if (header === null) throw malformed("a chunk header does not end with CRLF");
    await this.startChunk(header);
    return stop;
  }

  private async startChunk(header: string): Promise<void> {
    const [sizeText, ...extensions] = header.split(";");
    if (!/^[0-9a-fA-F]{1,16}$/.test(sizeText.trim())) throw malformed("a chunk size is not hexadecimal");
    const size = parseInt(sizeText.trim(), 16);
    if (!Number.isSafeInteger(size)) throw malformed("a chunk size is too large");
    this.chunkSignature = extensions.map((e) => e.trim()).find((e) => e.startsWith("chunk-signature="))?.slice(16) ?? "";
    if (this.options.signing && !/^[0-9a-f]{64}$/.test(this.chunkSignature)) {
      throw malformed("a chunk has no chunk-signature");
    }
    if (size === 0) {
      if (this.options.signing) await this.verifyChunkSignature(EMPTY_SHA256);
      this.state = "trailer";
      return;
    }
    this.remaining = size;
    this.chunkHash = this.options.signing ? digestHasher("SHA-256") : null;
    this.state = "data";
  }

  private async readDataEnd(input: Uint8Array, offset: number): Promise<number> {
    while (this.crlfSeen.length < 2 && offset < input.length) this.crlfSeen += String.fromCharCode(input[offset++]);
    if (this.crlfSeen.length < 2) return offset;
    if (this.crlfSeen !== CRLF) throw malformed("a chunk is longer than its declared size");
    this.crlfSeen = "";
    if (this.chunkHash) {
      const hash = bytesToHex(await this.chunkHash.digest());
      this.chunkHash = null;
      await this.verifyChunkSignature(hash);
    }
    this.state = "header";
    return offset;
  }

  private async verifyChunkSignature(chunkSha256: string): Promise<void> {
    const signing = this.options.signing!;
    const toSign = ["AWS4-HMAC-SHA256-PAYLOAD", signing.amzDate, signing.scope, this.previousSignature, EMPTY_SHA256, chunkSha256].join("\n");
    const expected = await hmacHex(signing.key, toSign);
    if (!constantTimeEqual(expected, this.chunkSignature)) {
      throw new S3Error("SignatureDoesNotMatch", "The chunk signature we calculated does not match the chunk-signature you provided.", {
        StringToSign: toSign,
        SignatureProvided: this.chunkSignature,
      });
    }
    this.previousSignature = this.chunkSignature;
  }

  private async verifyTrailerSignature(canonicalTrailers: string, provided: string | undefined): Promise<void> {
    if (!provided) throw malformed("the signed trailer has no x-amz-trailer-signature");
    const signing = this.options.signing!;
    const toSign = ["AWS4-HMAC-SHA256-TRAILER", signing.amzDate, signing.scope, this.previousSignature, await sha256Hex(canonicalTrailers)].join("\n");
    const expected = await hmacHex(signing.key, toSign);
    if (!constantTimeEqual(expected, provided)) {
      throw new S3Error("SignatureDoesNotMatch", "The trailer signature we calculated does not match the x-amz-trailer-signature you provided.", {
        StringToSign: toSign,
        SignatureProvided: provided,
      });
    }
  }
}

function indexOfLf(bytes: Uint8Array, from: number): number {
  return bytes.indexOf(0x0a, from);
}

function malformed(why: string): S3Error {
  return new S3Error("InvalidRequest", `Malformed aws-chunked body: ${why}.`);
}
