// Retry policy and stall watchdog for calls to a remote S3 backend.
//
// Why our own loop instead of aws4fetch's `retries`: aws4fetch retries every request on 5xx, including ones
// whose body is a one-shot stream, and it does not retry thrown network errors or time anything out. Here a
// call says whether it is safe to repeat, and a watchdog aborts a request that stops making progress.

export interface RetryPolicy {
  /** Total attempts for an idempotent call (1 = no retry). */
  attempts: number;
  /** First backoff; each later one doubles, with full jitter. */
  baseDelayMs: number;
  /** Upper bound of one backoff (also caps a server's Retry-After). */
  maxDelayMs: number;
  /** Abort a request when no byte has moved (up or down) for this long. */
  stallTimeoutMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  attempts: 4,
  baseDelayMs: 100,
  maxDelayMs: 2_000,
  stallTimeoutMs: 30_000,
};

/** "Full jitter" exponential backoff: spreads retries of many isolates instead of synchronising them. */
export function backoffDelay(policy: RetryPolicy, retryNumber: number, retryAfterHeader?: string | null): number {
  const serverHint = parseRetryAfter(retryAfterHeader);
  if (serverHint !== undefined) return Math.min(serverHint, policy.maxDelayMs);
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (retryNumber - 1));
  return Math.round(Math.random() * ceiling);
}

function parseRetryAfter(value?: string | null): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** HTTP answers that mean "try again later" rather than "this request is wrong". */
export function isRetriableStatus(status: number, code?: string): boolean {
  if (status >= 500 && status !== 501) return true;
  if (status === 429) return true;
  // S3 answers 409 ConditionalRequestConflict when another conditional write to the key is in flight.
  if (status === 409 && code === "ConditionalRequestConflict") return true;
  // S3 "RequestTimeout" (400): the server gave up waiting for our body; a repeat normally succeeds.
  if (status === 400 && code === "RequestTimeout") return true;
  return false;
}

/** Throttling answers become 503 SlowDown for the client (other failures become 500 InternalError). */
export function isThrottling(status: number, code?: string): boolean {
  return status === 429 || status === 503 || code === "SlowDown" || code === "Throttling" || code === "TooManyRequests";
}

/**
 * Aborts its controller when `kick()` has not been called for `timeoutMs`. Every chunk that moves kicks it,
 * so a long upload or download is fine as long as it keeps flowing; a hung server is cut off.
 */
export class StallWatchdog {
  // Typed loosely: Node's and workerd's type declarations disagree on what setTimeout returns.
  private timer: Parameters<typeof clearTimeout>[0] = undefined;
  readonly controller = new AbortController();
  stalled = false;

  constructor(private readonly timeoutMs: number) {
    this.kick();
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  kick(): void {
    if (this.controller.signal.aborted) return;
    clearTimeout(this.timer);
    this.timer = setTimeout((): void => {
      this.stalled = true;
      this.controller.abort(new Error(`no progress for ${this.timeoutMs} ms`));
    }, this.timeoutMs) as Parameters<typeof clearTimeout>[0];
  }

  stop(): void {
    clearTimeout(this.timer);
  }

  /** A pass-through stream that kicks the watchdog for every chunk. */
  progressStream(): TransformStream<Uint8Array, Uint8Array> {
    return new TransformStream({
      transform: (chunk, controller) => {
        this.kick();
        controller.enqueue(chunk);
      },
    });
  }
}
