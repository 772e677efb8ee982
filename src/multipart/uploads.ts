// Stateless multipart uploads over any Backend: every call reads what it needs from storage, so consecutive
// calls may land on different isolates. Calls that write under the bucket hold the upload with the bucket's
// coordinator (Complete exclusively), so Complete and Abort of one upload never overlap and nothing is
// written under a bucket DeleteBucket has swept (docs/ARCHITECTURE.md "Guarantees"). Completion streams the staged parts, in order, into the engine's put,
// so an eligible object is delta-compressed like any single PUT.
import type { Backend } from "../storage/backend";
import type { ChecksumAlgorithm, ObjectEngine, ObjectHttpHeaders, OpenedObject, PutInput, PutResult, ResolvedRange, StorageType } from "../engine/api";
import { S3Error } from "../errors";
import { PartsSource } from "./assemble";
import { compositeChecksum } from "./checksums";
import { multipartEtag, normalizeEtag } from "./etag";
import { compareKeys } from "./keys";
import { isValidPartNumber, isWellFormedUploadId, MAX_PART_NUMBER, MIN_PART_SIZE, newUploadId, stateKey, UPLOADS_PREFIX } from "./layout";
import { deleteStagedParts, listStagedParts, type PartChecksums, stagePart, type StagedPart } from "./parts";
import {
  assertOpen, type ChecksumType, noSuchUpload, readOpenState, readState, summaryFromMetadata, type UploadState,
  type UploadSummary, writeState,
} from "./state";

export interface CreateUploadInput {
  http?: ObjectHttpHeaders;
  userMetadata?: Record<string, string>;
  checksumAlgorithm?: ChecksumAlgorithm;
  checksumType?: ChecksumType;
}

export interface UploadPartInput {
  body: ReadableStream<Uint8Array> | Uint8Array;
  size: number;
  contentMd5?: string;
  checksums?: PartChecksums;
  /** Checksums verified only once the body has been read (aws-chunked trailer); asked for after the write. */
  lateChecksums?: () => PartChecksums;
}

export interface CompletePartInput {
  partNumber: number;
  etag: string;
  checksums?: PartChecksums;
}

export interface CompleteResult {
  key: string;
  /** Unquoted "<hex>-<n>". */
  etag: string;
  size: number;
  storageType?: StorageType;
  /** The engine's answer for the stored object (absent for a repeated Complete of a finished upload). */
  stored?: PutResult;
  checksums: PartChecksums;
  checksumType?: ChecksumType;
}

/** A validated Complete request; `finish()` does the long work (assemble, engine put, clean up). */
export interface PreparedCompletion {
  finish(): Promise<CompleteResult>;
}

export interface ListPartsResult {
  upload: UploadState;
  parts: StagedPart[];
  isTruncated: boolean;
  nextPartNumberMarker?: number;
}

export interface ListUploadsInput {
  prefix?: string;
  delimiter?: string;
  keyMarker?: string;
  uploadIdMarker?: string;
  /** 0..1000 */
  maxUploads: number;
}

export interface ListUploadsResult {
  uploads: UploadSummary[];
  commonPrefixes: string[];
  isTruncated: boolean;
  nextKeyMarker?: string;
  nextUploadIdMarker?: string;
}

export class MultipartUploads {
  constructor(private readonly backend: Backend, private readonly engine: ObjectEngine) {}

  async create(key: string, input: CreateUploadInput = {}): Promise<UploadState> {
    const state: UploadState = {
      v: 1,
      uploadId: newUploadId(),
      key,
      initiated: new Date().toISOString(),
      http: input.http ?? {},
      userMetadata: input.userMetadata ?? {},
      checksumAlgorithm: input.checksumAlgorithm,
      checksumType: input.checksumType,
    };
    await this.holding(state.uploadId, () => writeState(this.backend, state));
    return state;
  }

  async uploadPart(key: string, uploadId: string, partNumber: number, input: UploadPartInput): Promise<StagedPart> {
    assertPartNumber(partNumber);
    return this.holding(uploadId, async () => {
      await assertOpen(this.backend, key, uploadId);
      return stagePart(this.backend, uploadId, partNumber, input.body, input.size, {
        contentMd5: input.contentMd5, checksums: input.checksums, lateChecksums: input.lateChecksums,
      });
    });
  }

  /** UploadPartCopy: the source is an opened object (any bucket), optionally a validated byte range of it. */
  async uploadPartCopy(
    key: string, uploadId: string, partNumber: number, source: OpenedObject, range?: ResolvedRange,
  ): Promise<StagedPart> {
    assertPartNumber(partNumber);
    return this.holding(uploadId, async () => {
      await assertOpen(this.backend, key, uploadId);
      const size = range ? range.end - range.start + 1 : source.info.size;
      const body = await source.read(range);
      return stagePart(this.backend, uploadId, partNumber, body, size);
    });
  }

