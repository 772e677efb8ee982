// Staged parts: one backend object per (upload, part number). Writing the same part number again replaces
// the object, so the last write wins, and a part that fails verification is never stored (see md5Gate).
import type { Backend, StoredObject } from "../storage/backend";
import type { ChecksumAlgorithm } from "../engine/api";
import { base64ToBytes, bytesToHex } from "../encoding";
import { S3Error } from "../errors";
import { isPartChecksumsKey, MAX_PART_SIZE, partChecksumsKey, partKey, partNumberFromKey, partsPrefix } from "./layout";

export type PartChecksums = Partial<Record<ChecksumAlgorithm, string>>;

export interface StagedPart {
  partNumber: number;
  size: number;
  /** Unquoted MD5 hex of the part's bytes (S3's part ETag). */
  etag: string;
  lastModified: Date;
  checksums: PartChecksums;
  /** The backend key of the staged object. */
  stagedKey: string;
}

export interface StagePartOptions {
  /** Base64 Content-MD5 sent by the client: a mismatch is BadDigest and nothing is stored. */
  contentMd5?: string;
  /** Flexible checksums of the part, already verified by the protocol layer; kept for ListParts/Complete. */
  checksums?: PartChecksums;
  /**
   * Checksums known only once the body has been read to its end (an aws-chunked trailer, verified by the body
   * stream). Asked for after the part was written and kept in the part's checksums companion.
   */
  lateChecksums?: () => PartChecksums;
}

const CHECKSUM_META_PREFIX = "checksum-";
/** The MD5 of the part a checksums companion belongs to: a companion left by an earlier write is ignored. */
const COMPANION_PART_MD5 = "part-md5";
const MD5_HEX = /^[0-9a-f]{32}$/;
const EMPTY_MD5 = "d41d8cd98f00b204e9800998ecf8427e";

export async function stagePart(
  backend: Backend,
  uploadId: string,
  partNumber: number,
  body: ReadableStream<Uint8Array> | Uint8Array,
  size: number,
  options: StagePartOptions = {},
): Promise<StagedPart> {
  if (size > MAX_PART_SIZE) {
    throw new S3Error("EntityTooLarge", "Your proposed upload exceeds the maximum allowed size (5 GiB per part).", {
      ProposedSize: String(size), MaxSizeAllowed: String(MAX_PART_SIZE),
    });
  }
  const expectedMd5 = options.contentMd5 === undefined ? undefined : base64ToHex(options.contentMd5);
  const metadata = checksumMetadata(options.checksums ?? {});
  const key = partKey(uploadId, partNumber);
  let stored: StoredObject | null;
  let md5: string;
  if (size === 0) {
    // Nothing to stream (and a zero-length pipe never ends in workerd): check and write an empty object.
    md5 = EMPTY_MD5;
    if (expectedMd5 !== undefined && expectedMd5 !== md5) throw badDigest();
    if (body instanceof ReadableStream) await assertEmpty(body);
    stored = await backend.put(key, new Uint8Array(0), 0, { metadata });
  } else {
    const gate = md5Gate(size, expectedMd5);
    const stream = body instanceof Uint8Array ? new Blob([body]).stream() : body;
    stored = await backend.put(key, stream.pipeThrough(gate.transform), size, { metadata });
    md5 = await gate.md5;
  }
  if (!stored) throw new S3Error("InternalError", "The part could not be stored.");
  const staged = toStagedPart(stored);
  if (staged.etag !== md5) {
    // The backend's ETag of a single PUT is the MD5 of what it stored; anything else means the staged part is
    // not the bytes we hashed (or the backend does not use MD5 ETags, which multipart staging relies on).
    await backend.delete([key]);
    throw new S3Error("InternalError", "The stored part did not match the uploaded bytes; please retry the part.");
  }
  const late = newChecksums(options.lateChecksums?.() ?? {}, staged.checksums);
  if (Object.keys(late).length > 0) {
    // The part's metadata was fixed when its write started, before the trailer arrived: record it beside.
    const companion = { ...checksumMetadata(late), [COMPANION_PART_MD5]: md5 };
    await backend.put(partChecksumsKey(uploadId, partNumber), new Uint8Array(0), 0, { metadata: companion });
    staged.checksums = { ...staged.checksums, ...late };
  }
  return staged;
}

function checksumMetadata(checksums: PartChecksums): Record<string, string> {
  const metadata: Record<string, string> = {};
  for (const [algorithm, value] of Object.entries(checksums)) {
    if (value) metadata[CHECKSUM_META_PREFIX + algorithm] = value;
  }
  return metadata;
}

function newChecksums(late: PartChecksums, known: PartChecksums): PartChecksums {
  return Object.fromEntries(
    Object.entries(late).filter(([algorithm, value]) => value && !known[algorithm as ChecksumAlgorithm]),
  );
}

/**
 * A pass-through that hashes the part with MD5 and holds back the final chunk until the digest is known:
 * when the digest does not match the client's Content-MD5, or the body is shorter or longer than declared,
 * the stream errors before the backend has received every byte, so the backend never commits the part and a
 * previously uploaded part with the same number stays intact.
 */
