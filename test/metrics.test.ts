// GET /metrics on a real server after real runs: parsed by a Prometheus text-format parser, its
// counters checked against the runs made.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from './fixtures/harness.js';
import { histogramCounts, parseMetrics } from './fixtures/prometheus.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

describe('GET /metrics', () => {
  it('is refused without a tenant token', async () => {
    expect((await h.api('/metrics', { token: null })).status).toBe(401);
    expect((await h.api('/metrics', { token: 'wrong' })).status).toBe(401);
  });

  it('counts the runs made by status, their tokens and gateway calls, and times their phases', async () => {
    const runs: any[] = [];
    for (let i = 0; i < 2; i++) runs.push(await (await h.createRun({ prompt: h.prompt([{ exec: 'echo hi' }, { message: 'ok' }]), wait: true })).json());
    const prompt = h.prompt([{ exec: 'sleep 30' }, { message: 'late' }]);
    const script = /\[stand-in:([\w.-]+)\]/.exec(prompt)![1];
    const slow: any = await (await h.createRun({ prompt })).json();
    // Cancelled once Codex has asked the model: every phase up to codex has run.
    await expect.poll(() => h.standIn.requests.some((r) => r.script === script), { timeout: 20_000 }).toBe(true);
    runs.push(await (await h.api(`/v1/runs/${slow.id}/cancel`, { method: 'POST' })).json());
    expect(runs.map((r) => r.status)).toEqual(['succeeded', 'succeeded', 'cancelled']);

    // The last run's removal is timed just after its answer.
    await expect.poll(async () => histogramCounts(await (await h.api('/metrics')).text(), 'codex_runner_run_phase_seconds', 'phase').remove, { timeout: 30_000 }).toBe(3);
    const res = await h.api('/metrics');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await res.text();
    const m = parseMetrics(text);
    const runsTotal = (status: string) => Number(m.get('codex_runner_runs_total')!.metrics.find((s) => s.labels?.status === status && s.labels.tenant === 'default' && s.labels.provider === 'standin')?.value ?? 0);
    expect(runsTotal('succeeded')).toBe(2);
    expect(runsTotal('cancelled')).toBe(1);
    expect(m.get('codex_runner_runs_submitted_total')!.metrics).toEqual([{ labels: { tenant: 'default' }, value: '3' }]);
    const tokens = runs.reduce((sum, r) => sum + (r.provider_usage?.total_tokens ?? 0), 0);
    expect(tokens).toBeGreaterThan(0);
    expect(m.get('codex_runner_provider_tokens_total')!.metrics).toEqual([{ labels: { provider: 'standin', tenant: 'default' }, value: String(tokens) }]);
    const calls = runs.reduce((sum, r) => sum + (r.provider_usage?.requests ?? 0), 0);
    expect(m.get('codex_runner_gateway_requests_total')!.metrics).toEqual([{ labels: { provider: 'standin', status: '200' }, value: String(calls) }]);
    expect(m.get('codex_runner_queue_depth')!.metrics).toEqual([{ labels: { tenant: 'default' }, value: '0' }]);
    const phases = histogramCounts(text, 'codex_runner_run_phase_seconds', 'phase');
    // The cancelled run's partial artifacts are collected too.
    expect(phases).toMatchObject({ start: 3, codex: 3, collect: 3, remove: 3 });
  });
});
