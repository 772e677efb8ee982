// The one place requests to the remote S3 server are made: sign (aws4fetch, `AwsClient.sign` only), fetch
// under a stall watchdog, retry what is safe to retry, and turn what is left into the S3Error the client sees.
//
// - Idempotent calls (HEAD, GET, LIST, DELETE, PUT/UploadPart of an in-memory body, Complete/Abort) are retried
//   with backoff on timeouts, connection errors, 5xx and throttling. A PUT of a one-shot stream is not retried.
// - After the retries, failures become S3Error 503 SlowDown (throttling) or 500 InternalError. The backend's
//   own XML, host names and keys are only logged, never handed to the client.
import { AwsClient } from "aws4fetch";
import { S3Error, type S3ErrorCode } from "../errors";
import { backoffDelay, isRetriableStatus, isThrottling, type RetryPolicy, sleep, StallWatchdog } from "./retry";
import { sizedUploadBody } from "./s3-upload-body";
import { keyOfUrl } from "./s3-urls";
import { parseErrorCode } from "./s3-xml";

export interface S3Credentials {
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/** How a call may be answered and repeated. */
export interface CallSpec {
  /** S3 operation name, for logs. */
  op: string;
  method: string;
  url: string;
  headers?: Record<string, string>;
  /** A body that can be sent again on a retry. */
  bytes?: Uint8Array;
  /** A one-shot streamed body of a known length (never retried). */
  stream?: { body: ReadableStream<Uint8Array>; length: number };
  /** Safe to repeat: the call is idempotent and its body (if any) replayable. */
  retry: boolean;
  /** Statuses handed back to the caller instead of being turned into an error (e.g. 404 on HEAD). */
  accept?: (status: number, code: string | undefined) => boolean;
}

export interface CallResult {
  response: Response;
  /** Still running: the caller moves the response body through it, then stops it. */
  watchdog: StallWatchdog;
  /** The S3 error code of a non-2xx answer the caller accepted. */
  code?: string;
  /** Whether an earlier attempt of this call may have reached the server (its outcome is unknown). */
  ambiguous: boolean;
}

export interface FailureDetail {
  status?: number;
  code?: string;
  timeout?: boolean;
  network?: boolean;
  message?: string;
  retryAfter?: string | null;
}

/** Backend error codes that mean the same thing to our client; each gets our own message. */
export const CLIENT_VISIBLE_CODES = new Map<S3ErrorCode, string>([
  ["NoSuchUpload", "The specified multipart upload does not exist."],
  ["InvalidPart", "One or more of the specified parts could not be found."],
  ["InvalidPartOrder", "The list of parts was not in ascending order."],
  ["EntityTooSmall", "Your proposed upload is smaller than the minimum allowed object size."],
  ["EntityTooLarge", "Your proposed upload exceeds the maximum allowed size."],
  ["InvalidRange", "The requested range is not satisfiable."],
  ["KeyTooLongError", "Your key is too long."],
  ["MetadataTooLarge", "Your metadata headers exceed the maximum allowed metadata size."],
  ["BadDigest", "The Content-MD5 you specified did not match what was received."],
]);

export class S3Caller {
  private readonly client: AwsClient;

  /** `name` prefixes log lines; `retry` is read on every call. */
  constructor(readonly name: string, credentials: S3Credentials, readonly retry: RetryPolicy) {
    // retries: 0 — this class runs its own retry loop (see retry.ts for why).
    this.client = new AwsClient({
      accessKeyId: credentials.accessKeyId,
      secretAccessKey: credentials.secretAccessKey,
      sessionToken: credentials.sessionToken,
      service: "s3",
      region: credentials.region,
      retries: 0,
    });
  }

