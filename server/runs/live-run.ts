import type { Logger } from 'pino';
import { RunStop } from '../domain/run-error.js';
import { isStorageFull, STORAGE_FULL_MESSAGE } from '../domain/storage-full.js';
import type { Telemetry } from '../telemetry/telemetry.js';
import { threadUsage } from './codex-outcome.js';
import type { EventLog } from './event-log.js';
import { executeRun, type ExecutorDeps, type RunResult } from './executor.js';
import type { RunArtifacts } from './run-artifacts.js';
import type { RunFiles } from './run-files.js';
import type { RunPlan } from './run-plan.js';
import type { RunStore } from './run-store.js';
import type { RunStatusEvent } from './run-wire.js';
import type { StorageHealth } from './storage-health.js';
import type { UnsavedEnds } from './unsaved-ends.js';
import type { WorkspacePreload } from './workspace-preload.js';
import { canTransition, isResumable, runView, type Run, type RunStatus } from './run.js';

/** A run from its acceptance to its end: what the run service holds for it meanwhile. */
export interface LiveRun {
  run: Run;
  prompt: string;
  plan: RunPlan;
  files: RunFiles;
  hasInput: boolean;
  events: EventLog;
  /** The sandbox the upload went into as it was spooled, until the run takes it; removed at the run's end if it never does. */
  preload?: WorkspacePreload | null;
  controller: AbortController;
  ended: Promise<void>;
  markEnded: () => void;
}

export interface LifecycleDeps {
  executor: ExecutorDeps;
  store: RunStore;
  artifacts: RunArtifacts;
  telemetry: Telemetry;
  /** Told of each run once its end is recorded (completion webhooks). */
  onEnded?: (run: Run) => void;
  /** Told of writes that failed for want of space. */
  storage?: Pick<StorageHealth, 'noteFailure'>;
  /** Holds the ends that could not be written for want of space, until there is room. */
  unsaved?: Pick<UnsavedEnds, 'hold'>;
  log: Logger;
}

/** A follow-up's place in its conversation: its parent, the conversation's first run, the thread it resumes. */
export interface RunLineage {
  parentId: string;
  rootId: string;
  threadId: string;
  usageBefore: Run['usage'];
}

/** The lineage of a follow-up of `parent`, a resumable run (its thread is known). */
export function followUpLineage(parent: Run): RunLineage {
  return { parentId: parent.id, rootId: parent.rootId ?? parent.id, threadId: parent.threadId!, usageBefore: threadUsage(parent.usageBefore, parent.usage) };
}

export function newRunRecord(id: string, tenant: string, plan: RunPlan, lineage: RunLineage | null = null): Run {
  return {
    id,
    tenant,
    status: 'queued',
    createdAt: new Date(),
    startedAt: null,
    finishedAt: null,
    provider: plan.provider.name,
    model: plan.model,
    environment: plan.environment.name,
    timeoutS: plan.timeoutS,
    ...notRun(),
    error: null,
    eventsDropped: 0,
    artifactsExpired: false,
    webhook: plan.webhookUrl ? { url: plan.webhookUrl, state: 'pending', attempts: 0, last_error: null } : null,
    parentId: lineage?.parentId ?? null,
    rootId: lineage?.rootId ?? null,
    threadId: lineage?.threadId ?? null,
    hasSession: false,
    usageBefore: lineage?.usageBefore ?? null,
  };
}

/** Runs an accepted run whose turn has come, to its end and its sandbox's removal; never rejects for the run's own failures. */
export async function runToEnd(deps: LifecycleDeps, entry: LiveRun): Promise<void> {
  const { run } = entry;
  const log = deps.log.child({ runId: run.id, tenant: run.tenant });
  let result: RunResult;
  let released: Promise<void> = Promise.resolve();
  try {
    transition(run, 'running');
    run.startedAt = new Date();
    const unrecorded = await recordStart(deps, run, log);
    ({ result, released } = unrecorded ? { result: unrecorded, released } : await execute(deps, entry, log));
  } catch (err) {
    log.error({ err }, 'run crashed');
    result = { ...notRun(), status: 'failed', error: { code: 'internal', message: 'internal error while running' } };
  }
  await finishRun(deps, entry, result);
  // The run is answered; its slot stays taken until its sandbox is gone.
  await released;
}

/** Records that the run started; how it ends instead when that cannot be written for want of space. */
async function recordStart(deps: LifecycleDeps, run: Run, log: Logger): Promise<RunResult | null> {
  try {
    await deps.store.update(run);
    return null;
  } catch (err) {
    // Not run unrecorded: a restart would find it queued and run it again.
    if (!deps.storage?.noteFailure(err)) throw err;
    log.error({ err }, 'could not record the start of the run');
    return { ...notRun(), status: 'failed', error: { code: 'storage_full', message: `${STORAGE_FULL_MESSAGE}: the run could not be started` } };
  }
}

