import { AdmissionFullError, type Admission, type AdmissionRefusal, type AdmissionStats } from './admission.js';
import { FairOrder, type FairLimits, type FairRefusal } from './fair-order.js';
import type { TenantQuota } from './tenant-quota.js';

/** What a run is taken to last until runs have ended to say otherwise. */
const ASSUMED_RUN_MS = 60_000;
/** How much each ended run moves the running mean of run durations. */
const MEAN_WEIGHT = 0.2;
const RETRY_AFTER_MIN_S = 1;
const RETRY_AFTER_MAX_S = 600;

/**
 * Global slots, per-tenant caps, and waiting runs taken fairly across tenants (FairOrder); it
 * starts each run's job when its turn comes and frees the slot when the job settles.
 */
export class FairQueue implements Admission {
  private readonly order: FairOrder;
  private readonly jobs = new Map<string, () => Promise<void>>();
  private readonly startedAt = new Map<string, number>();
  private meanRunMs = ASSUMED_RUN_MS;

  constructor(
    private readonly limits: FairLimits,
    private readonly quotaFor: (tenant: string) => TenantQuota,
    private readonly now: () => number = Date.now,
  ) {
    this.order = new FairOrder(limits, quotaFor);
  }

  refusal(tenant: string): AdmissionRefusal | null {
    const refused = this.order.refusal(tenant);
    return refused && this.withRetry(tenant, refused);
  }

  startsNow(tenant: string): boolean {
    return this.order.startsNow(tenant);
  }

  submit(tenant: string, runId: string, job: () => Promise<void>): void {
    const refused = this.order.add(tenant, runId);
    if (refused) {
      const { message, retryAfterS } = this.withRetry(tenant, refused);
      throw new AdmissionFullError(message, retryAfterS);
    }
    this.jobs.set(runId, job);
    this.startDue();
  }

  withdraw(runId: string): boolean {
    if (!this.order.withdraw(runId)) return false;
    this.jobs.delete(runId);
    return true;
  }

  position(runId: string): number | null {
    return this.order.position(runId);
  }

  stats(): AdmissionStats {
    return this.order.stats();
  }

  statsFor(tenant: string): AdmissionStats {
    return this.order.statsFor(tenant);
  }

  private startDue(): void {
    for (const { runId } of this.order.take()) {
      const job = this.jobs.get(runId)!;
      this.jobs.delete(runId);
      this.startedAt.set(runId, this.now());
      let done: Promise<void>;
      try {
        done = job();
      } catch (err) {
        done = Promise.reject(err);
      }
      // The job is the run service's and never rejects (see RunService.create); its slot is freed whatever it does.
      done.finally(() => this.ended(runId));
    }
  }

  private ended(runId: string): void {
    const ms = this.now() - this.startedAt.get(runId)!;
    this.startedAt.delete(runId);
    this.meanRunMs += MEAN_WEIGHT * (ms - this.meanRunMs);
    this.order.finish(runId);
    this.startDue();
  }

  /**
   * A place in a full line frees when one of its runs starts, that is when a slot serving it
   * turns over: about a run's mean duration shared among those slots.
   */
  private withRetry(tenant: string, refused: FairRefusal): AdmissionRefusal {
    const slots = refused.scope === 'server' ? this.limits.maxConcurrentRuns : Math.min(this.limits.maxConcurrentRuns, this.quotaFor(tenant).maxConcurrentRuns);
    const s = Math.ceil(this.meanRunMs / slots / 1000);
    return { message: refused.message, retryAfterS: Math.min(RETRY_AFTER_MAX_S, Math.max(RETRY_AFTER_MIN_S, s)) };
  }
}
