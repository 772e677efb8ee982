// Stateless multipart uploads: state and staged parts live in the backend under `.dg/mpu/`.
export { MultipartUploads } from "./uploads";
export type {
  CompletePartInput, CompleteResult, CreateUploadInput, ListPartsResult, ListUploadsInput, ListUploadsResult,
  PreparedCompletion, UploadPartInput,
} from "./uploads";
export type { StagedPart, PartChecksums } from "./parts";
export type { UploadState, UploadSummary, ChecksumType } from "./state";
export { cleanupMultipart, parseStaleUploadAge, DEFAULT_STALE_UPLOAD_AGE_MS, STALE_DAYS_VARIABLE } from "./cleanup";
export type { CleanupReport } from "./cleanup";
export { PartsSource } from "./assemble";
export { MPU_PREFIX, MAX_PART_NUMBER, MIN_PART_SIZE, isValidPartNumber } from "./layout";
export { cleanupAllBuckets } from "./scheduled";
