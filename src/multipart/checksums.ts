// The object-level checksum S3 reports for a multipart upload created with x-amz-checksum-algorithm:
// COMPOSITE type, i.e. the algorithm applied to the concatenated binary part checksums, base64, then "-<n>".
// Only computed when every listed part carries that checksum (the protocol layer verified each one).
import { crc32 } from "@aws-crypto/crc32";
import { crc32c } from "@aws-crypto/crc32c";
import type { ChecksumAlgorithm } from "../engine/api";
import { base64ToBytes, bytesToBase64 } from "../encoding";
import type { PartChecksums, StagedPart } from "./parts";

export async function compositeChecksum(
  algorithm: ChecksumAlgorithm | undefined, parts: readonly StagedPart[],
): Promise<PartChecksums> {
  const combine = algorithm ? COMBINERS[algorithm] : undefined;
  if (!algorithm || !combine || parts.length === 0) return {};
  const decoded: Uint8Array[] = [];
  for (const part of parts) {
    const value = part.checksums[algorithm];
    if (!value) return {};
    decoded.push(base64ToBytes(value));
  }
  const joined = new Uint8Array(decoded.reduce((n, d) => n + d.byteLength, 0));
  let offset = 0;
  for (const bytes of decoded) {
    joined.set(bytes, offset);
    offset += bytes.byteLength;
  }
  return { [algorithm]: `${bytesToBase64(await combine(joined))}-${parts.length}` };
}

type Combiner = (data: Uint8Array) => Promise<Uint8Array>;

// CRC64NVME has no COMPOSITE form in S3 (full-object only), so it is not listed.
const COMBINERS: Partial<Record<ChecksumAlgorithm, Combiner>> = {
  crc32: async (data) => uint32Bytes(crc32(data)),
  crc32c: async (data) => uint32Bytes(crc32c(data)),
  sha1: async (data) => new Uint8Array(await crypto.subtle.digest("SHA-1", data)),
  sha256: async (data) => new Uint8Array(await crypto.subtle.digest("SHA-256", data)),
};

function uint32Bytes(value: number): Uint8Array {
  const bytes = new Uint8Array(4);
  new DataView(bytes.buffer).setUint32(0, value);
  return bytes;
}
