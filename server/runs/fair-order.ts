import type { TenantQuota } from './tenant-quota.js';

/** The server's slots and its waiting line, all tenants together. */
export interface FairLimits {
  maxConcurrentRuns: number;
  maxQueuedRuns: number;
}

/** Why a run would be refused: the tenant's own line is full, or the server's. */
export interface FairRefusal {
  scope: 'tenant' | 'server';
  message: string;
}

/**
 * One pass unit: a weight-w tenant's pass advances by STRIDE / w per run taken. Integer strides keep
 * ties exact (every weight up to 16 divides it; others round), and 2^53 / STRIDE is ~10^10 runs.
 */
const STRIDE = 720_720;

interface TenantLine {
  quota: TenantQuota;
  waiting: string[];
  running: number;
  /** Stride scheduling's pass: the tenant with the lowest is taken next. */
  pass: number;
  /** When its line last went from empty to not: breaks ties between equal passes, earliest first. */
  since: number;
}

/**
 * Which waiting run starts next, by stride scheduling across tenants: each tenant's runs in their
 * order, the tenant with the lowest pass first, a tenant's pass advancing by STRIDE / weight per run
 * taken. A tenant whose line was empty joins at the highest pass a run was taken at, never below:
 * it banks no credit while idle, and its first run goes before the next of a tenant that has just
 * had one, so a tenant with a long line delays another's first run by at most one slot's turnover.
 * Equal weights and passes give plain round-robin. A tenant at its own running cap is passed over.
 * Pure state: the caller starts what take() returns and reports each run's end with finish().
 */
export class FairOrder {
  private readonly lines = new Map<string, TenantLine>();
  /** Where each waiting or running run is: its tenant, and whether it runs. */
  private readonly runs = new Map<string, { tenant: string; running: boolean }>();
  /** Running runs in the order they started: the simulation behind position() ends them oldest first. */
  private readonly started = new Set<string>();
  private running = 0;
  private waiting = 0;
  /** The highest pass a run was taken at: where a tenant joins. */
  private now = 0;
  private joins = 0;
  private predicted: Map<string, number> | null = null;

  constructor(
    private readonly limits: FairLimits,
    private readonly quotaFor: (tenant: string) => TenantQuota,
  ) {}

  /** Whether a new run of this tenant would start at once: nothing of its own waits, and there is a slot it may take. */
  startsNow(tenant: string): boolean {
    const line = this.lines.get(tenant);
    const quota = line?.quota ?? this.quotaFor(tenant);
    return (line?.waiting.length ?? 0) === 0 && (line?.running ?? 0) < quota.maxConcurrentRuns && this.running < this.limits.maxConcurrentRuns;
  }

  /** Why a new run of this tenant would be refused now, or null. */
  refusal(tenant: string): FairRefusal | null {
    if (this.startsNow(tenant)) return null;
    const line = this.lines.get(tenant);
    const quota = line?.quota ?? this.quotaFor(tenant);
    const waiting = line?.waiting.length ?? 0;
    if (this.waiting >= this.limits.maxQueuedRuns) {
      return { scope: 'server', message: `too many runs are waiting (${this.waiting}; limits.max_queued_runs is ${this.limits.maxQueuedRuns})` };
    }
    if (waiting >= quota.maxQueuedRuns) {
      return { scope: 'tenant', message: `this tenant already has ${waiting} runs waiting (its max_queued_runs is ${quota.maxQueuedRuns})` };
    }
    return null;
  }

  /** Puts a run in its tenant's line, or says why not (and changes nothing). Call take() after. */
  add(tenant: string, runId: string): FairRefusal | null {
    if (this.runs.has(runId)) throw new Error(`run ${runId} is already admitted`);
    const refused = this.refusal(tenant);
    if (refused) return refused;
    let line = this.lines.get(tenant);
    if (!line) {
      line = { quota: this.quotaFor(tenant), waiting: [], running: 0, pass: this.now, since: 0 };
      this.lines.set(tenant, line);
    }
    if (line.waiting.length === 0) {
      line.pass = Math.max(line.pass, this.now);
      line.since = ++this.joins;
    }
    line.waiting.push(runId);
    this.runs.set(runId, { tenant, running: false });
    this.waiting++;
    this.predicted = null;
    return null;
  }

