// A provider that is slow, hangs after its headers, never answers, or cuts its stream mid-event, as
// the real Codex in a real sandbox meets it through the gateway: each run ends with an error that
// names the provider (provider_timeout, provider_error), not a generic failure, and well before
// Codex's own 300 s stream idle timeout. Small deadlines and retries keep it short.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSse, startHarness, type Harness } from './fixtures/harness.js';
import type { StandInStep } from './fixtures/responses-stand-in.js';

const IDLE_S = 4;

let h: Harness;
beforeAll(async () => {
  h = await startHarness({
    providers: { standin: { stream_max_retries: 1, request_max_retries: 1 } },
    gateway: { upstream_idle_timeout_s: IDLE_S },
  });
});
afterAll(async () => {
  await h?.close();
});

async function run(steps: StandInStep[]): Promise<{ run: any; ms: number; calls: typeof h.standIn.requests; codexEvents: any[] }> {
  const before = h.standIn.requests.length;
  const started = Date.now();
  const res = await h.createRun({ prompt: h.prompt(steps), wait: true });
  expect(res.status).toBe(200);
  const result: any = await res.json();
  const ms = Date.now() - started;
  const events = await readSse(await h.api(`/v1/runs/${result.id}/events`));
  return { run: result, ms, calls: h.standIn.requests.slice(before), codexEvents: events.filter((e) => e.event === 'codex').map((e) => e.data) };
}

describe('a provider that stops talking', () => {
  it('that hangs after its headers: the run ends provider_timeout naming it once the idle deadline passes, and the call is cut', async () => {
    const { run: result, ms, calls } = await run([{ hangAfterHeaders: true }]);
    expect(result.status).toBe('failed');
    expect(result.error).toEqual({
      code: 'provider_timeout',
      message: `provider standin sent nothing for ${IDLE_S} s in the middle of its answer (gateway.upstream_idle_timeout_s)`,
    });
    // At once, without waiting out Codex's retries or its own 300 s: one call, cut by the gateway.
    expect(calls).toHaveLength(1);
    expect(calls[0]!.clientGone).toBe(true);
    expect(ms).toBeGreaterThanOrEqual(IDLE_S * 1000);
    expect(ms).toBeLessThan(60_000);
  });

  it('that never sends its headers: the run ends provider_timeout saying it did not answer', async () => {
    const { run: result, ms, calls } = await run([{ delayMs: 120_000, then: { message: 'too late' } }]);
    expect(result.status).toBe('failed');
    expect(result.error).toEqual({ code: 'provider_timeout', message: `provider standin did not answer within ${IDLE_S} s (gateway.upstream_idle_timeout_s)` });
    expect(calls.length).toBeGreaterThanOrEqual(1);
    for (const call of calls) expect(call.clientGone).toBe(true);
    expect(ms).toBeLessThan(60_000);
  });
});

describe('a provider that cuts its stream', () => {
  it('mid-event: Codex is told by a response.failed naming the provider, retries, and the run ends provider_error saying so', async () => {
    const { run: result, calls, codexEvents } = await run([{ cutStream: true, midEvent: true }]);
    const broke = 'provider standin broke off its answer mid-stream: other side closed (UND_ERR_SOCKET)';
    expect(result.status).toBe('failed');
    expect(result.error).toEqual({ code: 'provider_error', message: broke });
    // stream_max_retries = 1: the first call and one retry, each announced by Codex with the gateway's words.
    expect(calls).toHaveLength(2);
    const errors = codexEvents.filter((e) => e.type === 'error').map((e) => e.message);
    expect(errors).toContain(`Reconnecting... 1/1 (stream disconnected before completion: ${broke})`);
    expect(codexEvents.find((e) => e.type === 'turn.failed').error.message).toBe(`stream disconnected before completion: ${broke}`);
  });

  it('right after response.created: the run ends provider_error naming it too', async () => {
    const { run: result, calls } = await run([{ cutStream: true }]);
    expect(result.error).toMatchObject({ code: 'provider_error', message: expect.stringMatching(/^provider standin broke off its answer mid-stream: /) });
    expect(calls).toHaveLength(2);
  });
});

describe('a slow provider', () => {
  it('whose every event comes a second apart, under the idle deadline: the run succeeds', async () => {
    const { run: result, ms } = await run([{ exec: 'echo slow', gapMs: 1000 }, { message: 'slow but fine', gapMs: 1000 }]);
    expect(result).toMatchObject({ status: 'succeeded', final_message: 'slow but fine', error: null });
    // Six gaps of a second: longer than the idle deadline in all, which is per silence, not per answer.
    expect(ms).toBeGreaterThan(IDLE_S * 1000);
  });

  it('that answers its headers late but within the deadline: the run succeeds', async () => {
    const { run: result } = await run([{ delayMs: 1000, then: { message: 'late headers' } }]);
    expect(result).toMatchObject({ status: 'succeeded', final_message: 'late headers' });
  });
});

describe('after the faults', () => {
  it('serves on: healthz answers and a plain run succeeds', async () => {
    expect((await fetch(`${h.url}/healthz`)).status).toBe(200);
    const { run: result } = await run([{ message: 'still here' }]);
    expect(result).toMatchObject({ status: 'succeeded', final_message: 'still here' });
  });
});
