import { expectRunReleased } from './fixtures/released.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { leftovers } from './fixtures/docker.js';
import { startHarness, type Harness } from './fixtures/harness.js';

// A cancel can land in any phase of a run: its sandbox starting, the upload, Codex's config being
// written, Codex starting. Each must answer soon and leave nothing behind. Freezing a sandbox while
// one of its commands was still starting once deadlocked the engine: the cancel never answered and
// the run held its slot for good.
const CANCEL_DELAYS_MS = Array.from({ length: 16 }, (_, i) => i * 50);
const CANCEL_ANSWER_MS = 15_000;

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ limits: { max_concurrent_runs: 1 } });
});
afterAll(async () => {
  await h?.close();
});

describe('cancelling a run at any moment of its start', () => {
  it.each(CANCEL_DELAYS_MS)('cancelled %i ms after it was created: the cancel answers and nothing is left', async (delayMs) => {
    const created: any = await (await h.createRun({ prompt: h.prompt([{ exec: 'sleep 300' }]) })).json();
    await new Promise((r) => setTimeout(r, delayMs));
    const res = await h.api(`/v1/runs/${created.id}/cancel`, { method: 'POST', signal: AbortSignal.timeout(CANCEL_ANSWER_MS) });
    expect(res.status).toBe(200);
    const run: any = await res.json();
    expect(run).toMatchObject({ status: 'cancelled', error: { code: 'cancelled' } });
    await expectRunReleased(created.id);
  });
});
