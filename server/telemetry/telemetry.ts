/**
 * What the service reports as it works, for an operator's metrics (a Prometheus implementation
 * fills this) and for the bench, which can read figures here instead of parsing logs.
 */
export interface Telemetry {
  runQueued(tenant: string): void;
  runStarted(tenant: string, queuedMs: number): void;
  /** One phase of a run (start, upload, prepare, codex, collect, remove, …) and how long it took. */
  runPhase(phase: string, ms: number): void;
  runEnded(tenant: string, status: string, errorCode: string | null, ms: number): void;
  /** A call a sandbox made through the gateway, with the status it was answered. */
  gatewayRequest(provider: string, status: number): void;
}

export const noTelemetry: Telemetry = {
  runQueued() {},
  runStarted() {},
  runPhase() {},
  runEnded() {},
  gatewayRequest() {},
};

/** Keeps every report in memory, in order: for tests and for reading figures after a run. */
export class RecordingTelemetry implements Telemetry {
  readonly events: { kind: keyof Telemetry; labels: Record<string, string>; value: number }[] = [];

  runQueued(tenant: string): void {
    this.events.push({ kind: 'runQueued', labels: { tenant }, value: 1 });
  }

  runStarted(tenant: string, queuedMs: number): void {
    this.events.push({ kind: 'runStarted', labels: { tenant }, value: queuedMs });
  }

  runPhase(phase: string, ms: number): void {
    this.events.push({ kind: 'runPhase', labels: { phase }, value: ms });
  }

  runEnded(tenant: string, status: string, errorCode: string | null, ms: number): void {
    this.events.push({ kind: 'runEnded', labels: { tenant, status, error: errorCode ?? '' }, value: ms });
  }

  gatewayRequest(provider: string, status: number): void {
    this.events.push({ kind: 'gatewayRequest', labels: { provider, status: String(status) }, value: 1 });
  }

  of(kind: keyof Telemetry) {
    return this.events.filter((e) => e.kind === kind);
  }
}
