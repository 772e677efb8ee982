// The per-upload state object: written once by CreateMultipartUpload, read by every later call (from any
// isolate), replaced by a small "completed" record when the upload completes, deleted on abort/cleanup.
import type { Backend } from "../storage/backend";
import type { ChecksumAlgorithm, ObjectHttpHeaders } from "../engine/api";
import { S3Error } from "../errors";
import { isWellFormedUploadId, stateKey } from "./layout";

export type ChecksumType = "COMPOSITE" | "FULL_OBJECT";

export interface CompletedRecord {
  etag: string;
  size: number;
  at: string;
}

export interface UploadState {
  v: 1;
  uploadId: string;
  key: string;
  /** ISO time of CreateMultipartUpload. */
  initiated: string;
  http: ObjectHttpHeaders;
  userMetadata: Record<string, string>;
  checksumAlgorithm?: ChecksumAlgorithm;
  checksumType?: ChecksumType;
  /** Set once completed: a retried Complete gets the same answer instead of NoSuchUpload. */
  completed?: CompletedRecord;
}

/** Listing-visible summary kept in the state object's metadata, so listings need no GET per upload. */
export interface UploadSummary {
  uploadId: string;
  key: string;
  initiated: string;
  completed: boolean;
}

const META_KEY = "mpu-key";
const META_INITIATED = "mpu-initiated";
const META_STATUS = "mpu-status";

export async function writeState(backend: Backend, state: UploadState): Promise<void> {
  const json = JSON.stringify(state);
  const bytes = new TextEncoder().encode(json);
  await backend.put(stateKey(state.uploadId), bytes, bytes.byteLength, {
    contentType: "application/json",
    metadata: {
      // Metadata values must be plain ASCII on S3 backends; the key may be any Unicode.
      [META_KEY]: encodeURIComponent(state.key),
      [META_INITIATED]: state.initiated,
      [META_STATUS]: state.completed ? "completed" : "open",
    },
  });
}

/** The state of an upload that is still open for `key`, or NoSuchUpload (also for a key mismatch, as S3). */
export async function readOpenState(backend: Backend, key: string, uploadId: string): Promise<UploadState> {
  const state = await readState(backend, uploadId);
  if (!state || state.key !== key || state.completed) throw noSuchUpload(uploadId);
  return state;
}

/** Any recorded state (open or completed) for this id, or null. */
export async function readState(backend: Backend, uploadId: string): Promise<UploadState | null> {
  if (!isWellFormedUploadId(uploadId)) return null;
  const object = await backend.get(stateKey(uploadId));
  if (!object) return null;
  const state = JSON.parse(await new Response(object.body).text()) as UploadState;
  return state.v === 1 ? state : null;
}

/** Cheap existence check for UploadPart: one HEAD, the key compared from metadata. */
export async function assertOpen(backend: Backend, key: string, uploadId: string): Promise<void> {
  if (!isWellFormedUploadId(uploadId)) throw noSuchUpload(uploadId);
  const head = await backend.head(stateKey(uploadId));
  const summary = head && summaryFromMetadata(uploadId, head.metadata);
  if (!summary || summary.key !== key || summary.completed) throw noSuchUpload(uploadId);
}

export function summaryFromMetadata(uploadId: string, metadata: Record<string, string>): UploadSummary | null {
  const encodedKey = metadata[META_KEY];
  const initiated = metadata[META_INITIATED];
  if (encodedKey === undefined || !initiated) return null;
  return { uploadId, key: decodeURIComponent(encodedKey), initiated, completed: metadata[META_STATUS] === "completed" };
}

export function noSuchUpload(uploadId: string): S3Error {
  return new S3Error(
    "NoSuchUpload",
    "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.",
    { UploadId: uploadId },
  );
}
