import type { Logger } from 'pino';
import { PeriodicTask } from '../scheduling/periodic-task.js';
import type { SandboxDriver } from './driver.js';

/**
 * Removes, on a timer, this instance's sandboxes that belong to no live run: what a failed removal
 * left (the engine was away, a removal timed out); and any instance's sandboxes past their expiry:
 * what a server that is gone left. Startup and shutdown sweep this instance's anyway.
 */
export class OrphanSweeper {
  private readonly task: PeriodicTask<void>;

  constructor(
    private readonly deps: {
      driver: Pick<SandboxDriver, 'sweep' | 'sweepExpired'>;
      /** Ids of the runs that own a sandbox now or may create one (and of the warm pool's sandboxes). */
      liveRunIds: () => Pick<ReadonlySet<string>, 'has'>;
      /** While this says why, the engine is skipped. */
      engineProblem: () => string | null;
      intervalMs: number;
      log: Logger;
    },
  ) {
    this.task = new PeriodicTask(deps.intervalMs, () => this.pass());
  }

  start(): void {
    this.task.start();
  }

  stop(): Promise<void> {
    return this.task.stop();
  }

  sweep(): Promise<void> {
    if (this.deps.engineProblem()) return Promise.resolve();
    return this.task.runOnce();
  }

  private async pass(): Promise<void> {
    if (this.deps.engineProblem()) return;
    try {
      const live = this.deps.liveRunIds();
      const swept = await this.deps.driver.sweep((runId) => live.has(runId));
      if (swept.containers || swept.volumes) this.deps.log.warn(swept, 'removed sandboxes that no live run owns');
      const expired = await this.deps.driver.sweepExpired(new Date());
      if (expired.containers || expired.volumes) this.deps.log.warn(expired, 'removed sandboxes past their expiry, of any instance');
    } catch (err) {
      this.deps.log.error({ err }, 'orphan sweep failed');
    }
  }
}
