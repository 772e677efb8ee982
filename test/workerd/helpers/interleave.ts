// Interleaving harness: runs a few concurrent requests ("actors") so that their storage calls happen in an
// order the test chooses, one call at a time, and explores many such orders (every order for small cases,
// else seeded random ones that a failure names so they replay).
//
// Each actor talks to storage through its own gate (InterleavedBackend for a Backend, interleavedBinding for
// an R2 binding the S3 layer builds its backends from). A gated call waits until the scheduler grants it;
// the scheduler grants one call, lets that actor run until it is parked at its next call (or finished), then
// picks the next call among all parked ones. Only the call is granted, never the reads of a body it returned
// (an actor reads those as part of its own run). A call that cannot finish before another call of the same
// actor is granted (a PUT whose body stream reads staged parts) counts as parked as soon as that other call
// waits. An actor busy outside storage for `stallMs` is left behind (the others go on); when no actor waits at
// a call and none progresses for `stallMs`, the run fails with its schedule (deadlock).
//
// Actors coordinate through the bucket's real Durable Object (as isolates do). Each coordinator call is one
// step too (gatedCoordinator), granted like a storage call; a step that may wait for another actor (a begin()
// that waits for a conditional write of the key) counts as parked once it has not returned within `blockMs`.
// The object's own storage calls (deleting the other variant at commit, reference collection, the bucket
// sweep) are not gated: each runs inside its coordinator step, so relative to the actors' gated calls it is
// atomic. Orders inside the object are the object's locks' business (test/workerd/coordination-*.test.ts).
import type { BeginOptions, CommitFacts, Coordinator, ReferenceFacts, Variant } from "../../../src/coordination/api";
import type {
  Backend, BackendMultipart, ByteRange, ListOptions, ListPage, MultipartPart, PutOptions, StoredObject,
  StoredObjectBody,
} from "../../../src/storage/backend";

/** Picks one of `options` waiting calls (labels in a stable order). */
export type Chooser = (options: string[]) => number;

interface Waiting {
  actor: number;
  label: string;
  seq: number;
  grant(): void;
}

interface ActorState {
  done: boolean;
  error?: unknown;
  /** Granted calls still running. */
  inFlight: number;
  /** Granted calls that may wait for another actor and have not returned within blockMs. */
  blocked: number;
}

export class DeadlockError extends Error {}

export class Scheduler {
  private readonly waiting: Waiting[] = [];
  private readonly actors: ActorState[] = [];
  private seq = 0;
  private wake: (() => void) | null = null;
  /** Every granted call, in order: "<actor>:<label>". */
  readonly trace: string[] = [];
  /** The index chosen at each decision, and how many options it had. */
  readonly choices: Array<{ chosen: number; of: number }> = [];

  constructor(private readonly choose: Chooser, private readonly stallMs = 20_000, private readonly blockMs = 300) {}

  /**
   * Runs `call` as actor `actor`'s next step, once the scheduler grants it. `mayBlock`: the call may wait for
   * another actor's progress (a coordinator call), so after `blockMs` the actor counts as parked.
   */
  gate<T>(actor: number, label: string, call: () => Promise<T>, mayBlock = false): Promise<T> {
    const state = this.actors[actor];
    if (!state || state.done) return call(); // outside a run (setup, final reads) or after it ended
    return new Promise<void>((grant) => {
      this.waiting.push({ actor, label, seq: this.seq++, grant });
      this.changed();
    }).then(async () => {
      let blocked = false;
      const timer = mayBlock ? setTimeout(() => { blocked = true; state.blocked++; this.changed(); }, this.blockMs) : undefined;
      try {
        return await call();
      } finally {
        clearTimeout(timer);
        if (blocked) state.blocked--;
        state.inFlight--;
        this.changed();
      }
    });
  }

