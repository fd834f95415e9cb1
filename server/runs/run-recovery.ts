import type { RunError } from '../domain/run-error.js';
import { AdmissionFullError } from './admission.js';
import type { EventLog } from './event-log.js';
import { finishRun, notRun, type LifecycleDeps } from './live-run.js';
import type { RunArtifacts } from './run-artifacts.js';
import type { RunFiles } from './run-files.js';
import type { RunOptions, RunPlan } from './run-plan.js';
import { RunRefusedError } from './run-refused.js';
import type { RunStore, RunSubmission } from './run-store.js';
import type { Run } from './run.js';

export const INTERRUPTED: RunError = { code: 'interrupted', message: 'interrupted by a server restart' };

/** A run a restart found queued, planned again and ready to be handed to admission. */
export interface RequeuedRun {
  run: Run;
  submission: RunSubmission;
  plan: RunPlan;
  files: RunFiles;
  events: EventLog;
}

export interface RecoveryDeps {
  store: RunStore;
  artifacts: Pick<RunArtifacts, 'files'>;
  lifecycle: LifecycleDeps;
  plan: (tenant: string, options: RunOptions) => RunPlan;
  /** The run's event log, going on where its file left off. */
  resumeLog: (run: Run, file: string) => Promise<EventLog>;
  /** Hands the run to admission as the run service would a new one; AdmissionFullError when no place is left. */
  requeue: (run: RequeuedRun) => void;
}

export interface RecoveryReport {
  interrupted: number;
  requeued: number;
  /** Queued runs that could not start again (their provider is gone, the queue is smaller). */
  refused: number;
}

/**
 * What a restart does with the runs the store says were not over, oldest first. No sandbox of
 * an earlier process is driven any more (the startup sweep has removed them): a `running` run ends
 * `failed`/`interrupted`, its log closed on that event and its partial files dropped. A `queued`
 * run is planned again from its stored options and queued in its turn, or ends the same way, saying
 * why it could not start.
 */
export async function recoverRuns(deps: RecoveryDeps): Promise<RecoveryReport> {
  const report: RecoveryReport = { interrupted: 0, requeued: 0, refused: 0 };
  for (const run of await deps.store.unfinished()) {
    const files = deps.artifacts.files(run.id);
    const events = await deps.resumeLog(run, files.events);
    const end = (message: string) =>
      finishRun(deps.lifecycle, { run, events, markEnded: () => {} }, { ...notRun(), status: 'failed', error: { code: INTERRUPTED.code, message } });
    if (run.status === 'running') {
      await end(INTERRUPTED.message);
      report.interrupted++;
      continue;
    }
    try {
      const submission = await deps.store.submission(run.id);
      if (!submission) throw new RunRefusedError('invalid_options', 'its prompt and options were not stored');
      const plan = deps.plan(run.tenant, submission.options);
      // The config may have changed while the server was down: the record says what the run will use.
      Object.assign(run, { provider: plan.provider.name, model: plan.model, environment: plan.environment.name, timeoutS: plan.timeoutS });
      await deps.store.update(run);
      deps.requeue({ run, submission, plan, files, events });
      report.requeued++;
    } catch (err) {
      if (!(err instanceof RunRefusedError || err instanceof AdmissionFullError)) {
        await events.close().catch(() => {});
        throw err;
      }
      deps.lifecycle.log.warn({ runId: run.id, tenant: run.tenant, reason: err.message }, 'a run queued before the restart cannot start again');
      await end(`${INTERRUPTED.message}; it could not start again: ${err.message}`);
      report.refused++;
    }
  }
  return report;
}
