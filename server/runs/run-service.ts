import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { Config } from '../config/config.js';
import { ApiError } from '../http/api-error.js';
import type { EventLog, RunEvent } from './event-log.js';
import { EventStreams } from './event-streams.js';
import { executeRun, RunAbort, type ExecutorDeps, type RunResult } from './executor.js';
import { runFiles, type RunFiles } from './run-files.js';
import { QueueFullError, RunQueue } from './run-queue.js';
import type { RunStore } from './run-store.js';
import type { HeldStream } from './stream-slots.js';
import { canTransition, runView, type Run, type RunStatus } from './run.js';

export interface CreateRunInput {
  tenant: string;
  prompt: string;
  provider: string;
  model: string;
  timeoutS: number;
  /** A validated tar spooled by the caller; the service takes it over (moves it) once the run is accepted. */
  workspaceTar: string | null;
}

interface LiveRun {
  run: Run;
  prompt: string;
  files: RunFiles;
  events: EventLog;
  controller: AbortController;
  ended: Promise<void>;
  markEnded: () => void;
}

export interface RunServiceDeps extends ExecutorDeps {
  config: Config;
  /** Why the container engine cannot take runs now, if it cannot. */
  engineProblem?: () => string | null;
  store: RunStore;
  log: Logger;
}

/** Accepts runs, queues them, executes them, and is the one owner of each live run until it ends. */
export class RunService {
  private readonly live = new Map<string, LiveRun>();
  private readonly queue: RunQueue;
  private readonly streams: EventStreams;
  private accepting = true;

  constructor(private readonly deps: RunServiceDeps) {
    this.queue = new RunQueue(deps.config.limits.maxConcurrentRuns, deps.config.limits.maxQueuedRuns);
    this.streams = new EventStreams(deps.config);
  }

  /** Throws what create() would for want of room, so an upload can be refused before it is read. */
  checkAdmission(): void {
    if (!this.accepting) throw new ApiError('shutting_down', 'the server is shutting down');
    const engine = this.deps.engineProblem?.();
    if (engine) throw new ApiError('not_ready', `${engine}; retry later`);
    if (!this.queue.hasRoom()) throw new ApiError('queue_full', 'too many runs are waiting; retry later');
  }

  async create(input: CreateRunInput): Promise<Run> {
    if (!this.accepting) throw new ApiError('shutting_down', 'the server is shutting down');
    const id = `run_${randomBytes(10).toString('hex')}`;
    const files = runFiles(this.deps.config.server.dataDir, id);
    await mkdir(files.dir, { recursive: true });
    try {
      if (input.workspaceTar) await rename(input.workspaceTar, files.inputTar);
      const run: Run = {
        id,
        tenant: input.tenant,
        status: 'queued',
        createdAt: new Date(),
        startedAt: null,
        finishedAt: null,
        provider: input.provider,
        model: input.model,
        timeoutS: input.timeoutS,
        exitCode: null,
        finalMessage: null,
        usage: null,
        error: null,
        changes: null,
        providerUsage: null,
        hasDiff: false,
        hasWorkspace: false,
        leftOut: [],
        artifactProblem: null,
        eventsDropped: 0,
      };
      let markEnded!: () => void;
      const ended = new Promise<void>((r) => (markEnded = r));
      const entry: LiveRun = { run, prompt: input.prompt, files, events: this.streams.createLog(files.events, (n) => (run.eventsDropped = n)), controller: new AbortController(), ended, markEnded };
      entry.events.append('run', { type: 'run.queued', run: runView(run) });
      this.deps.store.insert(run);
      this.live.set(id, entry);
      try {
        // The queue must get a job that never rejects: an unhandled rejection would end the process.
        this.queue.submit(id, () =>
          this.execute(entry, Boolean(input.workspaceTar)).catch((err) => this.deps.log.error({ err, runId: id }, 'run bookkeeping failed')),
        );
      } catch (err) {
        this.live.delete(id);
        await entry.events.close();
        if (err instanceof QueueFullError) throw new ApiError('queue_full', 'too many runs are waiting; retry later');
        throw err;
      }
      return { ...run };
    } catch (err) {
      await rm(files.dir, { recursive: true, force: true });
      throw err;
    }
  }

  get(tenant: string, id: string): Run | undefined {
    const run = this.live.get(id)?.run ?? this.deps.store.get(id);
    return run && run.tenant === tenant ? { ...run } : undefined;
  }

  files(id: string): RunFiles {
    return runFiles(this.deps.config.server.dataDir, id);
  }

  async cancel(tenant: string, id: string): Promise<Run | undefined> {
    const entry = this.live.get(id);
    if (!entry) return this.get(tenant, id);
    if (entry.run.tenant !== tenant) return undefined;
    await this.stop(entry, new RunAbort('cancelled', { code: 'cancelled', message: 'run cancelled by the client' }));
    return this.get(tenant, id);
  }

  /** Resolves once the run has ended (or at once if it has), or when the signal aborts. */
  async waitForEnd(id: string, signal?: AbortSignal): Promise<void> {
    const entry = this.live.get(id);
    if (!entry) return;
    await new Promise<void>((resolve) => {
      entry.ended.then(resolve);
      signal?.addEventListener('abort', () => resolve(), { once: true });
    });
  }