  /** Runs the actors to completion under this scheduler; rejects with DeadlockError when they stall. */
  async run(actors: Array<() => Promise<unknown>>): Promise<void> {
    actors.forEach(() => this.actors.push({ done: false, inFlight: 0, blocked: 0 }));
    const finished = actors.map((actor, id) => Promise.resolve().then(actor).then(
      () => this.finish(id),
      (error) => this.finish(id, error),
    ));
    try {
      let grantedSeq = -1;
      let grantedActor = -1;
      for (;;) {
        // Parked: every live actor waits at a call, and the call just granted has returned (or its actor waits
        // at a newer call that it depends on).
        await this.until(() => this.actors.every((a, id) => a.done || a.blocked > 0 || this.waitingOf(id).length > 0)
          && (this.waiting.length > 0 || this.actors.every((a) => a.done))
          && (grantedActor < 0 || this.actors[grantedActor].done || this.actors[grantedActor].inFlight === 0
            || this.actors[grantedActor].blocked > 0 || this.waitingOf(grantedActor).some((w) => w.seq > grantedSeq)));
        if (this.actors.every((a) => a.done)) break;
        const options = [...this.waiting].sort((a, b) => a.actor - b.actor || a.seq - b.seq);
        const chosen = options.length === 1 ? 0 : this.choose(options.map((w) => `${w.actor}:${w.label}`));
        if (options.length > 1) this.choices.push({ chosen, of: options.length });
        const step = options[chosen];
        this.waiting.splice(this.waiting.indexOf(step), 1);
        this.trace.push(`${step.actor}:${step.label}`);
        this.actors[step.actor].inFlight++;
        grantedSeq = step.seq;
        grantedActor = step.actor;
        step.grant();
      }
    } catch (error) {
      // A stalled run must not leave actors parked forever: let them through ungated (actors stuck outside
      // storage stay stuck; the run does not wait for them).
      this.actors.forEach((a) => { a.done = true; });
      for (const w of this.waiting.splice(0)) w.grant();
      throw error;
    }
    await Promise.all(finished);
  }

  /** The error an actor failed with (actors normally record their own outcomes and never throw). */
  errorOf(actor: number): unknown {
    return this.actors[actor]?.error;
  }

  private finish(id: number, error?: unknown): void {
    this.actors[id].done = true;
    this.actors[id].error = error;
    this.changed();
  }

  private waitingOf(actor: number): Waiting[] {
    return this.waiting.filter((w) => w.actor === actor);
  }

  private changed(): void {
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }

  private async until(condition: () => boolean): Promise<void> {
    while (!condition()) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const progressed = await Promise.race([
        new Promise<boolean>((resolve) => { this.wake = () => resolve(true); }),
        new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(false), this.stallMs); }),
      ]);
      clearTimeout(timer);
      if (!progressed && !condition()) {
        // Actors that stay busy outside storage (waiting on each other) must not hold back those parked at a
        // call: go on with the parked ones. Only when none is parked is the run stuck.
        if (this.waiting.length > 0) return;
        const live = this.actors.map((a, id) => (a.done ? null : `actor ${id} ${this.waitingOf(id).length ? "waiting" : "running"} (${a.inFlight} in flight)`)).filter(Boolean);
        throw new DeadlockError(`no progress for ${this.stallMs} ms: ${live.join(", ")}; schedule so far: ${this.trace.join(" → ")}`);
      }
    }
  }
}

/** A Backend whose every call (multipart calls included) is one step of `actor` under `scheduler`. */
export class InterleavedBackend implements Backend {
  constructor(private readonly inner: Backend, private readonly scheduler: Scheduler, private readonly actor: number) {}

  get name(): string {
    return this.inner.name;
  }

  head(key: string): Promise<StoredObject | null> {
    return this.step(`head ${key}`, () => this.inner.head(key));
  }

  get(key: string, range?: ByteRange): Promise<StoredObjectBody | null> {
    return this.step(`get ${key}${range ? " (range)" : ""}`, () => this.inner.get(key, range));
  }

  put(key: string, body: ReadableStream<Uint8Array> | Uint8Array | string, length: number, options?: PutOptions): Promise<StoredObject | null> {
    const condition = options?.onlyIfAbsent ? " if-absent" : options?.onlyIfEtag ? " if-etag" : "";
    return this.step(`put ${key}${condition}`, () => this.inner.put(key, body, length, options));
  }

  delete(keys: string[]): Promise<void> {
    return this.step(`delete ${keys.join(",")}`, () => this.inner.delete(keys));
  }

