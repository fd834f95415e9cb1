import type { Logger } from 'pino';
import { PeriodicTask } from '../scheduling/periodic-task.js';
import type { RunArtifacts } from './run-artifacts.js';
import type { RunStore } from './run-store.js';
import type { Run } from './run.js';

export interface RetentionPolicy {
  maxAgeMs: number;
  /** Ended runs' artifacts together stay under this; the oldest go first. */
  maxBytes: number;
}

/** Ended runs looked at per sweep for the size cap; a cap above it is approached over several sweeps. */
const SIZE_SCAN_LIMIT = 100_000;

/**
 * Removes ended runs' artifacts (diff, workspace, events) past their age or past the size cap,
 * oldest first, on a timer. The record stays, marked expired; its artifact routes answer 410.
 */
export class RetentionSweeper {
  private readonly task: PeriodicTask<number>;

  constructor(
    private readonly deps: {
      store: RunStore;
      artifacts: RunArtifacts;
      policy: RetentionPolicy;
      intervalMs: number;
      log: Logger;
      now?: () => number;
    },
  ) {
    this.task = new PeriodicTask(deps.intervalMs, () =>
      this.pass().catch((err) => {
        this.deps.log.error({ err }, 'retention sweep failed');
        return 0;
      }),
    );
  }

  start(): void {
    this.task.start();
  }

  stop(): Promise<void> {
    return this.task.stop();
  }

  /** One pass; resolves with how many runs' artifacts it removed. */
  sweep(): Promise<number> {
    return this.task.runOnce();
  }

  private async pass(): Promise<number> {
    const { store, policy } = this.deps;
    const now = this.deps.now?.() ?? Date.now();
    let expired = 0;
    for (const run of await store.endedBefore(new Date(now - policy.maxAgeMs), SIZE_SCAN_LIMIT)) expired += await this.expire(run, 'max_age');
    // Oldest first, so what goes past the cap is what is least likely to be fetched.
    const ended = await store.endedBefore(new Date(now + 1), SIZE_SCAN_LIMIT);
    const sizes = await Promise.all(ended.map((run) => this.deps.artifacts.size(run.id)));
    let total = sizes.reduce((a, b) => a + b, 0);
    for (let i = 0; i < ended.length && total > policy.maxBytes; i++) {
      expired += await this.expire(ended[i]!, 'max_bytes');
      total -= sizes[i]!;
    }
    if (expired) this.deps.log.info({ expired }, 'retention removed ended runs\' artifacts');
    return expired;
  }

  private async expire(run: Run, why: 'max_age' | 'max_bytes'): Promise<number> {
    // Marked first: a reader that sees the mark answers 410 rather than find half the files gone.
    await this.deps.store.update({ ...run, artifactsExpired: true });
    await this.deps.artifacts.remove(run.id);
    this.deps.log.debug({ runId: run.id, why }, 'artifacts expired');
    return 1;
  }
}