  /**
   * The run's events after `afterSeq`, live until the run ends, read only as fast as the caller
   * iterates. Takes one of the tenant's event-stream slots (TooManyStreamsError when none is free)
   * and holds it until the stream ends or the caller's `return()`: call it in a `finally`.
   */
  events(run: Pick<Run, 'id' | 'tenant'>, afterSeq: number, signal?: AbortSignal): HeldStream<RunEvent> {
    return this.streams.open(run, { live: this.live.get(run.id)?.events, file: this.files(run.id).events }, afterSeq, signal);
  }

  /** How many event streams the tenant holds open. */
  eventStreams(tenant: string): number {
    return this.streams.count(tenant);
  }

  /** Runs that own a sandbox now or may start one. */
  liveRunIds(): ReadonlySet<string> {
    return new Set(this.live.keys());
  }

  get stats() {
    return this.queue.stats;
  }

  /** Stops accepting runs, gives running ones `graceS` to end, then cancels the rest and waits for them. */
  async shutdown(graceS: number): Promise<void> {
    this.accepting = false;
    const all = () => Promise.all([...this.live.values()].map((e) => e.ended));
    const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), graceS * 1000).unref());
    if ((await Promise.race([all(), timer])) === 'timeout') {
      const abort = new RunAbort('cancelled', { code: 'shutdown', message: 'the server shut down before the run ended' });
      await Promise.all([...this.live.values()].map((entry) => this.stop(entry, abort)));
    }
  }

  /** Ends a run early: a waiting one never starts, a running one is aborted (its sandbox removed). */
  private async stop(entry: LiveRun, abort: RunAbort): Promise<void> {
    if (entry.run.status === 'queued' && this.queue.withdraw(entry.run.id)) {
      await this.finish(entry, { ...notRun, status: abort.status, error: abort.runError });
    } else {
      entry.controller.abort(abort);
    }
    await entry.ended;
  }

  private async execute(entry: LiveRun, hasInput: boolean): Promise<void> {
    const { run } = entry;
    const log = this.deps.log.child({ runId: run.id, tenant: run.tenant });
    let result: RunResult;
    try {
      this.transition(entry, 'running');
      run.startedAt = new Date();
      this.deps.store.update(run);
      entry.events.append('run', { type: 'run.started', run: runView(run) });
      const timeout = setTimeout(
        () => entry.controller.abort(new RunAbort('timed_out', { code: 'timeout', message: `run exceeded its timeout of ${run.timeoutS} s` })),
        run.timeoutS * 1000,
      );
      try {
        const provider = this.deps.config.providers[run.provider]!;
        const tenant = this.deps.config.tenants.find((t) => t.name === run.tenant);
        result = await executeRun(this.deps, {
          run,
          budget: {
            maxRequests: tenant?.runMaxRequests ?? this.deps.config.limits.runMaxRequests,
            maxTokens: tenant?.runMaxTokens ?? this.deps.config.limits.runMaxTokens,
          },
          fail: (error) => entry.controller.abort(new RunAbort('failed', error)),
          prompt: entry.prompt,
          provider,
          files: entry.files,
          hasInput,
          events: entry.events,
          signal: entry.controller.signal,
          log,
        });
      } finally {
        clearTimeout(timeout);
      }
    } catch (err) {
      log.error({ err }, 'run crashed');
      result = { ...notRun, status: 'failed', error: { code: 'internal', message: 'internal error while running' } };
    }
    await this.finish(entry, result);
  }

  private async finish(entry: LiveRun, result: RunResult): Promise<void> {
    const { run } = entry;
    this.transition(entry, result.status);
    Object.assign(run, {
      finishedAt: new Date(),
      exitCode: result.exitCode,
      finalMessage: result.finalMessage,
      usage: result.usage,
      error: result.error,
      changes: result.changes,
      providerUsage: result.providerUsage,
      hasDiff: result.hasDiff,
      hasWorkspace: result.hasWorkspace,
      leftOut: result.leftOut,
      artifactProblem: result.artifactProblem,
    });
    this.deps.store.update(run);
    entry.events.append('run', { type: `run.${run.status}`, run: runView(run) });
    await entry.events.close().catch((err) => this.deps.log.error({ err, runId: run.id }, 'could not close the event log'));
    await rm(entry.files.inputTar, { force: true });
    // What a run could not finish is never served: a half-written diff or workspace goes.
    if (!result.hasDiff) await rm(entry.files.diff, { force: true });
    if (!result.hasWorkspace) await rm(entry.files.workspace, { force: true });
    this.live.delete(run.id);
    entry.markEnded();
  }

  private transition(entry: LiveRun, to: RunStatus): void {
    if (!canTransition(entry.run.status, to)) throw new Error(`run ${entry.run.id}: ${entry.run.status} -> ${to} is not allowed`);
    entry.run.status = to;
  }
}

const notRun: Omit<RunResult, 'status' | 'error'> = {
  exitCode: null,
  finalMessage: null,
  usage: null,
  changes: null,
  providerUsage: null,
  hasDiff: false,
  hasWorkspace: false,
  leftOut: [],
  artifactProblem: null,
};