  list(options: ListOptions): Promise<ListPage> {
    return this.step(`list ${options.prefix ?? ""}`, () => this.inner.list(options));
  }

  async createMultipart(key: string, options?: PutOptions): Promise<BackendMultipart> {
    return this.gateParts(await this.step(`create-multipart ${key}`, () => this.inner.createMultipart(key, options)));
  }

  resumeMultipart(key: string, uploadId: string): BackendMultipart {
    return this.gateParts(this.inner.resumeMultipart(key, uploadId));
  }

  private step<T>(label: string, call: () => Promise<T>): Promise<T> {
    return this.scheduler.gate(this.actor, label, call);
  }

  private gateParts(upload: BackendMultipart): BackendMultipart {
    const step = this.step.bind(this);
    return {
      key: upload.key,
      uploadId: upload.uploadId,
      uploadPart: (n, body, length) => step(`upload-part ${upload.key} #${n}`, () => upload.uploadPart(n, body, length)),
      complete: (parts: MultipartPart[]) => step(`complete-multipart ${upload.key}`, () => upload.complete(parts)),
      abort: () => step(`abort-multipart ${upload.key}`, () => upload.abort()),
    };
  }
}

/**
 * A coordinator (the bucket's Durable Object, shared by every actor) whose every call is one step of `actor`.
 * begin(), claimSeed(), remove() and hold() may wait for another actor's call, so they count as parked after blockMs.
 */
export function gatedCoordinator(inner: Coordinator, scheduler: Scheduler, actor: number): Coordinator {
  const step = <T>(label: string, call: () => Promise<T>, mayBlock = false) => scheduler.gate(actor, `coordinator ${label}`, call, mayBlock);
  return {
    begin: (key: string, options?: BeginOptions) => step(`begin ${key}${options?.exclusive ? " exclusive" : ""}`, () => inner.begin(key, options), true),
    commit: (ticket: number, variant: Variant, facts?: CommitFacts) => step(`commit ${variant}`, () => inner.commit(ticket, variant, facts)),
    abort: (ticket: number) => step("abort", () => inner.abort(ticket)),
    claimSeed: (ticket: number) => step("claim-seed", () => inner.claimSeed(ticket), true),
    seedDone: (ticket: number, reference?: ReferenceFacts) => step("seed-done", () => inner.seedDone(ticket, reference)),
    remove: (keys: string[]) => step(`remove ${keys.join(",")}`, () => inner.remove(keys), true),
    deleteBucket: () => step("delete-bucket", () => inner.deleteBucket()),
    hold: (name: string, options?: BeginOptions) => step(`hold ${name}${options?.exclusive ? " exclusive" : ""}`, () => inner.hold(name, options), true),
    release: (ticket: number) => step("release", () => inner.release(ticket)),
    // Reading or rebuilding the totals is no step of a scenario.
    savings: (options) => inner.savings(options),
    rebuildSavings: (cursor, limit) => inner.rebuildSavings(cursor, limit),
  };
}

/**
 * The same gate one level lower, for code that builds its own backends from bindings (the S3 handler's
 * BucketRegistry): an R2 binding whose calls are steps of `actor`. `resumeMultipartUpload` makes no request;
 * the calls on the upload it returns are steps.
 */
export function interleavedBinding(bucket: R2Bucket, scheduler: Scheduler, actor: number): R2Bucket {
  const gateMethods = <T extends object>(target: T, describe: (method: string, args: unknown[]) => string, local: string[] = []): T =>
    new Proxy(target, {
      get(object, property) {
        const value = Reflect.get(object, property, object);
        if (typeof value !== "function" || typeof property !== "string") return value;
        if (local.includes(property)) {
          return (...args: unknown[]) => {
            const upload = value.apply(object, args) as R2MultipartUpload;
            return gateMethods(upload, (method) => `${method} ${upload.key}`);
          };
        }
        return (...args: unknown[]) => scheduler.gate(actor, describe(property, args), () => value.apply(object, args));
      },
    });
  return gateMethods(bucket, (method, args) => {
    const first = args[0];
    const what = typeof first === "string" ? first : Array.isArray(first) ? first.join(",") : (first as { prefix?: string } | undefined)?.prefix ?? "";
    const conditional = method === "put" && (args[2] as R2PutOptions | undefined)?.onlyIf ? " if" : "";
    return `${method} ${what}${conditional}`;
  }, ["resumeMultipartUpload"]);
}

