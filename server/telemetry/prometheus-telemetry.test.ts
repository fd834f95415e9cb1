import { describe, expect, it } from 'vitest';
import { histogramCounts, parseMetrics } from '../../test/fixtures/prometheus.js';
import { PrometheusTelemetry } from './prometheus-telemetry.js';

describe('PrometheusTelemetry', () => {
  it('counts runs by tenant, provider and status, tokens by provider and tenant, and times phases', async () => {
    const t = new PrometheusTelemetry({ tenants: () => ['ci', 'app'], statsFor: (tenant) => (tenant === 'ci' ? { running: 2, queued: 5 } : { running: 0, queued: 1 }) });
    t.runQueued('ci');
    t.runStarted('ci', 1500);
    t.runPhase('start', 120);
    t.runPhase('codex', 4000);
    t.runEnded({ tenant: 'ci', provider: 'openai', status: 'succeeded', errorCode: null, ms: 6000, providerTokens: 1234 });
    t.runEnded({ tenant: 'ci', provider: 'openai', status: 'failed', errorCode: 'budget_exceeded', ms: 100, providerTokens: null });
    t.sandboxStartFailed('docker_unreachable');
    t.gatewayRequest('openai', 200);
    t.gatewayRefused('rate_limited');
    const text = await t.metrics();
    const m = parseMetrics(text);
    expect(m.get('codex_runner_runs_total')!.metrics).toEqual(
      expect.arrayContaining([
        { labels: { tenant: 'ci', provider: 'openai', status: 'succeeded', error: '' }, value: '1' },
        { labels: { tenant: 'ci', provider: 'openai', status: 'failed', error: 'budget_exceeded' }, value: '1' },
      ]),
    );
    expect(m.get('codex_runner_queue_depth')!.metrics).toEqual(expect.arrayContaining([{ labels: { tenant: 'ci' }, value: '5' }, { labels: { tenant: 'app' }, value: '1' }]));
    expect(m.get('codex_runner_runs_running')!.metrics).toContainEqual({ labels: { tenant: 'ci' }, value: '2' });
    expect(m.get('codex_runner_provider_tokens_total')!.metrics).toEqual([{ labels: { provider: 'openai', tenant: 'ci' }, value: '1234' }]);
    expect(m.get('codex_runner_run_phase_seconds')!.type).toBe('HISTOGRAM');
    // That parser folds a labelled histogram's series into one: its counts are read from the text.
    expect(histogramCounts(text, 'codex_runner_run_phase_seconds', 'phase')).toEqual({ start: 1, codex: 1 });
    expect(m.get('codex_runner_sandbox_start_failures_total')!.metrics).toEqual([{ labels: { code: 'docker_unreachable' }, value: '1' }]);
    expect(m.get('codex_runner_gateway_refusals_total')!.metrics).toEqual([{ labels: { reason: 'rate_limited' }, value: '1' }]);
    expect(m.get('codex_runner_gateway_requests_total')!.metrics).toEqual([{ labels: { provider: 'openai', status: '200' }, value: '1' }]);
    expect(m.has('codex_runner_process_resident_memory_bytes')).toBe(true);
  });
});
