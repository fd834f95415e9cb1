/**
 * Which runs may start, and when: the run service hands it each accepted run's job and never
 * starts one itself.
 */
export interface Admission {
  /** Why a run of this tenant would be refused now (no place left), or null: asked before an upload is read. */
  refusal(tenant: string): AdmissionRefusal | null;
  /** Whether a run of this tenant submitted now would start at once. */
  startsNow(tenant: string): boolean;
  /** Runs `job` when the run's turn comes; throws AdmissionFullError when it would have to wait and no place is left. */
  submit(tenant: string, runId: string, job: () => Promise<void>): void;
  /** Drops a run that has not started; false if it is not waiting. */
  withdraw(runId: string): boolean;
  /** A waiting run's place: 1 starts next; null when it is not waiting. */
  position(runId: string): number | null;
  stats(): AdmissionStats;
  statsFor(tenant: string): AdmissionStats;
}

export interface AdmissionStats {
  running: number;
  queued: number;
}

export interface AdmissionRefusal {
  message: string;
  /** When a place is likely to be free again: the client's Retry-After. */
  retryAfterS: number;
}

export class AdmissionFullError extends Error {
  constructor(
    message: string,
    readonly retryAfterS: number,
  ) {
    super(message);
  }
}
