// The delta engine: DeltaGlider semantics over one Backend (one S3 bucket). The protocol layer builds one
// per bucket and calls it with keys, streams and typed options; it never sees HTTP.
import type { DeleteOutcome, ListInput, ListResult, ObjectEngine, OpenedObject, OpenOptions, PutInput, PutResult } from "./api";
import type { Backend } from "../storage/backend";
import { resolveEngineConfig, type EngineConfig } from "./config";
import type { DeltaCodec, EngineContext, EngineOptions } from "./context";
import { objectChangedCause } from "../errors";
import { STAGING_PREFIX } from "./deltaspace";
import { openObject } from "./fetch";
import { listObjects } from "./list";
import { LocalCoordinator } from "../coordination/local";
import { BackendKeyspace } from "./keyspace";
import { deleteObject, deleteObjects } from "./remove";
import { storeObject } from "./store";
import { scrubPage, type ScrubPage, type ScrubRequest } from "./scrub";
import {
  evaluateRebaseline, rebaseline, type RebaselineEvaluation, type RebaselineOptions, type RebaselineProgress,
} from "./rebaseline";

/** How often a read that meets a concurrent overwrite resolves the key again before giving up. */
const READ_ATTEMPTS = 4;

export class DeltaEngine implements ObjectEngine {
  private readonly ctx: EngineContext;

  /**
   * @param codec the streaming codec (the Worker's is built once, by src/wiring.ts); without one, everything
   *   is stored passthrough and stored deltas cannot be read (InternalError).
   * @param options.referenceCache e.g. a src/cache ReferenceBlockCache (one per isolate).
   * @param options.rebuiltCache e.g. a src/cache RebuiltObjectCache (off when absent).
   */
  constructor(
    backend: Backend,
    config: EngineConfig | Partial<EngineConfig> = {},
    codec?: DeltaCodec,
    options: EngineOptions = {},
  ) {
    this.ctx = {
      backend,
      config: resolveEngineConfig(config),
      codec,
      referenceCache: options.referenceCache,
      rebuiltCache: options.rebuiltCache,
      listMetadata: options.listMetadata ?? "all",
      coordinator: options.coordinator ?? new LocalCoordinator(new BackendKeyspace(backend)),
    };
  }

  get config(): EngineConfig {
    return this.ctx.config;
  }

  open(key: string, options: OpenOptions = {}): Promise<OpenedObject | null> {
    return openObject(this.ctx, key, options);
  }

  async withObject<T>(key: string, options: OpenOptions, use: (opened: OpenedObject) => Promise<T>): Promise<T | null> {
    for (let attempt = 1; ; attempt++) {
      const opened = await openObject(this.ctx, key, options);
      if (!opened) return null;
      try {
        return await use(opened);
      } catch (error) {
        // Each retry resolves what was committed since; a key overwritten this often is a hot spot, not a race.
        if (attempt >= READ_ATTEMPTS || !objectChangedCause(error)) throw error;
      } finally {
        await opened.discard();
      }
    }
  }

  put(key: string, input: PutInput): Promise<PutResult> {
    return storeObject(this.ctx, key, input);
  }

  delete(key: string): Promise<void> {
    return deleteObject(this.ctx, key);
  }

  deleteMany(keys: string[]): Promise<DeleteOutcome[]> {
    return deleteObjects(this.ctx, keys);
  }

  list(input: ListInput): Promise<ListResult> {
    return listObjects(this.ctx, input);
  }

  /** DeleteBucket through the coordinator: BucketNotEmpty while an object exists or a write is open. */
  deleteBucket(): Promise<void> {
    return this.ctx.coordinator.deleteBucket();
  }

  async holdUpload(name: string, exclusive = false): Promise<() => Promise<void>> {
    const coordinator = this.ctx.coordinator;
    const ticket = await coordinator.hold(name, { exclusive });
    return () => coordinator.release(ticket).catch((error) => console.warn(`engine: could not release upload hold: ${error}`));
  }

  async isEmpty(): Promise<boolean> {
    const page = await this.list({ maxKeys: 1 });
    return page.objects.length === 0;
  }

  /** One bounded page of a scrub: every stored object after `after` under the prefix proven against its SHA-256 (reads only). */
  scrub(request: ScrubRequest): Promise<ScrubPage> {
    return scrubPage(this.ctx, request);
  }

  /** Move a deltaspace onto another reference and re-encode its objects, as far as `options.maxMs` allows (rebaseline.ts). */
  rebaseline(deltaspace: string, options?: RebaselineOptions): Promise<RebaselineProgress> {
    return rebaseline(this.ctx, deltaspace, options);
  }

  /** The deltaspace's stored size now, and estimated with each candidate reference (reads only). */
  evaluateRebaseline(deltaspace: string): Promise<RebaselineEvaluation> {
    return evaluateRebaseline(this.ctx, deltaspace);
  }

  /**
   * Remove staged uploads and spilled delta parts older than `olderThanMs` (left behind by an isolate that
   * died mid-PUT). For a scheduled handler. Returns how many objects were removed.
   */
  async sweepStaging(olderThanMs = 24 * 3600 * 1000, now = Date.now()): Promise<number> {
    let removed = 0;
    let cursor: string | undefined;
    do {
      const page = await this.ctx.backend.list({ prefix: STAGING_PREFIX, cursor, limit: 1000 });
      const stale = page.objects.filter((o) => now - o.lastModified.getTime() > olderThanMs).map((o) => o.key);
      if (stale.length) await this.ctx.backend.delete(stale);
      removed += stale.length;
      cursor = page.cursor;
    } while (cursor);
    return removed;
  }
}
