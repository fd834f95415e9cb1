import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { RunEndReport, Telemetry } from './telemetry.js';

export interface QueueView {
  /** Tenants to report queue figures for (every configured one, and any seen since). */
  tenants(): Iterable<string>;
  statsFor(tenant: string): { running: number; queued: number };
}

// Seconds, from a sandbox start (~0.1 s) to a long Codex phase (the default timeout is 900 s).
const PHASE_BUCKETS_S = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 3600];

/** Telemetry as Prometheus metrics in one registry of its own, served by `GET /metrics`. */
export class PrometheusTelemetry implements Telemetry {
  readonly registry = new Registry();
  private readonly submitted: Counter;
  private readonly ended: Counter;
  private readonly queueWait: Histogram;
  private readonly phases: Histogram;
  private readonly durations: Histogram;
  private readonly startFailures: Counter;
  private readonly providerTokens: Counter;
  private readonly gatewayRequests: Counter;
  private readonly gatewayRefusals: Counter;
  private readonly egressConnections: Counter;
  private readonly egressBytes: Counter;

  constructor(queue: QueueView) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'codex_runner_' });
    this.submitted = new Counter({ name: 'codex_runner_runs_submitted_total', help: 'Runs accepted, by tenant', labelNames: ['tenant'], registers });
    this.ended = new Counter({ name: 'codex_runner_runs_total', help: 'Runs ended, by tenant, provider, status and error code', labelNames: ['tenant', 'provider', 'status', 'error'], registers });
    new Gauge({
      name: 'codex_runner_queue_depth',
      help: 'Runs waiting for a slot, by tenant',
      labelNames: ['tenant'],
      registers,
      collect() {
        for (const tenant of queue.tenants()) this.set({ tenant }, queue.statsFor(tenant).queued);
      },
    });
    new Gauge({
      name: 'codex_runner_runs_running',
      help: 'Runs holding a slot, by tenant',
      labelNames: ['tenant'],
      registers,
      collect() {
        for (const tenant of queue.tenants()) this.set({ tenant }, queue.statsFor(tenant).running);
      },
    });
    this.queueWait = new Histogram({ name: 'codex_runner_run_queue_wait_seconds', help: 'Time from acceptance to start', buckets: PHASE_BUCKETS_S, registers });
    this.phases = new Histogram({ name: 'codex_runner_run_phase_seconds', help: 'Duration of each run phase', labelNames: ['phase'], buckets: PHASE_BUCKETS_S, registers });
    this.durations = new Histogram({ name: 'codex_runner_run_duration_seconds', help: 'Time from acceptance to end, by status', labelNames: ['status'], buckets: PHASE_BUCKETS_S, registers });
    this.startFailures = new Counter({ name: 'codex_runner_sandbox_start_failures_total', help: 'Sandboxes that could not be started, by error code', labelNames: ['code'], registers });
    this.providerTokens = new Counter({ name: 'codex_runner_provider_tokens_total', help: 'Tokens providers reported through the gateway, by provider and tenant', labelNames: ['provider', 'tenant'], registers });
    this.gatewayRequests = new Counter({ name: 'codex_runner_gateway_requests_total', help: 'Calls sandboxes made through the gateway with a valid token, by provider and status', labelNames: ['provider', 'status'], registers });
    this.gatewayRefusals = new Counter({ name: 'codex_runner_gateway_refusals_total', help: 'Gateway calls refused by the gateway, by reason', labelNames: ['reason'], registers });
    this.egressConnections = new Counter({ name: 'codex_runner_egress_connections_total', help: 'Connections sandboxes asked the egress proxy for, by outcome', labelNames: ['outcome'], registers });
    this.egressBytes = new Counter({ name: 'codex_runner_egress_bytes_total', help: 'Bytes through the egress proxy, by direction', labelNames: ['direction'], registers });
  }

  runQueued(tenant: string): void {
    this.submitted.inc({ tenant });
  }

  runStarted(_tenant: string, queuedMs: number): void {
    this.queueWait.observe(queuedMs / 1000);
  }

  runPhase(phase: string, ms: number): void {
    this.phases.observe({ phase }, ms / 1000);
  }

  runEnded(run: RunEndReport): void {
    this.ended.inc({ tenant: run.tenant, provider: run.provider, status: run.status, error: run.errorCode ?? '' });
    this.durations.observe({ status: run.status }, run.ms / 1000);
    if (run.providerTokens) this.providerTokens.inc({ provider: run.provider, tenant: run.tenant }, run.providerTokens);
  }

  sandboxStartFailed(code: string): void {
    this.startFailures.inc({ code });
  }

  gatewayRequest(provider: string, status: number): void {
    this.gatewayRequests.inc({ provider, status: String(status) });
  }

  gatewayRefused(reason: string): void {
    this.gatewayRefusals.inc({ reason });
  }

  egressConnection(allowed: boolean, bytesUp: number, bytesDown: number): void {
    this.egressConnections.inc({ outcome: allowed ? 'allowed' : 'refused' });
    if (bytesUp) this.egressBytes.inc({ direction: 'up' }, bytesUp);
    if (bytesDown) this.egressBytes.inc({ direction: 'down' }, bytesDown);
  }

  metrics(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