  /** The runs to start now, in order, each counted as running from here on. */
  take(): { tenant: string; runId: string }[] {
    const taken: { tenant: string; runId: string }[] = [];
    while (this.running < this.limits.maxConcurrentRuns) {
      const next = pick(this.lines);
      if (!next) break;
      const [tenant, line] = next;
      const runId = line.waiting.shift()!;
      // Never back: a tenant held by its own cap keeps a low pass, and one joining must not start there.
      this.now = Math.max(this.now, line.pass);
      line.pass += stride(line.quota);
      line.running++;
      this.running++;
      this.waiting--;
      this.runs.set(runId, { tenant, running: true });
      this.started.add(runId);
      taken.push({ tenant, runId });
    }
    if (taken.length) this.predicted = null;
    return taken;
  }

  /** A started run has ended: its slot is free. Call take() after. */
  finish(runId: string): void {
    const run = this.runs.get(runId);
    if (!run?.running) throw new Error(`run ${runId} is not running`);
    this.runs.delete(runId);
    this.started.delete(runId);
    const line = this.lines.get(run.tenant)!;
    line.running--;
    this.running--;
    this.forgetIfIdle(run.tenant, line);
    this.predicted = null;
  }

  /** Takes a waiting run out of its line; false if it is not waiting. */
  withdraw(runId: string): boolean {
    const run = this.runs.get(runId);
    if (!run || run.running) return false;
    const line = this.lines.get(run.tenant)!;
    line.waiting.splice(line.waiting.indexOf(runId), 1);
    this.runs.delete(runId);
    this.waiting--;
    this.forgetIfIdle(run.tenant, line);
    this.predicted = null;
    return true;
  }

  /**
   * A waiting run's place in the order runs would start if no more arrived (1 starts next), or
   * null when it is not waiting. Where a tenant's own cap decides, running runs are taken to end
   * in the order they started.
   */
  position(runId: string): number | null {
    this.predicted ??= this.predict();
    return this.predicted.get(runId) ?? null;
  }

  /** The waiting runs in the order they would start (see position). */
  order(): string[] {
    this.predicted ??= this.predict();
    return [...this.predicted.keys()];
  }

  stats(): { running: number; queued: number } {
    return { running: this.running, queued: this.waiting };
  }

  statsFor(tenant: string): { running: number; queued: number } {
    const line = this.lines.get(tenant);
    return { running: line?.running ?? 0, queued: line?.waiting.length ?? 0 };
  }

  /**
   * A tenant with nothing running or waiting is forgotten: it comes back at the others' pass,
   * with neither credit nor debt. One with runs still running keeps its pass, so sending runs one at
   * a time does not beat its weight.
   */
  private forgetIfIdle(tenant: string, line: TenantLine): void {
    if (line.running === 0 && line.waiting.length === 0) this.lines.delete(tenant);
  }

  /** Replays take() on a copy, ending running runs oldest first whenever no waiting run may start. */
  private predict(): Map<string, number> {
    const lines = new Map([...this.lines].map(([tenant, l]) => [tenant, { ...l, waiting: [...l.waiting] }]));
    const started = [...this.started].map((runId) => this.runs.get(runId)!.tenant);
    let running = this.running;
    const order = new Map<string, number>();
    let left = this.waiting;
    while (left > 0) {
      const next = running < this.limits.maxConcurrentRuns ? pick(lines) : undefined;
      if (next) {
        const [tenant, line] = next;
        order.set(line.waiting.shift()!, order.size + 1);
        line.pass += stride(line.quota);
        line.running++;
        running++;
        started.push(tenant);
        left--;
      } else {
        // Every waiting run's tenant is at its cap, or every slot is taken: the oldest run ends.
        const tenant = started.shift();
        if (tenant === undefined) break; // unreachable: a tenant with nothing running may always start one
        lines.get(tenant)!.running--;
        running--;
      }
    }
    return order;
  }
}

function stride(quota: TenantQuota): number {
  return Math.round(STRIDE / quota.weight);
}

/** The tenant whose run is taken next: lowest pass, then earliest to join, among those with a run waiting and room under their cap. */
function pick(lines: Map<string, TenantLine>): [string, TenantLine] | undefined {
  let best: [string, TenantLine] | undefined;
  for (const entry of lines) {
    const line = entry[1];
    if (line.waiting.length === 0 || line.running >= line.quota.maxConcurrentRuns) continue;
    if (!best || line.pass < best[1].pass || (line.pass === best[1].pass && line.since < best[1].since)) best = entry;
  }
  return best;
}