/** Deterministic PRNG (xorshift32) for seeded schedules. */
export function seededChooser(seed: number): Chooser {
  let x = (seed * 2654435761) >>> 0 || 1;
  return (options) => {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    return x % options.length;
  };
}

/** Follows `prefix` (choice indexes), then always takes the first option. */
export function prefixChooser(prefix: number[]): Chooser {
  let at = 0;
  return () => (at < prefix.length ? prefix[at++] : (at++, 0));
}

/** The next schedule of a depth-first walk over every interleaving, or null when all were run. */
export function nextPrefix(choices: Array<{ chosen: number; of: number }>): number[] | null {
  for (let i = choices.length - 1; i >= 0; i--) {
    if (choices[i].chosen + 1 < choices[i].of) return [...choices.slice(0, i).map((c) => c.chosen), choices[i].chosen + 1];
  }
  return null;
}

export type Replay = { seed: number } | { prefix: number[] };

export interface ExploreOptions {
  /** Walk every interleaving depth-first, up to this many runs. */
  exhaustive?: number;
  /** Then (or instead) this many seeded random schedules, seeds base..base+n-1. */
  seeds?: number;
  seedBase?: number;
  /** Given schedules first (a failure's "replay" values, pinned so a known window is always visited). */
  replay?: Replay | Replay[];
}

export interface RunFailure {
  schedule: string;
  trace: string[];
  problems: string[];
}

export interface ExploreReport {
  runs: number;
  /** True when the exhaustive walk ran every interleaving. */
  complete: boolean;
  failures: RunFailure[];
  /** Decisions with more than one option, max over runs (a size for the interleaving space). */
  maxDecisions: number;
  ms: number;
}

/**
 * One run: `once(scheduler, run)` sets up fresh state (run is a distinct number, for unique keys), runs its
 * actors with `scheduler.run` and returns the problems the oracle found (empty: the run was fine).
 */
export type RunOnce = (scheduler: Scheduler, run: number) => Promise<string[]>;

export async function explore(once: RunOnce, options: ExploreOptions): Promise<ExploreReport> {
  const started = Date.now();
  const report: ExploreReport = { runs: 0, complete: false, failures: [], maxDecisions: 0, ms: 0 };
  const attempt = async (chooser: Chooser, schedule: string) => {
    const scheduler = new Scheduler(chooser);
    let problems: string[];
    try {
      problems = await once(scheduler, report.runs);
    } catch (error) {
      problems = [`run failed: ${error instanceof Error ? error.message : String(error)}`];
    }
    report.runs++;
    report.maxDecisions = Math.max(report.maxDecisions, scheduler.choices.length);
    if (problems.length > 0) report.failures.push({ schedule, trace: scheduler.trace, problems });
    return scheduler;
  };

  for (const replay of [options.replay ?? []].flat()) {
    await ("seed" in replay
      ? attempt(seededChooser(replay.seed), `seed ${replay.seed}`)
      : attempt(prefixChooser(replay.prefix), `prefix [${replay.prefix}]`));
  }
  if (options.exhaustive) {
    let prefix: number[] | null = [];
    while (prefix && report.runs < options.exhaustive) {
      const scheduler = await attempt(prefixChooser(prefix), `prefix [${prefix}]`);
      prefix = nextPrefix(scheduler.choices);
    }
    report.complete = prefix === null;
  }
  const base = options.seedBase ?? 1;
  for (let seed = base; seed < base + (options.seeds ?? 0); seed++) await attempt(seededChooser(seed), `seed ${seed}`);
  report.ms = Date.now() - started;
  return report;
}

/** A readable summary of a report's failures (the first few), naming the schedules that replay them. */
export function describeFailures(report: ExploreReport, max = 3): string {
  return report.failures.slice(0, max).map((f) =>
    `[${f.schedule}] ${f.problems.join("; ")}\n    schedule: ${f.trace.join(" → ")}`).join("\n");
}
