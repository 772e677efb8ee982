// Incremental hashers for everything an upload can be checked against: S3's flexible checksums (CRC32, CRC32C,
// CRC64NVME, SHA-1, SHA-256), Content-MD5 and the hex x-amz-content-sha256. MD5/SHA use the runtime's native
// crypto.DigestStream; the CRCs use AWS's own pure-JS implementations.
import { Crc32 } from "@aws-crypto/crc32";
import { Crc32c } from "@aws-crypto/crc32c";
import { Crc64Nvme } from "@aws-sdk/crc64-nvme";
import type { ChecksumAlgorithm } from "../../engine/api";

export const CHECKSUM_ALGORITHMS: readonly ChecksumAlgorithm[] = ["crc32", "crc32c", "crc64nvme", "sha1", "sha256"];

/** Digest size in bytes, to refuse a malformed checksum value before reading the body. */
export const CHECKSUM_BYTES: Record<ChecksumAlgorithm, number> = { crc32: 4, crc32c: 4, crc64nvme: 8, sha1: 20, sha256: 32 };

export interface Hasher {
  update(chunk: Uint8Array): Promise<void>;
  digest(): Promise<Uint8Array>;
}

export function checksumHeaderName(algorithm: ChecksumAlgorithm): string {
  return `x-amz-checksum-${algorithm}`;
}

/** "x-amz-checksum-crc32" → "crc32"; undefined for anything else. */
export function algorithmOfHeader(name: string): ChecksumAlgorithm | undefined {
  const lower = name.trim().toLowerCase();
  return CHECKSUM_ALGORITHMS.find((a) => checksumHeaderName(a) === lower);
}

export function checksumHasher(algorithm: ChecksumAlgorithm): Hasher {
  switch (algorithm) {
    case "crc32": return crcHasher(new Crc32(), 4);
    case "crc32c": return crcHasher(new Crc32c(), 4);
    case "crc64nvme": return crc64Hasher();
    case "sha1": return digestHasher("SHA-1");
    case "sha256": return digestHasher("SHA-256");
  }
}

/** Streams bytes into crypto.DigestStream (MD5, SHA-1, SHA-256) without holding them. */
export function digestHasher(name: "MD5" | "SHA-1" | "SHA-256"): Hasher {
  const stream = new crypto.DigestStream(name);
  const writer = stream.getWriter();
  return {
    update: (chunk) => writer.write(chunk),
    async digest() {
      await writer.close();
      return new Uint8Array(await stream.digest);
    },
  };
}

function crcHasher(crc: { update(data: Uint8Array): unknown; digest(): number }, bytes: 4): Hasher {
  return {
    async update(chunk) {
      crc.update(chunk);
    },
    async digest() {
      const out = new Uint8Array(bytes);
      new DataView(out.buffer).setUint32(0, crc.digest() >>> 0, false);
      return out;
    },
  };
}

function crc64Hasher(): Hasher {
  const crc = new Crc64Nvme();
  return {
    async update(chunk) {
      crc.update(chunk);
    },
    digest: () => crc.digest(),
  };
}

