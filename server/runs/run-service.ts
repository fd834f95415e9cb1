import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import { WorkspaceRejectedError } from '../archive/workspace-rejected-error.js';
import type { Config } from '../config/config.js';
import { RunStop } from '../domain/run-error.js';
import { STORAGE_FULL_MESSAGE } from '../domain/storage-full.js';
import type { Telemetry } from '../telemetry/telemetry.js';
import { AdmissionFullError, type Admission } from './admission.js';
import { EventStreams } from './event-streams.js';
import type { ExecutorDeps } from './executor.js';
import { newRunRecord, type LifecycleDeps, type RunLineage } from './live-run.js';
import { LiveRuns } from './live-runs.js';
import { RootDiffs } from './root-diff.js';
import type { ArtifactKind, WorkspaceFormat, RunArtifacts } from './run-artifacts.js';
import type { RunOptions, RunPlan } from './run-plan.js';
import { recoverRuns, type RecoveryReport } from './run-recovery.js';
import { RunRefusedError } from './run-refused.js';
import type { RunCursor, RunStore } from './run-store.js';
import type { RunStatusEvent, RunStreamEvent } from './run-wire.js';
import type { StorageHealth } from './storage-health.js';
import type { HeldStream } from './stream-slots.js';
import { UnsavedEnds } from './unsaved-ends.js';
import { mayUsePool, runSandboxShape } from './pool-shape.js';
import { WorkspacePreload } from './workspace-preload.js';
import { runView, type Run, type RunStatus } from './run.js';
import type { BaselineScan } from '../tree-diff/baseline-scan.js';

const MiB = 1024 * 1024;

export interface CreateRunInput {
  tenant: string;
  prompt: string;
  options: RunOptions;
  /** A validated tar spooled by the caller; the service takes it over (moves it) once the run is accepted. */
  workspaceTar: string | null;
  /** Its bytes in the sandbox: more than the run's workspace_mb is refused (the upload may have come before the options). */
  workspaceBytes?: number;
  /** The spooler's scan of it, which the run's diff then needs not make again. */
  workspaceScan?: BaselineScan;
  /** Spooled images, in their order (`--image`); taken over (moved) like the workspace. */
  images?: { path: string; type: string }[];
  /** A follow-up's parent, root and thread: its parent's session is taken with it. */
  lineage?: RunLineage;
  /** The sandbox the workspace went into as it was spooled (preloadWorkspace): the service owns it from this call on. */
  preload?: WorkspacePreload | null;
}

export interface RunServiceDeps {
  executor: ExecutorDeps;
  /** Decides a tenant's run's provider, model, timeout and budget (`planRun` bound to the config). */
  plan: (tenant: string, options: RunOptions) => RunPlan;
  admission: Admission;
  store: RunStore;
  artifacts: RunArtifacts;
  telemetry: Telemetry;
  /** Told of each run once its end is recorded (completion webhooks). */
  onEnded?: (run: Run) => void;
  limits: Pick<Config['limits'], 'runMaxEvents' | 'runMaxEventLogMb' | 'eventLineMaxKb' | 'maxEventStreamsPerTenant'>;
  /** Why the container engine cannot take runs now, if it cannot. */
  engineProblem?: () => string | null;
  /** Whether the data_dir has room; told of writes that failed for want of it. */
  storage?: Pick<StorageHealth, 'problem' | 'noteFailure'>;
  log: Logger;
}

/** Accepts runs, hands them to admission, and is the one owner of each live run until it ends. */
export class RunService {
  private readonly live: LiveRuns;
  private readonly streams: EventStreams;
  private readonly lifecycle: LifecycleDeps;
  private readonly unsaved: UnsavedEnds;
  private readonly rootDiffs: RootDiffs;
  private accepting = true;
  /** Sandboxes claimed for uploads and not yet taken by a run or removed: shutdown removes what no run took. */
  private readonly preloads = new Set<WorkspacePreload>();

  constructor(private readonly deps: RunServiceDeps) {
    this.streams = new EventStreams(deps.limits);
    this.rootDiffs = new RootDiffs(deps.artifacts);
    this.unsaved = new UnsavedEnds({ store: deps.store, appendEvent: (file, event) => this.streams.appendToEnded(file, 'run', event), log: deps.log });
    this.lifecycle = {
      executor: deps.executor,
      store: deps.store,
      artifacts: deps.artifacts,
      telemetry: deps.telemetry,
      onEnded: deps.onEnded,
      storage: deps.storage,
      unsaved: this.unsaved,
      log: deps.log,
    };
    this.live = new LiveRuns({ admission: deps.admission, lifecycle: this.lifecycle, log: deps.log });
  }

