import type { Logger } from 'pino';
import { RunStop } from '../domain/run-error.js';
import type { Admission } from './admission.js';
import type { EventLog } from './event-log.js';
import { finishRun, notRun, runToEnd, type LifecycleDeps, type LiveRun } from './live-run.js';
import type { RunFiles } from './run-files.js';
import type { RunPlan } from './run-plan.js';
import type { Run } from './run.js';
import type { WorkspacePreload } from './workspace-preload.js';

/**
 * The runs accepted and not ended yet: the one owner of each from its enqueueing to its end. Hands
 * them to admission, stops them (a cancel, a shutdown) and lets callers wait for their end.
 */
export class LiveRuns {
  private readonly live = new Map<string, LiveRun>();

  constructor(
    private readonly deps: { admission: Admission; lifecycle: LifecycleDeps; log: Logger },
  ) {}

  get(id: string): LiveRun | undefined {
    return this.live.get(id);
  }

  ids(): ReadonlySet<string> {
    return new Set(this.live.keys());
  }

  /**
   * Makes the run live and hands it to admission; undone (and rethrown) if admission refuses it.
   * A preloaded sandbox is the run's from here: it ends no later than the run.
   */
  enqueue(run: Run, prompt: string, plan: RunPlan, files: RunFiles, hasInput: boolean, events: EventLog, preload: WorkspacePreload | null = null): void {
    let markEnded!: () => void;
    const ended = new Promise<void>((resolve) => {
      markEnded = () => {
        this.live.delete(run.id);
        void (preload?.discard() ?? Promise.resolve()).finally(resolve);
      };
    });
    const entry: LiveRun = { run, prompt, plan, files, hasInput, events, preload, controller: new AbortController(), ended, markEnded };
    this.live.set(run.id, entry);
    try {
      // Admission must get a job that never rejects: an unhandled rejection would end the process.
      this.deps.admission.submit(run.tenant, run.id, () => runToEnd(this.deps.lifecycle, entry).catch((err) => this.deps.log.error({ err, runId: run.id }, 'run bookkeeping failed')));
    } catch (err) {
      this.live.delete(run.id);
      void preload?.discard();
      throw err;
    }
  }

  /** Ends a run early: a waiting one never starts, a running one is aborted (its sandbox removed). */
  async stop(entry: LiveRun, stop: RunStop): Promise<void> {
    if (entry.run.status === 'queued' && this.deps.admission.withdraw(entry.run.id)) {
      await finishRun(this.deps.lifecycle, entry, { ...notRun(), status: stop.status, error: stop.error });
    } else {
      entry.controller.abort(stop);
    }
    await entry.ended;
  }

  /** Resolves once the run has ended (or at once if it has), or when the signal aborts. */
  async waitForEnd(id: string, signal?: AbortSignal): Promise<void> {
    const entry = this.live.get(id);
    // An abort listener added to an aborted signal is never called.
    if (!entry || signal?.aborted) return;
    await new Promise<void>((resolve) => {
      entry.ended.then(resolve);
      signal?.addEventListener('abort', () => resolve(), { once: true });
    });
  }

  /** Gives running runs `graceS` to end, then stops the rest with `stop` and waits for them. */
  async drain(graceS: number, stop: RunStop): Promise<void> {
    const all = () => Promise.all([...this.live.values()].map((e) => e.ended));
    const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), graceS * 1000).unref());
    if ((await Promise.race([all(), timer])) === 'timeout') {
      await Promise.all([...this.live.values()].map((entry) => this.stop(entry, stop)));
    }
  }

  /** Takes every waiting run out of admission without ending it: its record stays `queued`. */
  async keepQueuedForRestart(): Promise<number> {
    const waiting = [...this.live.values()].filter((entry) => entry.run.status === 'queued' && this.deps.admission.withdraw(entry.run.id));
    await Promise.all(
      waiting.map(async (entry) => {
        try {
          await entry.events.close();
        } finally {
          entry.markEnded();
        }
      }),
    );
    return waiting.length;
  }
}
