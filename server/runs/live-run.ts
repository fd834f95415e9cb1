import type { Logger } from 'pino';
import { RunStop } from '../domain/run-error.js';
import type { Telemetry } from '../telemetry/telemetry.js';
import type { EventLog } from './event-log.js';
import { executeRun, type ExecutorDeps, type RunResult } from './executor.js';
import type { RunArtifacts } from './run-artifacts.js';
import type { RunFiles } from './run-files.js';
import type { RunPlan } from './run-plan.js';
import type { RunStore } from './run-store.js';
import type { RunStatusEvent } from './run-wire.js';
import { canTransition, runView, type Run, type RunStatus } from './run.js';

/** A run from its acceptance to its end: what the run service holds for it meanwhile. */
export interface LiveRun {
  run: Run;
  prompt: string;
  plan: RunPlan;
  files: RunFiles;
  hasInput: boolean;
  events: EventLog;
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
  log: Logger;
}

export function newRunRecord(id: string, tenant: string, plan: RunPlan): Run {
  return {
    id,
    tenant,
    status: 'queued',
    createdAt: new Date(),
    startedAt: null,
    finishedAt: null,
    provider: plan.provider.name,
    model: plan.model,
    timeoutS: plan.timeoutS,
    ...notRun(),
    error: null,
    eventsDropped: 0,
    artifactsExpired: false,
    webhook: plan.webhookUrl ? { url: plan.webhookUrl, state: 'pending', attempts: 0, last_error: null } : null,
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
    await deps.store.update(run);
    deps.telemetry.runStarted(run.tenant, run.startedAt.getTime() - run.createdAt.getTime());
    entry.events.append('run', { type: 'run.started', run: runView(run) } satisfies RunStatusEvent);
    const timeout = setTimeout(
      () => entry.controller.abort(new RunStop('timed_out', { code: 'timeout', message: `run exceeded its timeout of ${run.timeoutS} s` })),
      run.timeoutS * 1000,
    );
    try {
      ({ result, released } = await executeRun(deps.executor, {
        run,
        budget: entry.plan.budget,
        limits: entry.plan.limits,
        stop: (stop) => entry.controller.abort(stop),
        prompt: entry.prompt,
        provider: entry.plan.provider,
        files: entry.files,
        hasInput: entry.hasInput,
        events: entry.events,
        signal: entry.controller.signal,
        log,
        telemetry: deps.telemetry,
      }));
    } finally {
      clearTimeout(timeout);
    }
  } catch (err) {
    log.error({ err }, 'run crashed');
    result = { ...notRun(), status: 'failed', error: { code: 'internal', message: 'internal error while running' } };
  }
  await finishRun(deps, entry, result);
  // The run is answered; its slot stays taken until its sandbox is gone.
  await released;
}

/** Records how the run ended, closes its event log, drops the files it will never serve, and lets waiters go. */
export async function finishRun(deps: LifecycleDeps, entry: Pick<LiveRun, 'run' | 'events' | 'markEnded'>, result: RunResult): Promise<void> {
  const { run } = entry;
  transition(run, result.status);
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
  // A store that cannot write must not keep waiters from the end: a restart will call the run interrupted.
  await deps.store.update(run).catch((err) => deps.log.error({ err, runId: run.id }, 'could not record the end of the run'));
  deps.telemetry.runEnded({
    tenant: run.tenant,
    provider: run.provider,
    status: run.status,
    errorCode: run.error?.code ?? null,
    ms: run.finishedAt!.getTime() - run.createdAt.getTime(),
    providerTokens: run.providerUsage?.total_tokens ?? null,
  });
  entry.events.append('run', { type: `run.${run.status}` as RunStatusEvent['type'], run: runView(run) } satisfies RunStatusEvent);
  deps.onEnded?.({ ...run });
  await entry.events.close().catch((err) => deps.log.error({ err, runId: run.id }, 'could not close the event log'));
  await deps.artifacts.settle(run.id, { diff: result.hasDiff, workspace: result.hasWorkspace });
  entry.markEnded();
}

/** How a run that never ran (withdrawn from the queue, crashed) ends, but for its status and error. */
export function notRun(): Omit<RunResult, 'status' | 'error'> {
  return { exitCode: null, finalMessage: null, usage: null, changes: null, providerUsage: null, hasDiff: false, hasWorkspace: false, leftOut: [], artifactProblem: null };
}

function transition(run: Run, to: RunStatus): void {
  if (!canTransition(run.status, to)) throw new Error(`run ${run.id}: ${run.status} -> ${to} is not allowed`);
  run.status = to;
}