function md5Gate(size: number, expectedMd5Hex?: string) {
  const digest = new crypto.DigestStream("MD5");
  const writer = digest.getWriter();
  let seen = 0;
  let resolveMd5!: (hex: string) => void;
  let rejectMd5!: (error: unknown) => void;
  const md5 = new Promise<string>((resolve, reject) => { resolveMd5 = resolve; rejectMd5 = reject; });
  md5.catch(() => {}); // observed by the caller only when the upload got that far

  async function finish(): Promise<void> {
    await writer.close();
    const hex = bytesToHex(new Uint8Array(await digest.digest));
    if (expectedMd5Hex !== undefined && hex !== expectedMd5Hex) {
      const error = badDigest();
      rejectMd5(error);
      throw error;
    }
    resolveMd5(hex);
  }

  const transform = new TransformStream<Uint8Array, Uint8Array>({
    async transform(chunk, controller) {
      seen += chunk.byteLength;
      if (seen > size) {
        const error = new S3Error("IncompleteBody", "The request body is longer than its declared length.");
        rejectMd5(error);
        throw error;
      }
      await writer.write(chunk);
      if (seen === size) await finish();
      controller.enqueue(chunk);
    },
    flush() {
      if (seen < size) {
        const error = new S3Error("IncompleteBody", "You did not provide the number of bytes specified by the Content-Length HTTP header.");
        rejectMd5(error);
        throw error;
      }
    },
  });
  return { transform, md5 };
}

async function assertEmpty(body: ReadableStream<Uint8Array>): Promise<void> {
  const reader = body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return;
    if (value.byteLength > 0) {
      await reader.cancel();
      throw new S3Error("IncompleteBody", "The request body is longer than its declared length.");
    }
  }
}

function badDigest(): S3Error {
  return new S3Error("BadDigest", "The Content-MD5 you specified did not match what we received.");
}

/**
 * Every staged part of an upload in part-number order, with the checksums of its companion merged in.
 * A part is held back until the next key is seen, because its companion (listed right after it) may be on the
 * next page of the listing.
 */
export async function* listStagedParts(
  backend: Backend,
  uploadId: string,
  afterPartNumber = 0,
): AsyncGenerator<StagedPart> {
  const startAfter = afterPartNumber > 0 ? partChecksumsKey(uploadId, afterPartNumber) : undefined;
  let pending: StagedPart | undefined;
  for await (const object of listPartObjects(backend, uploadId, startAfter)) {
    if (isPartChecksumsKey(object.key)) {
      if (pending) mergeCompanion(pending, object);
      continue;
    }
    if (pending) yield pending;
    pending = toStagedPart(object);
  }
  if (pending) yield pending;
}

/** Delete every staged part (and checksums companion) of an upload; returns how many parts were deleted. */
export async function deleteStagedParts(backend: Backend, uploadId: string, olderThan?: Date): Promise<number> {
  let deletedParts = 0;
  let batch: string[] = [];
  for await (const object of listPartObjects(backend, uploadId)) {
    if (olderThan && object.lastModified >= olderThan) continue;
    batch.push(object.key);
    if (!isPartChecksumsKey(object.key)) deletedParts++;
    if (batch.length === 1000) {
      await backend.delete(batch);
      batch = [];
    }
  }
  await backend.delete(batch);
  return deletedParts;
}

/** Every object under an upload's parts prefix, in key order, a page (at most 1000) per backend call. */
async function* listPartObjects(backend: Backend, uploadId: string, startAfter?: string): AsyncGenerator<StoredObject> {
  let cursor: string | undefined;
  do {
    const page = await backend.list({
      prefix: partsPrefix(uploadId), startAfter, cursor, limit: 1000, includeMetadata: true,
    });
    yield* page.objects;
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor);
}

/** Take a companion's checksums only if it was written for these very bytes (same part number and MD5). */
function mergeCompanion(part: StagedPart, companion: StoredObject): void {
  if (partNumberFromKey(companion.key) !== part.partNumber || companion.metadata[COMPANION_PART_MD5] !== part.etag) return;
  part.checksums = { ...checksumsFromMetadata(companion.metadata), ...part.checksums };
}

function checksumsFromMetadata(metadata: Record<string, string>): PartChecksums {
  const checksums: PartChecksums = {};
  for (const [name, value] of Object.entries(metadata)) {
    if (name.startsWith(CHECKSUM_META_PREFIX)) {
      checksums[name.slice(CHECKSUM_META_PREFIX.length) as ChecksumAlgorithm] = value;
    }
  }
  return checksums;
}

function toStagedPart(object: StoredObject): StagedPart {
  const checksums = checksumsFromMetadata(object.metadata);
  const etag = object.etag.replaceAll('"', "").toLowerCase();
  return {
    partNumber: partNumberFromKey(object.key),
    size: object.size,
    etag: MD5_HEX.test(etag) ? etag : object.etag,
    lastModified: object.lastModified,
    checksums,
    stagedKey: object.key,
  };
}

function base64ToHex(base64: string): string {
  let bytes: Uint8Array;
  try {
    bytes = base64ToBytes(base64.trim());
  } catch {
    throw new S3Error("InvalidDigest", "The Content-MD5 you specified was invalid.");
  }
  if (bytes.length !== 16) throw new S3Error("InvalidDigest", "The Content-MD5 you specified was invalid.");
  return bytesToHex(bytes);
}
