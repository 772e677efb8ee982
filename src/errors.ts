// Errors are values with S3 codes, thrown by every layer; they become XML in one place (s3/xml.ts errorResponse).
// ConfigError is the one error of configuration parsing.
// This module sits at the bottom: it imports nothing, so engine, storage, multipart and buckets may use it
// without importing from the protocol layer (src/s3/).

/** S3 error codes we answer, with AWS's HTTP status for each. */
export const S3_ERROR_STATUS = {
  AccessControlListNotSupported: 400,
  AccessDenied: 403,
  AuthorizationHeaderMalformed: 400,
  AuthorizationQueryParametersError: 400,
  BadDigest: 400,
  BadRequest: 400,
  BucketAlreadyExists: 409,
  BucketAlreadyOwnedByYou: 409,
  BucketNotEmpty: 409,
  ConditionalRequestConflict: 409,
  EntityTooLarge: 400,
  EntityTooSmall: 400,
  ExpiredToken: 400,
  IncompleteBody: 400,
  InternalError: 500,
  InvalidAccessKeyId: 403,
  InvalidArgument: 400,
  InvalidBucketAclWithObjectOwnership: 400,
  InvalidBucketName: 400,
  InvalidDigest: 400,
  InvalidObjectState: 403,
  InvalidPart: 400,
  InvalidPartOrder: 400,
  InvalidPartNumber: 416,
  InvalidRange: 416,
  InvalidRequest: 400,
  InvalidURI: 400,
  KeyTooLongError: 400,
  MalformedACLError: 400,
  MalformedXML: 400,
  MetadataTooLarge: 400,
  MethodNotAllowed: 405,
  MissingContentLength: 411,
  MissingSecurityHeader: 400,
  NoSuchBucket: 404,
  NoSuchKey: 404,
  NoSuchTagSet: 404,
  NoSuchUpload: 404,
  NotImplemented: 501,
  NotModified: 304,
  PreconditionFailed: 412,
  RequestTimeTooSkewed: 403,
  ServiceUnavailable: 503,
  SignatureDoesNotMatch: 403,
  SlowDown: 503,
  UnexpectedContent: 400,
  XAmzContentSHA256Mismatch: 400,
} as const;

export type S3ErrorCode = keyof typeof S3_ERROR_STATUS;

export class S3Error extends Error {
  readonly status: number;
  constructor(
    readonly code: S3ErrorCode,
    message: string,
    /** Extra elements for the XML body (e.g. StringToSign, BucketName, Key), already safe to show. */
    readonly details: Record<string, string> = {},
    status?: number,
  ) {
    super(message);
    this.name = "S3Error";
    this.status = status ?? S3_ERROR_STATUS[code];
  }
}

/**
 * A bad configuration value, found when `env` is parsed (src/config.ts, once per isolate). Every layer's parser
 * throws this one type, naming the variable (or the setting inside it, e.g. `S3_BACKENDS.b.endpoint`); the
 * message never contains a secret's value.
 */
export class ConfigError extends Error {
  constructor(readonly variable: string, readonly problem: string) {
    super(`configuration variable ${variable}: ${problem}`);
    this.name = "ConfigError";
  }
}

/**
 * A read found its object replaced or deleted since it was resolved (an overwrite committed in between). Thrown
 * before the first byte reaches the client, so the caller may resolve the key again (ObjectEngine.withObject);
 * if it escapes, it is a 500 like any other failed read. Detected through wrappers' `cause` chains.
 */
export class ObjectChangedError extends S3Error {
  constructor(key: string) {
    super("InternalError", "The object changed while it was being read; retry.", { Key: key });
    this.name = "ObjectChangedError";
  }
}

/** The ObjectChangedError behind `error` (itself, or somewhere in its `cause` chain), if any. */
export function objectChangedCause(error: unknown): ObjectChangedError | undefined {
  for (let at = error, depth = 0; at && depth < 8; at = (at as { cause?: unknown }).cause, depth++) {
    if (at instanceof ObjectChangedError) return at;
  }
  return undefined;
}
