/**
 * What the service reports as it works, for an operator's metrics (PrometheusTelemetry) and for
 * tests and the bench, which can read figures here instead of parsing logs.
 */
export interface Telemetry {
  runQueued(tenant: string): void;
  runStarted(tenant: string, queuedMs: number): void;
  /** One phase of a run (start, upload, prepare, codex, collect, remove, …) and how long it took. */
  runPhase(phase: string, ms: number): void;
  runEnded(run: RunEndReport): void;
  /** The sandbox of a run could not be started; `code` is the run's error code. */
  sandboxStartFailed(code: string): void;
  /** A call a sandbox made through the gateway with a valid token, with the status it was answered. */
  gatewayRequest(provider: string, status: number): void;
  /** A gateway call refused by the gateway itself (its error code: unauthorized, forbidden, rate_limited, …). */
  gatewayRefused(reason: string): void;
  /** A connection a sandbox asked the run's egress proxy for, allowed or refused, with its bytes. */
  egressConnection(allowed: boolean, bytesUp: number, bytesDown: number): void;
}

export interface RunEndReport {
  tenant: string;
  provider: string;
  status: string;
  errorCode: string | null;
  /** From acceptance to end. */
  ms: number;
  /** Tokens the provider reported for the run (through the gateway); null when the gateway did not carry it. */
  providerTokens: number | null;
}

export const noTelemetry: Telemetry = {
  runQueued() {},
  runStarted() {},
  runPhase() {},
  runEnded() {},
  sandboxStartFailed() {},
  gatewayRequest() {},
  gatewayRefused() {},
  egressConnection() {},
};

/** Reports to each sink in turn. */
export function fanOut(...sinks: Telemetry[]): Telemetry {
  const each =
    <K extends keyof Telemetry>(kind: K) =>
    (...args: Parameters<Telemetry[K]>) => {
      for (const sink of sinks) (sink[kind] as (...a: Parameters<Telemetry[K]>) => void)(...args);
    };
  return {
    runQueued: each('runQueued'),
    runStarted: each('runStarted'),
    runPhase: each('runPhase'),
    runEnded: each('runEnded'),
    sandboxStartFailed: each('sandboxStartFailed'),
    gatewayRequest: each('gatewayRequest'),
    gatewayRefused: each('gatewayRefused'),
    egressConnection: each('egressConnection'),
  };
}

type Report = { kind: keyof Telemetry; labels: Record<string, string>; value: number };

/** Keeps every report in memory, in order: for tests and for reading figures after a run. */
export class RecordingTelemetry implements Telemetry {
  readonly events: Report[] = [];

  runQueued(tenant: string): void {
    this.events.push({ kind: 'runQueued', labels: { tenant }, value: 1 });
  }

  runStarted(tenant: string, queuedMs: number): void {
    this.events.push({ kind: 'runStarted', labels: { tenant }, value: queuedMs });
  }

  runPhase(phase: string, ms: number): void {
    this.events.push({ kind: 'runPhase', labels: { phase }, value: ms });
  }

  runEnded(run: RunEndReport): void {
    this.events.push({ kind: 'runEnded', labels: { tenant: run.tenant, provider: run.provider, status: run.status, error: run.errorCode ?? '' }, value: run.ms });
  }

  sandboxStartFailed(code: string): void {
    this.events.push({ kind: 'sandboxStartFailed', labels: { code }, value: 1 });
  }

  gatewayRequest(provider: string, status: number): void {
    this.events.push({ kind: 'gatewayRequest', labels: { provider, status: String(status) }, value: 1 });
  }

  gatewayRefused(reason: string): void {
    this.events.push({ kind: 'gatewayRefused', labels: { reason }, value: 1 });
  }

  egressConnection(allowed: boolean, bytesUp: number, bytesDown: number): void {
    this.events.push({ kind: 'egressConnection', labels: { outcome: allowed ? 'allowed' : 'refused' }, value: bytesUp + bytesDown });
  }

  of(kind: keyof Telemetry): Report[] {
    return this.events.filter((e) => e.kind === kind);
  }
}
