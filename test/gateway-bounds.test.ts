import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSse, startHarness, type Harness } from './fixtures/harness.js';
import { gatewayFlood as flood } from './fixtures/run-attacks.js';

const MiB = 1024 * 1024;
const BUFFERED_MB_TOTAL = 8;

let h: Harness;
beforeAll(async () => {
  h = await startHarness({
    // A generous in-flight limit so that the byte budgets, not the call count, are what refuse here.
    gateway: { max_request_mb: 2, max_inflight_per_run: 64, max_buffered_mb_per_run: BUFFERED_MB_TOTAL, max_buffered_mb_total: BUFFERED_MB_TOTAL },
  });
});
afterAll(async () => {
  await h?.close();
});

/** Samples the server's memory (it runs in this process) until stopped; returns the largest growth seen. */
function memoryWatch(): () => number {
  const held = () => {
    const m = process.memoryUsage();
    return m.heapUsed + m.arrayBuffers;
  };
  const base = held();
  let peak = 0;
  const timer = setInterval(() => (peak = Math.max(peak, held() - base)), 5);
  return () => {
    clearInterval(timer);
    return peak;
  };
}

describe('the gateway under a flood from one sandbox', () => {
  it('refuses 40 parallel 60 MB bodies with 413 and 429 and keeps its memory within a multiple of the budget', async () => {
    const before = h.standIn.requests.length;
    const stop = memoryWatch();
    const result: any = await (await h.createRun({ prompt: h.prompt([{ exec: flood(40, 60 * MiB) }, { message: 'flooded' }]), wait: true })).json();
    const peakBytes = stop();
    expect(result).toMatchObject({ status: 'succeeded', final_message: 'flooded' });

    // Every answer the sandbox could read is a refusal. Under the flood some connections are reset
    // before their answer is read (the HTTP server drains a refused body only so far, then closes, and
    // the sandbox's socat relay drops what it still held), so the server's own account is checked too.
    const events = await readSse(await h.api(`/v1/runs/${result.id}/events`));
    const output: string = events.find((e) => e.data.type === 'item.completed' && e.data.item?.type === 'command_execution')!.data.item.aggregated_output;
    const statuses = output.split('\n').map((line) => line.trim()).filter(Boolean).map((line) => line.split(' ')[1]);
    expect(statuses.length).toBeGreaterThan(0);
    for (const status of statuses) expect(['413', '429']).toContain(status);

    const refusals = h
      .logText()
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line))
      .filter((entry) => entry.runId === result.id && /over the gateway's limit|requests being read|request bytes as it may/.test(entry.msg));
    expect(refusals.length).toBeGreaterThanOrEqual(statuses.length);
    expect(refusals.length).toBeLessThanOrEqual(40);
    // Both ways of sending were refused: a Content-Length before a byte was read, a chunked body as it came.
    expect(refusals.some((entry) => /request body of 62914560 bytes/.test(entry.msg))).toBe(true);
    expect(refusals.some((entry) => /request body is over|requests being read|request bytes as it may/.test(entry.msg))).toBe(true);

    // Nothing of the flood went upstream: the only calls are Codex's own two.
    expect(h.standIn.requests.slice(before)).toHaveLength(2);
    expect(result.provider_usage.requests).toBe(2);

    // Measured: ~1.2 GB held without the bounds, ~45 MB with them (the 8 MiB budget, parsing, the run itself).
    expect(peakBytes).toBeLessThan(64 * MiB + 8 * BUFFERED_MB_TOTAL * MiB);
  });
});
