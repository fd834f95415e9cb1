// Tenants sharing one server: fair admission across them, each one's caps and ceilings, and no
// tenant ever reaching another's run. Real Docker, real Codex, the stand-in model.
import { createHash } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RunRefusedError } from '../server/runs/run-refused.js';
import { docker } from './fixtures/docker.js';
import { readSse, startHarness, type Harness } from './fixtures/harness.js';
import { makeTar } from '../server/archive/test-tarballs.js';

const MiB = 1024 * 1024;
const TOKENS = { a: 'token-a', b: 'token-b', c: 'token-c', d: 'token-d', e: 'token-e' } as const;
type Tenant = keyof typeof TOKENS;

let h: Harness;
beforeAll(async () => {
  h = await startHarness({
    limits: { max_concurrent_runs: 2, max_queued_runs: 60 },
    tenants: [
      { name: 'a', token_sha256: sha(TOKENS.a), max_queued_runs: 40 },
      { name: 'b', token_sha256: sha(TOKENS.b) },
      { name: 'c', token_sha256: sha(TOKENS.c), max_concurrent_runs: 1 },
      { name: 'd', token_sha256: sha(TOKENS.d), max_concurrent_runs: 1, max_queued_runs: 1 },
      { name: 'e', token_sha256: sha(TOKENS.e), max_memory_mb: 256, max_cpus: 0.5, max_workspace_mb: 2 },
    ],
  });
});
afterAll(async () => {
  await h?.close();
});

function api(tenant: Tenant, pathname: string, init: RequestInit = {}) {
  return h.api(pathname, { ...init, token: TOKENS[tenant] });
}

