import type { Logger } from 'pino';
import type { SandboxDriver } from './driver.js';

/**
 * Removes, on a timer, this instance's sandboxes that belong to no live run: what a failed removal
 * left (the engine was away, a removal timed out). Startup and shutdown sweep everything anyway.
 */
export class OrphanSweeper {
  private timer: NodeJS.Timeout | undefined;
  private sweeping: Promise<void> | undefined;

  constructor(
    private readonly deps: {
      driver: Pick<SandboxDriver, 'sweep'>;
      /** Ids of the runs that own a sandbox now or may create one. */
      liveRunIds: () => ReadonlySet<string>;
      /** While this says why, the engine is skipped. */
      engineProblem: () => string | null;
      intervalMs: number;
      log: Logger;
    },
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.sweep(), this.deps.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.sweeping;
  }

  sweep(): Promise<void> {
    if (this.deps.engineProblem()) return Promise.resolve();
    this.sweeping ??= (async () => {
      try {
        const live = this.deps.liveRunIds();
        const swept = await this.deps.driver.sweep((runId) => live.has(runId));
        if (swept.containers || swept.volumes) this.deps.log.warn(swept, 'removed sandboxes that no live run owns');
      } catch (err) {
        this.deps.log.error({ err }, 'orphan sweep failed');
      } finally {
        this.sweeping = undefined;
      }
    })();
    return this.sweeping;
  }
}