  /**
   * Throws what create() would for want of room or for its options, so an upload can be refused
   * before it is read; returns the plan the options make.
   */
  checkAdmission(tenant: string, options?: RunOptions): RunPlan | undefined {
    if (!this.accepting) throw new RunRefusedError('shutting_down', 'the server is shutting down');
    const engine = this.deps.engineProblem?.();
    if (engine) throw new RunRefusedError('engine_unavailable', `${engine}; retry later`);
    const storage = this.deps.storage?.problem;
    if (storage) throw new RunRefusedError('storage_full', `${storage}; retry later`);
    const full = this.deps.admission.refusal(tenant);
    if (full) throw new RunRefusedError('queue_full', `${full.message}; retry later`, full.retryAfterS);
    return options && this.deps.plan(tenant, options);
  }

  /**
   * A pooled sandbox of the plan's shape for the tenant's upload to go into while it is spooled, when
   * a run submitted now would start at once; null when none waits or the run would not start now.
   * The caller owns it until it hands it to create(), and discards it if it never does.
   */
  preloadWorkspace(tenant: string, options: RunOptions = {}): WorkspacePreload | null {
    const { pool, access, config } = this.deps.executor;
    if (!pool || !this.accepting || !this.deps.admission.startsNow(tenant)) return null;
    let plan: RunPlan;
    try {
      plan = this.deps.plan(tenant, options);
    } catch {
      // The run is refused for its options once they are all read: nothing is claimed for it.
      return null;
    }
    if (!mayUsePool(access, plan)) return null;
    const shape = runSandboxShape(config, plan);
    const preload = new WorkspacePreload(pool.claim(shape), shape, this.deps.log.child({ tenant }));
    this.preloads.add(preload);
    void preload.settled.then(() => this.preloads.delete(preload));
    return preload;
  }

  /** Resolves once the run, its prompt and its upload are durable: a crash from then on loses none of them. */
  async create(input: CreateRunInput): Promise<Run> {
    try {
      return await this.createDurably(input);
    } catch (err) {
      // Removed off the answer's path; shutdown awaits it.
      void input.preload?.discard();
      if (!this.deps.storage?.noteFailure(err)) throw err;
      this.deps.log.error({ err, tenant: input.tenant }, 'could not store a new run');
      throw new RunRefusedError('storage_full', `${STORAGE_FULL_MESSAGE}: the run could not be stored; retry later`);
    }
  }

  private async createDurably(input: CreateRunInput): Promise<Run> {
    if (!this.accepting) throw new RunRefusedError('shutting_down', 'the server is shutting down');
    const plan = this.deps.plan(input.tenant, input.options);
    if ((input.workspaceBytes ?? 0) > plan.limits.workspaceMb * MiB) {
      throw new WorkspaceRejectedError('too_large', `the workspace's ${input.workspaceBytes} bytes exceed the run's workspace_mb of ${plan.limits.workspaceMb}`);
    }
    const id = `run_${randomBytes(10).toString('hex')}`;
    const files = await this.deps.artifacts.create(id);
    try {
      if (input.workspaceTar) await this.deps.artifacts.takeInput(id, input.workspaceTar, input.workspaceScan);
      if (input.images?.length) await this.deps.artifacts.takeImages(id, input.images);
      if (input.lineage) await this.deps.artifacts.takeParentSession(id, input.lineage.parentId);
      const run = newRunRecord(id, input.tenant, plan, input.lineage);
      await this.deps.store.insert(run, { prompt: input.prompt, options: input.options, hasInput: Boolean(input.workspaceTar) });
      const events = this.streams.createLog(files.events, (n) => (run.eventsDropped = n));
      events.append('run', { type: 'run.queued', run: runView(run) } satisfies RunStatusEvent);
      try {
        this.live.enqueue(run, input.prompt, plan, files, Boolean(input.workspaceTar), events, input.preload);
      } catch (err) {
        await events.close();
        await this.deps.store.delete(id);
        if (err instanceof AdmissionFullError) throw new RunRefusedError('queue_full', `${err.message}; retry later`, err.retryAfterS);
        throw err;
      }
      this.deps.telemetry.runQueued(input.tenant);
      return { ...run };
    } catch (err) {
      await this.deps.artifacts.remove(id);
      throw err;
    }
  }

  /**
   * At startup, before serving: ends the runs an earlier process left running (`interrupted`) and
   * queues again, in their order, the ones it left waiting.
   */
  async recover(): Promise<RecoveryReport> {
    const report = await recoverRuns({
      store: this.deps.store,
      artifacts: this.deps.artifacts,
      lifecycle: this.lifecycle,
      plan: this.deps.plan,
      resumeLog: (run, file) => this.streams.resumeLog(file, (n) => (run.eventsDropped = n)),
      requeue: ({ run, submission, plan, files, events }) => {
        this.live.enqueue(run, submission.prompt, plan, files, submission.hasInput, events);
        this.deps.telemetry.runQueued(run.tenant);
      },
    });
    if (report.interrupted || report.requeued || report.refused) this.deps.log.warn(report, 'recovered the runs an earlier process left unfinished');
    return report;
  }