  async listParts(key: string, uploadId: string, partNumberMarker = 0, maxParts = 1000): Promise<ListPartsResult> {
    const upload = await readOpenState(this.backend, key, uploadId);
    const parts: StagedPart[] = [];
    let isTruncated = false;
    for await (const part of listStagedParts(this.backend, uploadId, partNumberMarker)) {
      if (parts.length === maxParts) {
        isTruncated = true;
        break;
      }
      parts.push(part);
    }
    const last = parts.at(-1);
    return { upload, parts, isTruncated, nextPartNumberMarker: isTruncated && last ? last.partNumber : undefined };
  }

  /** Waits for a running Complete of the upload (then NoSuchUpload if it completed: its object stays). */
  async abort(key: string, uploadId: string): Promise<void> {
    await this.holding(uploadId, async () => {
      await readOpenState(this.backend, key, uploadId);
      // State first: a part arriving from now on gets NoSuchUpload; a part that raced in is left for cleanup.
      await this.backend.delete([stateKey(uploadId)]);
      await deleteStagedParts(this.backend, uploadId);
    });
  }

  /**
   * Check a Complete request against what is stored (errors here still get their own HTTP status), then
   * hand back the long-running part. From the check to the end of finish() the upload is held exclusively
   * (ConditionalRequestConflict if another call of it runs): an Abort waits, so it cannot delete the parts
   * under a Complete that then answers 200 without an object. The caller must call finish().
   * @param precondition the request's If-None-Match / If-Match, checked by the engine while it holds the key.
   */
  async prepareComplete(
    key: string, uploadId: string, listed: CompletePartInput[], precondition?: PutInput["precondition"],
  ): Promise<PreparedCompletion> {
    const requested = lastListingOfEachPart(listed);
    if (!isWellFormedUploadId(uploadId)) throw noSuchUpload(uploadId);
    const release = await this.engine.holdUpload(stateKey(uploadId), true);
    try {
      const prepared = await this.checkComplete(key, uploadId, requested, precondition);
      return { finish: () => prepared.finish().finally(release) };
    } catch (error) {
      await release();
      throw error;
    }
  }

  private async checkComplete(
    key: string, uploadId: string, requested: CompletePartInput[], precondition?: PutInput["precondition"],
  ): Promise<PreparedCompletion> {
    const state = await readState(this.backend, uploadId);
    if (!state || state.key !== key) throw noSuchUpload(uploadId);
    if (state.completed) return this.alreadyCompleted(state, requested);

    const wanted = new Map(requested.map((part) => [part.partNumber, part]));
    const staged = new Map<number, StagedPart>();
    for await (const part of listStagedParts(this.backend, uploadId)) {
      if (wanted.has(part.partNumber)) staged.set(part.partNumber, part);
    }
    const chosen = requested.map((part, index) => {
      const found = staged.get(part.partNumber);
      assertMatches(part, found);
      if (index < requested.length - 1 && found.size < MIN_PART_SIZE) {
        throw new S3Error("EntityTooSmall", "Your proposed upload is smaller than the minimum allowed size.", {
          ProposedSize: String(found.size), MinSizeAllowed: String(MIN_PART_SIZE),
          PartNumber: String(part.partNumber), ETag: `"${found.etag}"`,
        });
      }
      return found;
    });
    return { finish: () => this.finishComplete(state, chosen, precondition) };
  }

  async listUploads(input: ListUploadsInput): Promise<ListUploadsResult> {
    const prefix = input.prefix ?? "";
    const open = (await this.allOpenUploads()).filter((u) => u.key.startsWith(prefix));
    open.sort((a, b) => compareKeys(a.key, b.key) || a.initiated.localeCompare(b.initiated) || a.uploadId.localeCompare(b.uploadId));
    const remaining = afterMarkers(open, input);

    const result: ListUploadsResult = { uploads: [], commonPrefixes: [], isTruncated: false };
    let lastEntry: { key: string; uploadId?: string } | undefined;
    for (const upload of remaining) {
      const commonPrefix = commonPrefixOf(upload.key, prefix, input.delimiter);
      if (commonPrefix !== undefined && commonPrefix === result.commonPrefixes.at(-1)) continue;
      if (result.uploads.length + result.commonPrefixes.length >= input.maxUploads) {
        result.isTruncated = true;
        break;
      }
      if (commonPrefix !== undefined) {
        result.commonPrefixes.push(commonPrefix);
        lastEntry = { key: commonPrefix };
      } else {
        result.uploads.push(upload);
        lastEntry = { key: upload.key, uploadId: upload.uploadId };
      }
    }
    if (result.isTruncated && lastEntry) {
      result.nextKeyMarker = lastEntry.key;
      result.nextUploadIdMarker = lastEntry.uploadId;
    }
    return result;
  }

