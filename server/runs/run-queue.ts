/**
 * First-come first-served admission: at most `maxConcurrent` jobs run, at most `maxQueued` wait.
 * Kept behind this small surface so a per-tenant fair queue can replace it.
 */
export class QueueFullError extends Error {}

interface Waiting {
  key: string;
  start: () => void;
}

export class RunQueue {
  private running = 0;
  private readonly waiting: Waiting[] = [];

  constructor(
    private readonly maxConcurrent: number,
    private readonly maxQueued: number,
  ) {}

  /** Runs `job` when a slot is free. Throws QueueFullError at once if it would have to wait and no place is left. */
  submit(key: string, job: () => Promise<void>): void {
    const start = () => {
      this.running++;
      job().finally(() => {
        this.running--;
        this.waiting.shift()?.start();
      });
    };
    if (this.running < this.maxConcurrent) return start();
    if (this.waiting.length >= this.maxQueued) throw new QueueFullError(`queue is full (${this.maxQueued} waiting)`);
    this.waiting.push({ key, start });
  }

  /** Whether submit() would take a job now. */
  hasRoom(): boolean {
    return this.running < this.maxConcurrent || this.waiting.length < this.maxQueued;
  }

  /** Drops a job that has not started; false if it is not waiting. */
  withdraw(key: string): boolean {
    const i = this.waiting.findIndex((w) => w.key === key);
    if (i < 0) return false;
    this.waiting.splice(i, 1);
    return true;
  }

  get stats() {
    return { running: this.running, queued: this.waiting.length };
  }
}
