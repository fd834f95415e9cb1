import type { Logger } from 'pino';
import type { SandboxDriver } from './driver.js';

const PING_TIMEOUT_MS = 3_000;

/**
 * Whether the container engine answers, checked on a timer: while it does not, new runs are
 * refused (503) instead of being accepted to fail.
 */
export class EngineHealth {
  private problemText: string | null = null;
  private timer: NodeJS.Timeout | undefined;
  private checking: Promise<void> | undefined;

  constructor(
    private readonly driver: Pick<SandboxDriver, 'ping'>,
    private readonly intervalMs: number,
    private readonly log: Logger,
  ) {}

  /** Why the engine cannot take runs now, or null when it answered its last ping. */
  get problem(): string | null {
    return this.problemText;
  }

  async start(): Promise<void> {
    await this.check();
    this.timer = setInterval(() => void this.check(), this.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.checking;
  }

  check(): Promise<void> {
    this.checking ??= (async () => {
      try {
        await this.driver.ping(AbortSignal.timeout(PING_TIMEOUT_MS));
        if (this.problemText) this.log.info('the Docker engine answers again');
        this.problemText = null;
      } catch (err) {
        const problem = `the Docker engine is unreachable: ${(err as Error).message}`;
        if (!this.problemText) this.log.error({ err }, problem);
        this.problemText = problem;
      } finally {
        this.checking = undefined;
      }
    })();
    return this.checking;
  }
}