  async get(tenant: string, id: string): Promise<Run | undefined> {
    const run = this.live.get(id)?.run ?? this.unsaved.get(id) ?? (await this.deps.store.get(id));
    return run && run.tenant === tenant ? { ...run } : undefined;
  }

  /** A page of the tenant's runs, newest first, and where the next page starts (null on the last). */
  async list(tenant: string, query: { status?: RunStatus; limit: number; after?: RunCursor }): Promise<{ runs: Run[]; next: RunCursor | null }> {
    const found = await this.deps.store.list({ tenant, ...query, limit: query.limit + 1 });
    // A live run's record is the one in memory (its dropped-events count is saved only at its end).
    const runs = found.slice(0, query.limit).map((r) => ({ ...(this.live.get(r.id)?.run ?? this.unsaved.get(r.id) ?? r) }));
    const last = runs.at(-1);
    return { runs, next: found.length > query.limit && last ? { createdAt: last.createdAt, id: last.id } : null };
  }

  /** A waiting run's place in line (1 starts next); null when it is not waiting. */
  queuePosition(id: string): number | null {
    return this.deps.admission.position(id);
  }

  /** An ended run's diff or workspace; the caller has checked that the run has it. */
  openArtifact(run: Pick<Run, 'id'>, kind: ArtifactKind, format?: WorkspaceFormat): Promise<Readable> {
    return this.deps.artifacts.open(run.id, kind, format);
  }

  /** A follow-up's diff against its conversation's first upload (RootDiffError when it cannot be made); the caller has checked that the run has its workspace. */
  async openRootDiff(run: Run): Promise<Readable> {
    const rootId = run.rootId ?? run.id;
    return this.rootDiffs.open(run, await this.get(run.tenant, rootId), (await this.deps.store.submission(rootId))?.hasInput ?? false);
  }

  async cancel(tenant: string, id: string): Promise<Run | undefined> {
    const entry = this.live.get(id);
    if (!entry) return this.get(tenant, id);
    if (entry.run.tenant !== tenant) return undefined;
    await this.live.stop(entry, new RunStop('cancelled', { code: 'cancelled', message: 'run cancelled by the client' }));
    return this.get(tenant, id);
  }

  /** Resolves once the run has ended (or at once if it has), or when the signal aborts. */
  waitForEnd(id: string, signal?: AbortSignal): Promise<void> {
    return this.live.waitForEnd(id, signal);
  }

  /**
   * The run's events after `afterSeq`, live until the run ends, read only as fast as the caller
   * iterates. Takes one of the tenant's event-stream slots (TooManyStreamsError when none is free)
   * and holds it until the stream ends or the caller's `return()`: call it in a `finally`.
   */
  events(run: Pick<Run, 'id' | 'tenant'>, afterSeq: number, signal?: AbortSignal): HeldStream<RunStreamEvent> {
    // Only the wire's events are ever appended (here, in live-run.ts, codex-phase.ts and the log's own truncation mark).
    return this.streams.open(run, { live: this.live.get(run.id)?.events, file: this.deps.artifacts.files(run.id).events }, afterSeq, signal) as HeldStream<RunStreamEvent>;
  }

  /** How many event streams the tenant holds open. */
  eventStreams(tenant: string): number {
    return this.streams.count(tenant);
  }

  /** Writes the ends held in memory while the data_dir was full; those that still do not fit wait for the next call. */
  flushUnsaved(): Promise<void> {
    return this.unsaved.flush();
  }

  /** Runs that own a sandbox now or may start one. */
  liveRunIds(): ReadonlySet<string> {
    return this.live.ids();
  }

  get stats() {
    return this.deps.admission.stats();
  }

  /**
   * Stops accepting runs, leaves the waiting ones queued in the store for the next start (the
   * restart's recovery queues them again, in their order), gives running ones `graceS` to end,
   * then cancels the rest and waits for them.
   */
  async shutdown(graceS: number): Promise<void> {
    this.accepting = false;
    const kept = await this.live.keepQueuedForRestart();
    if (kept) this.deps.log.info({ runs: kept }, 'left the waiting runs queued for the next start');
    await this.live.drain(graceS, new RunStop('cancelled', { code: 'shutdown', message: 'the server shut down before the run ended' }));
    await Promise.all([...this.preloads].map((preload) => preload.discard()));
    await this.unsaved.flush();
    if (this.unsaved.size) this.deps.log.error({ runIds: this.unsaved.ids() }, 'the ends of these runs could not be written for want of space: a restart will call them interrupted');
  }
}