async function execute(deps: LifecycleDeps, entry: LiveRun, log: Logger): ReturnType<typeof executeRun> {
  const { run } = entry;
  deps.telemetry.runStarted(run.tenant, run.startedAt!.getTime() - run.createdAt.getTime());
  entry.events.append('run', { type: 'run.started', run: runView(run) } satisfies RunStatusEvent);
  const timeout = setTimeout(
    () => entry.controller.abort(new RunStop('timed_out', { code: 'timeout', message: `run exceeded its timeout of ${run.timeoutS} s` })),
    run.timeoutS * 1000,
  );
  try {
    return await executeRun(deps.executor, {
      run,
      budget: entry.plan.budget,
      limits: entry.plan.limits,
      stop: (stop) => entry.controller.abort(stop),
      prompt: entry.prompt,
      provider: entry.plan.provider,
      environment: entry.plan.environment,
      files: entry.files,
      hasInput: entry.hasInput,
      preload: entry.preload,
      outputSchema: entry.plan.outputSchema,
      resume: run.parentId && run.threadId ? { threadId: run.threadId, usageBefore: run.usageBefore } : null,
      events: entry.events,
      signal: entry.controller.signal,
      log,
      telemetry: deps.telemetry,
    });
  } finally {
    clearTimeout(timeout);
  }
}

/** Records how the run ended, closes its event log, drops the files it will never serve, and lets waiters go. */
export async function finishRun(deps: LifecycleDeps, entry: Pick<LiveRun, 'run' | 'events' | 'markEnded'> & { files?: Pick<RunFiles, 'events'> }, result: RunResult): Promise<void> {
  const { run } = entry;
  transition(run, result.status);
  Object.assign(run, {
    finishedAt: new Date(),
    exitCode: result.exitCode,
    finalMessage: result.finalMessage,
    output: result.output,
    usage: result.usage,
    error: result.error,
    changes: result.changes,
    providerUsage: result.providerUsage,
    hasDiff: result.hasDiff,
    hasWorkspace: result.hasWorkspace,
    leftOut: result.leftOut,
    artifactProblem: result.artifactProblem,
    // A follow-up that never ran still continues its parent's thread.
    threadId: result.threadId ?? run.threadId,
    hasSession: result.hasSession,
  });
  // A store that cannot write must not keep waiters from the end. Short of space, the end is held
  // in memory and written once there is room; otherwise a restart will call the run interrupted.
  let recordFailure: unknown = null;
  await deps.store.update(run).catch((err) => {
    recordFailure = err;
    deps.storage?.noteFailure(err);
    deps.log.error({ err, runId: run.id }, 'could not record the end of the run');
  });
  deps.telemetry.runEnded({
    tenant: run.tenant,
    provider: run.provider,
    status: run.status,
    errorCode: run.error?.code ?? null,
    ms: run.finishedAt!.getTime() - run.createdAt.getTime(),
    providerTokens: run.providerUsage?.total_tokens ?? null,
  });
  const terminal = { type: `run.${run.status}` as RunStatusEvent['type'], run: runView(run) } satisfies RunStatusEvent;
  entry.events.append('run', terminal);
  let eventsFailure: unknown = null;
  await entry.events.close().catch((err) => {
    eventsFailure = err;
    deps.storage?.noteFailure(err);
    deps.log.error({ err, runId: run.id }, 'could not close the event log');
  });
  const unsaved = { record: isStorageFull(recordFailure), terminal: isStorageFull(eventsFailure) && entry.files ? { file: entry.files.events, event: terminal } : null };
  if (deps.unsaved && (unsaved.record || unsaved.terminal)) deps.unsaved.hold(run, unsaved);
  deps.onEnded?.({ ...run });
  // A first run's upload stays while a follow-up may come: `?base=root` diffs against it.
  await deps.artifacts.settle(run.id, { diff: result.hasDiff, workspace: result.hasWorkspace, session: result.hasSession, input: run.rootId === null && isResumable(run) });
  entry.markEnded();
}

/** How a run that never ran (withdrawn from the queue, crashed) ends, but for its status and error. */
export function notRun(): Omit<RunResult, 'status' | 'error'> {
  return { exitCode: null, finalMessage: null, output: null, usage: null, changes: null, providerUsage: null, hasDiff: false, hasWorkspace: false, leftOut: [], artifactProblem: null, threadId: null, hasSession: false };
}

function transition(run: Run, to: RunStatus): void {
  if (!canTransition(run.status, to)) throw new Error(`run ${run.id}: ${run.status} -> ${to} is not allowed`);
  run.status = to;
}