function post(tenant: Tenant, body: { prompt: string; options?: object }) {
  return api(tenant, '/v1/runs', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

async function created(res: Response): Promise<any> {
  const body: any = await res.json();
  expect({ status: res.status, body }).toMatchObject({ status: 202 });
  return body;
}

async function view(tenant: Tenant, id: string): Promise<any> {
  return (await api(tenant, `/v1/runs/${id}`)).json();
}

async function waitForEnd(tenant: Tenant, id: string, timeoutMs = 90_000): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const run = await view(tenant, id);
    if (!['queued', 'running'].includes(run.status)) return run;
    if (Date.now() > deadline) throw new Error(`run ${id} still ${run.status}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function waitForStatus(tenant: Tenant, id: string, status: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while ((await view(tenant, id)).status !== status) {
    if (Date.now() > deadline) throw new Error(`run ${id} never ${status}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function expectError(res: Response, status: number, code: string, message?: RegExp) {
  const body: any = await res.json();
  expect({ status: res.status, code: body.error?.code }).toEqual({ status, code });
  if (message) expect(body.error.message).toMatch(message);
}

describe('fair admission', () => {
  it("starts another tenant's run at the next slot turnover while one tenant has 30 runs waiting", async () => {
    const burst = await Promise.all(Array.from({ length: 30 }, (_, i) => post('a', { prompt: h.prompt([{ exec: 'sleep 1' }, { message: `a${i}` }]) }).then(created)));
    const b = await created(await post('b', { prompt: h.prompt([{ message: 'b' }]) }));
    expect(b.status).toBe('queued');
    const bEnded = await waitForEnd('b', b.id);
    expect(bEnded.status).toBe('succeeded');
    // The rest of a's line is not needed: cancel what still waits, let what runs end.
    const aRuns = await Promise.all(burst.map((r) => view('a', r.id)));
    await Promise.all(aRuns.filter((r) => r.status === 'queued').map((r) => api('a', `/v1/runs/${r.id}/cancel`, { method: 'POST' })));
    const aEnded = await Promise.all(burst.map((r) => waitForEnd('a', r.id)));

    const bCreated = Date.parse(bEnded.created_at);
    const bStarted = Date.parse(bEnded.started_at);
    const aStarts = aEnded.filter((r) => r.started_at).map((r) => Date.parse(r.started_at));
    // One slot turnover at most: first come, first served would have run all 28 waiting first.
    expect(aStarts.filter((t) => t > bCreated && t < bStarted).length).toBeLessThanOrEqual(1);
    expect(aStarts.filter((t) => t <= bStarted).length).toBeLessThanOrEqual(3);
    expect(aEnded.filter((r) => r.status === 'cancelled' && r.started_at === null).length).toBeGreaterThanOrEqual(20);
    expect(aEnded.filter((r) => r.status === 'succeeded').length).toBeGreaterThanOrEqual(2);
  });

  it("holds a tenant to its own max_concurrent_runs while the server's slots are free", async () => {
    const runs = await Promise.all([1, 2, 3].map((i) => post('c', { prompt: h.prompt([{ exec: 'sleep 2' }, { message: `c${i}` }]) }).then(created)));
    let most = 0;
    let heldWithFreeSlot = false;
    for (;;) {
      const statuses = (await Promise.all(runs.map((r) => view('c', r.id)))).map((r) => r.status);
      const running = statuses.filter((s) => s === 'running').length;
      most = Math.max(most, running);
      if (running === 1 && statuses.includes('queued') && h.server.service.stats.running < 2) heldWithFreeSlot = true;
      if (statuses.every((s) => !['queued', 'running'].includes(s))) {
        expect(statuses).toEqual(['succeeded', 'succeeded', 'succeeded']);
        break;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(most).toBe(1);
    expect(heldWithFreeSlot).toBe(true);
  });
});

describe('a full line', () => {
  it('answers 429 queue_full with Retry-After, before the upload is read and from create(), for that tenant only', async () => {
    const first = await created(await post('d', { prompt: h.prompt([{ exec: 'sleep 5' }, { message: 'd1' }]) }));
    await waitForStatus('d', first.id, 'running');
    const second = await created(await post('d', { prompt: h.prompt([{ message: 'd2' }]) }));
    expect(second.status).toBe('queued');

    const refused = await post('d', { prompt: h.prompt([{ message: 'd3' }]) });
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(refused.headers.get('retry-after')).toMatch(/^\d+$/);
    await expectError(refused, 429, 'queue_full', /already has 1 runs waiting \(its max_queued_runs is 1\); retry later/);

    const form = new FormData();
    form.set('prompt', 'x');
    form.set('workspace', new Blob([new Uint8Array(await makeTar([{ name: 'big.bin', content: Buffer.alloc(4 * MiB) }]))]), 'w.tar');
    const upload = await api('d', '/v1/runs', { method: 'POST', body: form });
    expect(upload.status).toBe(429);
    expect(upload.headers.get('retry-after')).toMatch(/^\d+$/);
    await expectError(upload, 429, 'queue_full');
    expect(await readdir(path.join(h.dataDir, 'uploads'))).toEqual([]);

    const inCreate = await h.server.service.create({ tenant: 'd', prompt: 'x', options: {}, workspaceTar: null }).catch((err: unknown) => err);
    expect(inCreate).toBeInstanceOf(RunRefusedError);
    expect(inCreate).toMatchObject({ reason: 'queue_full', retryAfterS: expect.any(Number) });

    // Another tenant is not held by d's line.
    const other = await created(await post('b', { prompt: h.prompt([{ message: 'b' }]) }));
    expect((await waitForEnd('b', other.id)).status).toBe('succeeded');
    await api('d', `/v1/runs/${second.id}/cancel`, { method: 'POST' });
    expect((await waitForEnd('d', first.id)).status).toBe('succeeded');
  });
});

describe('run ceilings', () => {
  it("refuses options over the tenant's ceilings, or over the server's, naming the limit", async () => {
    const prompt = h.prompt([{ message: 'never' }]);
    await expectError(await post('e', { prompt, options: { memory_mb: 512 } }), 400, 'invalid_options', /memory_mb 512 exceeds the maximum of 256 \(the tenant's max_memory_mb\)/);
    await expectError(await post('e', { prompt, options: { cpus: 1 } }), 400, 'invalid_options', /cpus 1 exceeds the maximum of 0.5 \(the tenant's max_cpus\)/);
    await expectError(await post('e', { prompt, options: { workspace_mb: 3 } }), 400, 'invalid_options', /workspace_mb 3 exceeds the maximum of 2 \(the tenant's max_workspace_mb\)/);
    await expectError(await post('b', { prompt, options: { memory_mb: 4096 } }), 400, 'invalid_options', /memory_mb 4096 exceeds the maximum of 1024 \(sandbox.memory_mb\)/);
    await expectError(await post('e', { prompt, options: { memory_mb: 10 } }), 400, 'invalid_options', /memory_mb/);
  });

  it('gives a run the memory, cpus and workspace it asked for within its ceilings', async () => {
    const run = await created(
      await post('e', {
        prompt: h.prompt([{ exec: 'cat /sys/fs/cgroup/memory/memory.limit_in_bytes; df -k /workspace | tail -1; sleep 2' }, { message: 'done' }]),
        options: { memory_mb: 200, cpus: 0.25, workspace_mb: 1 },
      }),
    );
    await waitForStatus('e', run.id, 'running');
    const [container] = await waitForContainer(run.id);
    if (!container) throw new Error('no container');
    const inspected = await docker.getContainer(container.Id).inspect();
    expect(inspected.HostConfig.Memory).toBe(200 * MiB);
    expect(inspected.HostConfig.NanoCpus).toBe(0.25e9);
    const volume = await docker.getVolume(`codex-runner-ws-${run.id}`).inspect();
    expect(volume.Options?.o).toMatch(/(^|,)size=1m(,|$)/);

    expect((await waitForEnd('e', run.id)).status).toBe('succeeded');
    const events = await readSse(await api('e', `/v1/runs/${run.id}/events`));
    const output: string = events.find((ev) => ev.data.type === 'item.completed' && ev.data.item?.type === 'command_execution')!.data.item.aggregated_output;
    const [limit, df] = output.trim().split('\n');
    expect(Number(limit)).toBe(200 * MiB);
    expect(df).toMatch(/\s1024\s/);
  });

  it("caps the upload at the run's workspace_mb, or at the tenant's ceiling when the options come after it", async () => {
    const tar = async (mb: number) => new Blob([new Uint8Array(await makeTar([{ name: 'f.bin', content: Buffer.alloc(mb * MiB) }]))]);
    const form = (parts: [string, string | Blob][]) => {
      const f = new FormData();
      for (const [name, value] of parts) typeof value === 'string' ? f.set(name, value) : f.set(name, value, 'w.tar');
      return f;
    };
    const prompt = h.prompt([{ message: 'never' }]);
    const options = JSON.stringify({ workspace_mb: 1 });
    // Options first: refused as the spool passes the run's 1 MiB.
    await expectError(await api('e', '/v1/runs', { method: 'POST', body: form([['prompt', prompt], ['options', options], ['workspace', await tar(1.5)]]) }), 413, 'workspace_too_large', new RegExp(`workspace cap of ${MiB} bytes`));
    // Options after: the spool's cap is the tenant's 2 MiB...
    await expectError(await api('e', '/v1/runs', { method: 'POST', body: form([['prompt', prompt], ['workspace', await tar(3)], ['options', options]]) }), 413, 'workspace_too_large', new RegExp(`workspace cap of ${2 * MiB} bytes`));
    // ...and what passed it is then held to the run's own workspace_mb.
    await expectError(await api('e', '/v1/runs', { method: 'POST', body: form([['prompt', prompt], ['workspace', await tar(1.5)], ['options', options]]) }), 413, 'workspace_too_large', /exceed the run's workspace_mb of 1/);
    expect(await readdir(path.join(h.dataDir, 'uploads'))).toEqual([]);
  });
});

describe('tenant isolation', () => {
  it("answers 404 to another tenant's run on every route, live and ended, and leaves the run alone", async () => {
    const ended = await created(await post('a', { prompt: h.prompt([{ exec: 'echo hi > made.txt' }, { message: 'made' }]) }));
    expect((await waitForEnd('a', ended.id)).status).toBe('succeeded');
    const live = await created(await post('a', { prompt: h.prompt([{ exec: 'sleep 3' }, { message: 'live' }]) }));
    await waitForStatus('a', live.id, 'running');

    for (const id of [ended.id, live.id]) {
      await expectError(await api('b', `/v1/runs/${id}`), 404, 'not_found');
      await expectError(await api('b', `/v1/runs/${id}/events`), 404, 'not_found');
      await expectError(await api('b', `/v1/runs/${id}/diff`), 404, 'not_found');
      await expectError(await api('b', `/v1/runs/${id}/workspace`), 404, 'not_found');
      await expectError(await api('b', `/v1/runs/${id}/cancel`, { method: 'POST' }), 404, 'not_found');
    }
    // The same answer as for a run that does not exist: nothing tells another tenant's run apart.
    const unknown: any = await (await api('b', '/v1/runs/run_00000000000000000000')).json();
    const other: any = await (await api('b', `/v1/runs/${live.id}`)).json();
    expect(other.error.message.replace(live.id, 'ID')).toBe(unknown.error.message.replace('run_00000000000000000000', 'ID'));

    expect((await view('a', live.id)).status).toBe('running');
    expect((await waitForEnd('a', live.id)).status).toBe('succeeded');
    expect((await api('a', `/v1/runs/${ended.id}/diff`)).status).toBe(200);
    expect((await api('a', `/v1/runs/${ended.id}/workspace`)).status).toBe(200);
    const events = await api('a', `/v1/runs/${ended.id}/events`);
    expect(events.status).toBe(200);
    await events.text();
  });
});

async function waitForContainer(runId: string) {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const found = await docker.listContainers({ filters: { label: [`codex-runner.run-id=${runId}`] } });
    if (found.length) return found;
    if (Date.now() > deadline) throw new Error(`no container for ${runId}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function sha(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
