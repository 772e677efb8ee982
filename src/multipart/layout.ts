// Where multipart state lives in the backend. Everything sits under the hidden `.dg/` prefix, which
// DeltaGlider-compatible listings never show, so in-progress uploads are invisible to clients and to
// DeltaGlider's own tools, and any isolate can pick an upload up from storage alone.
//
//   .dg/mpu/uploads/<uploadId>           small JSON state (key, headers, metadata, initiated); key in metadata
//   .dg/mpu/parts/<uploadId>/<00001>     one staged object per part; its MD5 and checksums in metadata
//   .dg/mpu/parts/<uploadId>/<00001>.checksums   empty companion: checksums that arrived in an aws-chunked
//                                        trailer (known only after the part was written), tied to the part's MD5

import { bytesToBase64Url } from "../encoding";

export const MPU_PREFIX = ".dg/mpu/";
export const UPLOADS_PREFIX = `${MPU_PREFIX}uploads/`;
export const PARTS_PREFIX = `${MPU_PREFIX}parts/`;

export const MIN_PART_NUMBER = 1;
export const MAX_PART_NUMBER = 10_000;
/** S3's minimum size for every part but the last (checked on Complete, as S3 does). */
export const MIN_PART_SIZE = 5 * 1024 * 1024;
/** S3's maximum part size. */
export const MAX_PART_SIZE = 5 * 1024 * 1024 * 1024;

const UPLOAD_ID_BYTES = 24;
const UPLOAD_ID_PATTERN = /^[A-Za-z0-9_-]{32}$/;

/**
 * A fresh upload id: 192 random bits, base64url. Unguessable (only someone who was told it can add parts),
 * and it encodes nothing: the key and everything else are looked up in storage.
 */
export function newUploadId(): string {
  // 24 bytes are exactly 32 base64 characters: no padding to strip.
  return bytesToBase64Url(crypto.getRandomValues(new Uint8Array(UPLOAD_ID_BYTES)));
}

/** True for ids we could have issued. Anything else never reaches a backend key (no path tricks). */
export function isWellFormedUploadId(uploadId: string): boolean {
  return UPLOAD_ID_PATTERN.test(uploadId);
}

export function stateKey(uploadId: string): string {
  return `${UPLOADS_PREFIX}${uploadId}`;
}

export function partsPrefix(uploadId: string): string {
  return `${PARTS_PREFIX}${uploadId}/`;
}

/** Zero-padded so that the backend's lexicographic listing is part-number order. */
export function partKey(uploadId: string, partNumber: number): string {
  return `${partsPrefix(uploadId)}${String(partNumber).padStart(5, "0")}`;
}

/**
 * The companion of a part holding checksums that arrived after its write started (aws-chunked trailer).
 * It sorts right after its part and before the next one ("." < "0"), so one listing pairs them up.
 */
export function partChecksumsKey(uploadId: string, partNumber: number): string {
  return `${partKey(uploadId, partNumber)}${PART_CHECKSUMS_SUFFIX}`;
}

export const PART_CHECKSUMS_SUFFIX = ".checksums";

export function isPartChecksumsKey(key: string): boolean {
  return key.endsWith(PART_CHECKSUMS_SUFFIX);
}

/** The part number of a part key or of its checksums companion. */
export function partNumberFromKey(key: string): number {
  const name = key.slice(key.lastIndexOf("/") + 1);
  return Number(isPartChecksumsKey(name) ? name.slice(0, -PART_CHECKSUMS_SUFFIX.length) : name);
}

export function isValidPartNumber(partNumber: number): boolean {
  return Number.isInteger(partNumber) && partNumber >= MIN_PART_NUMBER && partNumber <= MAX_PART_NUMBER;
}