  /** Sends a signed request, retrying what is safe to retry; non-accepted failures throw an S3Error. */
  async call(spec: CallSpec): Promise<CallResult> {
    const policy = this.retry;
    const attempts = spec.retry ? Math.max(1, policy.attempts) : 1;
    let ambiguous = false;
    let last: FailureDetail = {};
    for (let attempt = 1; attempt <= attempts; attempt++) {
      if (attempt > 1) await sleep(backoffDelay(policy, attempt - 1, last.retryAfter));
      const watchdog = new StallWatchdog(policy.stallTimeoutMs);
      let response: Response;
      try {
        response = await this.send(spec, watchdog);
      } catch (error) {
        watchdog.stop();
        ambiguous = true;
        last = { timeout: watchdog.stalled, network: !watchdog.stalled, message: String(error) };
        if (error instanceof S3Error) throw error;
        continue;
      }
      if (response.ok) return { response, watchdog, ambiguous };
      const code = await errorCode(response, watchdog);
      if (spec.accept?.(response.status, code)) return { response, watchdog, code, ambiguous };
      watchdog.stop();
      last = { status: response.status, code, retryAfter: response.headers.get("retry-after") };
      if (!isRetriableStatus(response.status, code)) break;
      // A 5xx after the body went out may still have been applied (e.g. a lost Complete).
      ambiguous = true;
    }
    throw this.failure(spec.op, keyOfUrl(spec.url), last);
  }

  private async send(spec: CallSpec, watchdog: StallWatchdog): Promise<Response> {
    const headers = { ...spec.headers };
    if (!spec.stream) {
      const request = await this.client.sign(spec.url, {
        method: spec.method, headers, body: spec.bytes, signal: watchdog.signal,
      });
      return fetch(request);
    }
    const pipeControl = new AbortController();
    const sized = sizedUploadBody(spec.stream.body, spec.stream.length, watchdog, pipeControl.signal);
    const uploadError = sized.done.then(() => undefined, (error: unknown) => error ?? new Error("upload failed"));
    const request = await this.client.sign(spec.url, {
      method: spec.method, headers, body: sized.readable, signal: watchdog.signal,
    });
    let response: Response;
    try {
      response = await fetch(request);
    } catch (error) {
      pipeControl.abort();
      const cause = await uploadError;
      // Our own length check fired first: that is the client's fault, and nothing was stored.
      throw cause instanceof S3Error ? cause : error;
    }
    // Refused before reading it all (412, 4xx, 5xx): stop pulling the source.
    if (!response.ok) pipeControl.abort();
    else await uploadError;
    return response;
  }

  /** Turns what went wrong into the error the client sees, and logs the raw detail for the operator. */
  failure(op: string, key: string, detail: FailureDetail): S3Error {
    console.error(`[${this.name}] ${op} ${JSON.stringify(key)} failed:`,
      detail.status ?? "-", detail.code ?? "-", detail.timeout ? "timeout" : "", detail.message ?? "");
    if (detail.status !== undefined && isThrottling(detail.status, detail.code)) {
      return new S3Error("SlowDown", "Please reduce your request rate: the storage backend is busy.");
    }
    const passThrough = detail.code && CLIENT_VISIBLE_CODES.has(detail.code as S3ErrorCode) ? detail.code as S3ErrorCode : undefined;
    if (passThrough) return new S3Error(passThrough, CLIENT_VISIBLE_CODES.get(passThrough)!);
    if (detail.status === 403) {
      return new S3Error("InternalError", "The storage backend refused this proxy's credentials.");
    }
    if (detail.code === "NoSuchBucket") {
      return new S3Error("InternalError", "The storage backend's bucket does not exist.");
    }
    if (detail.timeout) return new S3Error("InternalError", "The storage backend did not answer in time. Please try again.");
    return new S3Error("InternalError", "The storage backend failed. Please try again.");
  }
}

// ---- answer bodies ----

/** Frees the connection of a response whose body nobody will read. */
export async function drain(response: Response): Promise<void> {
  if (response.body && !response.bodyUsed && !response.body.locked) await response.body.cancel().catch(() => {});
}

/** The whole (small, XML) answer body, read under the call's watchdog, which is stopped afterwards. */
export async function readText(response: Response, watchdog: StallWatchdog): Promise<string> {
  try {
    return await new Response(throughWatchdog(response, watchdog)).text();
  } finally {
    watchdog.stop();
  }
}

/** The answer body as a stream that kicks the watchdog for every chunk that arrives. */
export function throughWatchdog(response: Response, watchdog: StallWatchdog): ReadableStream<Uint8Array> {
  return (response.body ?? new Response("").body!).pipeThrough(watchdog.progressStream());
}

async function errorCode(response: Response, watchdog: StallWatchdog): Promise<string | undefined> {
  if (!response.body) return undefined;
  try {
    return parseErrorCode(await new Response(throughWatchdog(response, watchdog)).text());
  } catch {
    return undefined;
  }
}