  private async finishComplete(state: UploadState, parts: StagedPart[], precondition?: PutInput["precondition"]): Promise<CompleteResult> {
    const source = new PartsSource(this.backend, parts);
    const etag = await multipartEtag(parts.map((part) => part.etag));
    const checksums = state.checksumType === "FULL_OBJECT" ? {} : await compositeChecksum(state.checksumAlgorithm, parts);
    const stored = await this.engine.put(state.key, {
      body: source.stream(),
      size: source.size,
      http: state.http,
      userMetadata: state.userMetadata,
      checksums,
      multipartEtag: etag,
      partSizes: parts.map((part) => part.size),
      source,
      precondition,
    });
    // Record completion before removing parts: a retried Complete answers the same, a late part is refused.
    await writeState(this.backend, { ...state, completed: { etag, size: source.size, at: new Date().toISOString() } });
    await deleteStagedParts(this.backend, state.uploadId);
    return {
      key: state.key, etag, size: source.size, storageType: stored.storageType, stored, checksums,
      checksumType: Object.keys(checksums).length > 0 ? "COMPOSITE" : undefined,
    };
  }

  /** S3 answers a repeated Complete of a finished upload with the same result. */
  private async alreadyCompleted(state: UploadState, requested: CompletePartInput[]): Promise<PreparedCompletion> {
    const record = state.completed!;
    const etag = await multipartEtag(requested.map((part) => normalizeEtag(part.etag)));
    if (etag !== record.etag) throw noSuchUpload(state.uploadId);
    return { finish: async () => ({ key: state.key, etag, size: record.size, checksums: {} }) };
  }

  /** Run a call that writes under the bucket while the bucket's coordinator holds the upload (not exclusively). */
  private async holding<T>(uploadId: string, work: () => Promise<T>): Promise<T> {
    if (!isWellFormedUploadId(uploadId)) throw noSuchUpload(uploadId);
    const release = await this.engine.holdUpload(stateKey(uploadId));
    try {
      return await work();
    } finally {
      await release();
    }
  }

  private async allOpenUploads(): Promise<UploadSummary[]> {
    const uploads: UploadSummary[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.backend.list({ prefix: UPLOADS_PREFIX, cursor, limit: 1000, includeMetadata: true });
      for (const object of page.objects) {
        const summary = summaryFromMetadata(object.key.slice(UPLOADS_PREFIX.length), object.metadata);
        if (summary && !summary.completed) uploads.push(summary);
      }
      cursor = page.truncated ? page.cursor : undefined;
    } while (cursor);
    return uploads;
  }
}

function assertPartNumber(partNumber: number): void {
  if (!isValidPartNumber(partNumber)) {
    throw new S3Error("InvalidArgument", `Part number must be an integer between 1 and ${MAX_PART_NUMBER}, inclusive.`, {
      ArgumentName: "partNumber", ArgumentValue: String(partNumber),
    });
  }
}

/**
 * The parts a Complete request names, in ascending part-number order. A part number listed twice in a row
 * (a client that retried the part and recorded both answers) counts once, by its last listing, which must
 * carry the ETag of the part as staged, i.e. of its last upload. Any decrease is InvalidPartOrder, as in S3.
 */
function lastListingOfEachPart(requested: CompletePartInput[]): CompletePartInput[] {
  if (requested.length === 0) {
    throw new S3Error("MalformedXML", "The XML you provided was not well-formed or did not validate against our published schema.");
  }
  const parts: CompletePartInput[] = [];
  for (const part of requested) {
    assertPartNumber(part.partNumber);
    const previous = parts.at(-1);
    if (previous && part.partNumber < previous.partNumber) {
      throw new S3Error("InvalidPartOrder", "The list of parts was not in ascending order. The parts list must be specified in order by part number.");
    }
    if (previous && part.partNumber === previous.partNumber) parts[parts.length - 1] = part;
    else parts.push(part);
  }
  return parts;
}

function assertMatches(part: CompletePartInput, found: StagedPart | undefined): asserts found is StagedPart {
  const invalid = () => new S3Error(
    "InvalidPart",
    "One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not have matched the part's entity tag.",
    { PartNumber: String(part.partNumber), ETag: part.etag },
  );
  if (!found || found.etag !== normalizeEtag(part.etag)) throw invalid();
  for (const [algorithm, value] of Object.entries(part.checksums ?? {})) {
    const stored = found.checksums[algorithm as ChecksumAlgorithm];
    if (value && stored && stored !== value) throw invalid();
  }
}

/** Uploads strictly after (key-marker, upload-id-marker) in listing order, as S3 pages them. */
function afterMarkers(sorted: UploadSummary[], input: ListUploadsInput): UploadSummary[] {
  const keyMarker = input.keyMarker;
  if (!keyMarker) return sorted;
  const markerIsPrefix = !!input.delimiter && keyMarker.endsWith(input.delimiter);
  return sorted.filter((upload, index) => {
    const order = compareKeys(upload.key, keyMarker);
    if (markerIsPrefix && upload.key.startsWith(keyMarker)) return false;
    if (order > 0) return true;
    if (order < 0 || !input.uploadIdMarker) return false;
    const markerIndex = sorted.findIndex((u) => u.key === keyMarker && u.uploadId === input.uploadIdMarker);
    return markerIndex >= 0 && index > markerIndex;
  });
}

function commonPrefixOf(key: string, prefix: string, delimiter?: string): string | undefined {
  if (!delimiter) return undefined;
  const at = key.indexOf(delimiter, prefix.length);
  return at < 0 ? undefined : key.slice(0, at + delimiter.length);
}
