// The oracle of the interleaving harness: what the actors did (a history of S3-level operations with their
// start and end on one logical clock, and what each answered), checked against a sequential model of one S3
// bucket. The history is fine when some order of the operations that respects real time (an operation that
// ended before another began comes first) replays through the model with every acknowledged answer. So a read
// sees an old or a new value, never a mix or a 404 of a key that existed throughout; a final read (run after
// every actor ended) sees the last acknowledged write; a conditional create succeeds only into an empty key;
// an acknowledged write is never lost. A write that failed unexpectedly (500, thrown) may or may not have
// happened; a read that failed unexpectedly is a violation on its own.

/** What an operation answered: "ok", "absent" (NoSuchKey), "sha:<hex>" (bytes read), an S3 error code,
 *  or "unknown:<why>" for an unexpected failure. */
export type Answer = string;

export type Operation =
  | { kind: "put"; key: string; value: string; ifNoneMatch?: boolean }
  | { kind: "get"; key: string }
  | { kind: "delete"; key: string }
  | { kind: "deleteBucket" }
  | { kind: "headBucket" }
  | { kind: "complete"; upload: string; key: string; value: string }
  | { kind: "abort"; upload: string };

export interface Recorded {
  actor: string;
  op: Operation;
  invoke: number;
  end: number;
  answer: Answer;
}

export interface BucketModel {
  bucket: boolean;
  objects: Record<string, string>;
  uploads: Record<string, "open" | "completed" | "aborted">;
}

export class History {
  private clock = 0;
  readonly entries: Recorded[] = [];
  /** Readable names for values (sha256 hex → "v1"). */
  private readonly names = new Map<string, string>();

  name(sha: string, label: string): string {
    this.names.set(sha, label);
    return sha;
  }

  /** Runs one operation of `actor`, recording when it started and ended and what it answered. */
  async record(actor: string, op: Operation, run: () => Promise<Answer>): Promise<Answer> {
    const entry: Recorded = { actor, op, invoke: this.clock++, end: Number.POSITIVE_INFINITY, answer: "" };
    this.entries.push(entry);
    try {
      entry.answer = await run();
    } catch (error) {
      entry.answer = `unknown:${error instanceof Error ? error.message : String(error)}`;
    }
    entry.end = this.clock++;
    return entry.answer;
  }

  /** Problems found (empty when the history is linearizable against the model from `initial`). */
  check(initial: BucketModel): string[] {
    const failedReads = this.entries.filter((e) => isRead(e.op) && e.answer.startsWith("unknown:"));
    if (failedReads.length > 0) return failedReads.map((e) => `read failed: ${this.show(e)}`);
    const maybe = this.entries.filter((e) => e.answer.startsWith("unknown:"));
    // An unexpectedly failed write happened or not: try every subset of them left out.
    for (let mask = 0; mask < 1 << maybe.length; mask++) {
      const left = this.entries.filter((e) => !maybe.some((m, i) => m === e && (mask & (1 << i))));
      if (linearizable(left, initial)) return [];
    }
    return [`no order of the operations explains their answers:\n${this.entries.map((e) => `      ${this.show(e)}`).join("\n")}`];
  }

  show(e: Recorded): string {
    const value = (v: string) => this.names.get(v) ?? v.slice(0, 8);
    const op = e.op;
    const what = "key" in op ? `${op.kind} ${op.key}${"value" in op ? `=${value(op.value)}` : ""}${"ifNoneMatch" in op && op.ifNoneMatch ? " if-none-match:*" : ""}` : op.kind;
    const answer = e.answer.startsWith("sha:") ? value(e.answer.slice(4)) : e.answer;
    return `${e.actor} ${what} [${e.invoke}..${e.end}] → ${answer}`;
  }
}

function isRead(op: Operation): boolean {
  return op.kind === "get" || op.kind === "headBucket";
}

/** The model's answer ("a|b": either is right) and next state for one operation. */
export function apply(state: BucketModel, op: Operation): { answer: Answer; next: BucketModel } {
  const same = { answer: "ok", next: state };
  if (op.kind === "abort") {
    // Lenient on purpose: an Abort that races a Complete may answer 204 after the Complete took effect (the
    // object is kept; nothing acknowledged is lost), so "ok" for a completed upload is accepted too.
    if (state.uploads[op.upload] === "completed") return { answer: "ok|NoSuchUpload", next: state };
    if (state.uploads[op.upload] !== "open") return { answer: "NoSuchUpload", next: state };
    return { answer: "ok", next: { ...state, uploads: { ...state.uploads, [op.upload]: "aborted" } } };
  }
  if (!state.bucket) return { answer: "NoSuchBucket", next: state };
  switch (op.kind) {
    case "headBucket": return same;
    case "get": return { answer: op.key in state.objects ? `sha:${state.objects[op.key]}` : "absent", next: state };
    case "put":
      if (op.ifNoneMatch && op.key in state.objects) return { answer: "PreconditionFailed", next: state };
      return { answer: "ok", next: { ...state, objects: { ...state.objects, [op.key]: op.value } } };
    case "delete": {
      const objects = { ...state.objects };
      delete objects[op.key];
      return { answer: "ok", next: { ...state, objects } };
    }
    case "deleteBucket":
      if (Object.keys(state.objects).length > 0) return { answer: "BucketNotEmpty", next: state };
      return { answer: "ok", next: { ...state, bucket: false } };
    case "complete": {
      const upload = state.uploads[op.upload];
      if (upload === "completed") return same;
      if (upload !== "open") return { answer: "NoSuchUpload", next: state };
      return {
        answer: "ok",
        next: { ...state, objects: { ...state.objects, [op.key]: op.value }, uploads: { ...state.uploads, [op.upload]: "completed" } },
      };
    }
  }
}

/**
 * A write refused with ConditionalRequestConflict (a Complete that met another call of its upload, a
 * conditional write that met another write of its key) had no effect; S3 documents the answer for both.
 */
function conflictRefused(entry: Recorded): boolean {
  return entry.answer === "ConditionalRequestConflict" && (entry.op.kind === "complete" || entry.op.kind === "put");
}

/** Wing & Gong search: is there an order consistent with real time whose replay gives every answer? */
function linearizable(entries: Recorded[], initial: BucketModel): boolean {
  const seen = new Set<string>();
  const search = (state: BucketModel, remaining: Recorded[]): boolean => {
    if (remaining.length === 0) return true;
    const memo = `${remaining.map((e) => e.invoke).join(",")}|${JSON.stringify(state)}`;
    if (seen.has(memo)) return false;
    seen.add(memo);
    const firstEnd = Math.min(...remaining.map((e) => e.end));
    for (const entry of remaining) {
      if (entry.invoke > firstEnd) continue; // something else ended before this began: it must go first
      const { answer, next } = conflictRefused(entry) ? { answer: entry.answer, next: state } : apply(state, entry.op);
      const unknown = entry.answer.startsWith("unknown:");
      if (!unknown && !answer.split("|").includes(entry.answer)) continue;
      if (search(next, remaining.filter((e) => e !== entry))) return true;
    }
    return false;
  };
  return search(initial, entries);
}
