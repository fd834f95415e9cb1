// Retention on a real server: an ended run's artifacts go, its record stays and says so, and its
// artifact routes answer 410.
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from './fixtures/harness.js';

let h: Harness;
beforeAll(async () => {
  // Every ended run is over the cap: each sweep (every second) expires what has ended.
  h = await startHarness({ retention: { max_bytes: 1, sweep_interval_s: 1 } });
});
afterAll(async () => {
  await h?.close();
});

describe('retention', () => {
  it('removes an ended run\'s artifacts, keeps its record marked expired, and answers 410 for them', async () => {
    const run: any = await (await h.createRun({ prompt: h.prompt([{ exec: 'echo x > x.txt' }, { message: 'ok' }]), wait: true })).json();
    // (The sweep runs every second: the answer may already show the run expired.)
    expect(run.status).toBe('succeeded');
    await expect.poll(async () => ((await (await h.api(`/v1/runs/${run.id}`)).json()) as any).artifacts_expired, { timeout: 10_000 }).toBe(true);
    const record: any = await (await h.api(`/v1/runs/${run.id}`)).json();
    expect(record).toMatchObject({ status: 'succeeded', final_message: 'ok', changes: { files_changed: 1 } });
    for (const kind of ['diff', 'workspace', 'events']) {
      const res = await h.api(`/v1/runs/${run.id}/${kind}`);
      expect(res.status).toBe(410);
      expect(((await res.json()) as any).error.code).toBe('artifact_expired');
    }
    expect(await readdir(path.join(h.dataDir, 'runs')).then((ids) => ids.includes(run.id))).toBe(false);
    // Codex's session went with them: the run can no longer be followed up.
    expect(record.resumable).toBe(false);
    const followUp = await h.api(`/v1/runs/${run.id}/follow-ups`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ prompt: 'go on' }) });
    expect(followUp.status).toBe(410);
    expect(((await followUp.json()) as any).error.code).toBe('artifact_expired');
  });
});
