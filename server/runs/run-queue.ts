import { AdmissionFullError, type Admission, type AdmissionStats } from './admission.js';

interface Waiting {
  tenant: string;
  runId: string;
  start: () => void;
}

/**
 * First come, first served: at most `maxConcurrent` jobs run, at most `maxQueued` wait, whatever
 * their tenant. The Admission a fair queue replaces.
 */
export class RunQueue implements Admission {
  private readonly running = new Map<string, string>();
  private readonly waiting: Waiting[] = [];

  constructor(
    private readonly maxConcurrent: number,
    private readonly maxQueued: number,
  ) {}

  refusal(): string | null {
    return this.hasRoom() ? null : `too many runs are waiting (${this.maxQueued})`;
  }

  submit(tenant: string, runId: string, job: () => Promise<void>): void {
    const start = () => {
      this.running.set(runId, tenant);
      job().finally(() => {
        this.running.delete(runId);
        this.waiting.shift()?.start();
      });
    };
    if (this.running.size < this.maxConcurrent) return start();
    if (this.waiting.length >= this.maxQueued) throw new AdmissionFullError(`queue is full (${this.maxQueued} waiting)`);
    this.waiting.push({ tenant, runId, start });
  }

  withdraw(runId: string): boolean {
    const i = this.waiting.findIndex((w) => w.runId === runId);
    if (i < 0) return false;
    this.waiting.splice(i, 1);
    return true;
  }

  position(runId: string): number | null {
    const i = this.waiting.findIndex((w) => w.runId === runId);
    return i < 0 ? null : i + 1;
  }

  stats(): AdmissionStats {
    return { running: this.running.size, queued: this.waiting.length };
  }

  statsFor(tenant: string): AdmissionStats {
    let running = 0;
    for (const t of this.running.values()) if (t === tenant) running++;
    return { running, queued: this.waiting.filter((w) => w.tenant === tenant).length };
  }

  private hasRoom(): boolean {
    return this.running.size < this.maxConcurrent || this.waiting.length < this.maxQueued;
  }
}
