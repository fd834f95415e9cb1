// Runs outlive the server process: `kill -9` during a run with another queued behind it, then a
// restart on the same data dir; and the listing of a tenant's runs. The real server as a child
// process, real Docker, the real Codex against the stand-in, the real SQLite file.
import { expectRunReleased } from './fixtures/released.js';
import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { docker, leftovers } from './fixtures/docker.js';
import { readSse } from './fixtures/harness.js';
import { scriptMarker, startResponsesStandIn, STAND_IN_MODEL, type ResponsesStandIn, type StandInStep } from './fixtures/responses-stand-in.js';
import { startServerProcess, type ServerProcess } from './fixtures/server-process.js';
import { makeTar, readTarContents as readTar } from '../server/archive/test-tarballs.js';

const tokens = { a: `tok-a-${randomBytes(8).toString('hex')}`, b: `tok-b-${randomBytes(8).toString('hex')}` };
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

let standIn: ResponsesStandIn;
beforeAll(async () => {
  standIn = await startResponsesStandIn();
});
afterAll(async () => {
  await standIn?.close();
});

/** One slot, so a second run waits; two tenants. */
const config = () => ({
  providers: { standin: { base_url: standIn.url, key_env: 'STANDIN_KEY' } },
  defaults: { provider: 'standin', model: STAND_IN_MODEL },
  sandbox: { memory_mb: 1024, cpus: 1, workspace_mb: 64 },
  limits: { max_concurrent_runs: 1 },
  tenants: [
    { name: 'a', token_sha256: sha256(tokens.a) },
    { name: 'b', token_sha256: sha256(tokens.b) },
  ],
});
const ENV = { STANDIN_KEY: 'sk-durability' };

function client(server: ServerProcess, tenant: keyof typeof tokens) {
  const api = (pathname: string, init: RequestInit = {}) => server.api(pathname, { ...init, headers: { ...init.headers, authorization: `Bearer ${tokens[tenant]}` } });
  let counter = 0;
  return {
    api,
    json: async (pathname: string) => (await api(pathname)).json() as Promise<any>,
    async create(steps: StandInStep[], workspace?: Buffer, wait = false): Promise<any> {
      const name = `dur-${tenant}-${++counter}-${randomBytes(3).toString('hex')}`;
      standIn.script(name, steps);
      const form = new FormData();
      form.set('prompt', `${scriptMarker(name)} do the task`);
      if (workspace) form.set('workspace', new Blob([new Uint8Array(workspace)]), 'workspace.tar');
      const res = await api(`/v1/runs${wait ? '?wait=1' : ''}`, { method: 'POST', body: form });
      expect(res.status, await res.clone().text()).toBe(wait ? 200 : 202);
      return res.json();
    },
    async until(id: string, done: (run: any) => boolean, timeoutMs = 90_000): Promise<any> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const run: any = await (await api(`/v1/runs/${id}`)).json();
        if (done(run)) return run;
        if (Date.now() > deadline) throw new Error(`run ${id} is still ${run.status}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
  };
}

async function removeLeftovers(label: string): Promise<void> {
  for (const c of await docker.listContainers({ all: true, filters: { label: [label] } })) await docker.getContainer(c.Id).remove({ force: true, v: true });
  for (const v of (await docker.listVolumes({ filters: { label: [label] } })).Volumes ?? []) await docker.getVolume(v.Name).remove({ force: true });
}

async function sandboxOf(runId: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await leftovers(`codex-runner.run-id=${runId}`)).containers === 0) {
    if (Date.now() > deadline) throw new Error(`run ${runId} has no sandbox`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('a server killed with SIGKILL and started again on the same data dir', () => {
  it('ends the running run interrupted, removes its sandbox, keeps finished runs and their files, and runs the queued one', async () => {
    let first: ServerProcess | undefined = await startServerProcess(config(), ENV);
    let second: ServerProcess | undefined;
    try {
      const a = client(first, 'a');
      const workspace = await makeTar([{ name: 'README.md', content: 'hello\n' }]);
      const done = await a.create([{ exec: 'printf made > made.txt' }, { message: 'made it' }], workspace, true);
      expect(done.status).toBe('succeeded');
      const diff = await (await a.api(`/v1/runs/${done.id}/diff`)).text();
      expect(diff).toContain('made.txt');
      const tree = Buffer.from(await (await a.api(`/v1/runs/${done.id}/workspace`)).arrayBuffer());

      const long = await a.create([{ exec: 'sleep 300' }], workspace);
      await sandboxOf(long.id);
      await a.until(long.id, (r) => r.status === 'running');
      const queued = await a.create([{ exec: 'printf queued > queued.txt' }, { message: 'ran after the restart' }], await makeTar([{ name: 'input.txt', content: 'kept\n' }]));
      expect(await a.json(`/v1/runs/${queued.id}`)).toMatchObject({ status: 'queued', queue_position: 1 });

      await first.kill();
      // What the crash left: the sandbox is still there until the restart removes it.
      expect((await leftovers(`codex-runner.run-id=${long.id}`)).containers).toBe(1);

      second = await startServerProcess(config(), ENV, first.resume);
      first = undefined;
      const again = client(second, 'a');
      await expectRunReleased(long.id);

      const interrupted = await again.json(`/v1/runs/${long.id}`);
      expect(interrupted).toMatchObject({ status: 'failed', error: { code: 'interrupted', message: 'interrupted by a server restart' } });
      expect(interrupted.finished_at).not.toBeNull();
      const events = await readSse(await again.api(`/v1/runs/${long.id}/events`));
      expect(events.filter((e) => e.event === 'run').map((e) => e.data.type)).toEqual(['run.queued', 'run.started', 'run.failed']);
      expect(events.at(-1)!.data.run.error.code).toBe('interrupted');
      expect(events.map((e) => Number(e.id))).toEqual(events.map((_, i) => i + 1));
      expect((await again.api(`/v1/runs/${long.id}/diff`)).status).toBe(404);

      expect(await again.json(`/v1/runs/${done.id}`)).toMatchObject({ status: 'succeeded', final_message: 'made it' });
      expect(await (await again.api(`/v1/runs/${done.id}/diff`)).text()).toBe(diff);
      expect(Buffer.from(await (await again.api(`/v1/runs/${done.id}/workspace`)).arrayBuffer()).equals(tree)).toBe(true);

      const ran = await again.until(queued.id, (r) => r.status !== 'queued' && r.status !== 'running');
      expect(ran).toMatchObject({ status: 'succeeded', final_message: 'ran after the restart', queue_position: null });
      const files = await readTar(Buffer.from(await (await again.api(`/v1/runs/${queued.id}/workspace`)).arrayBuffer()));
      expect(files.get('input.txt')).toBe('kept\n');
      expect(files.get('queued.txt')).toBe('queued');

      const listed = await again.json('/v1/runs');
      expect(listed.runs.map((r: any) => r.id)).toEqual([queued.id, long.id, done.id]);
    } finally {
      if (second) await second.close();
      else if (first) {
        // No restart to sweep what the killed server left: remove it here, then its data dir.
        const instance = first.resume.instance;
        await first.kill();
        await first.close().catch(() => {});
        await removeLeftovers(`codex-runner.instance=${instance}`);
      }
    }
  }, 300_000);
});

describe('a server stopped with SIGTERM and started again on the same data dir', () => {
  it('cancels the running run, keeps the waiting ones queued, and runs them after the restart in their order', async () => {
    // No grace: the running run is cancelled at once, so the test does not wait for it.
    const graceless = () => ({ ...config(), server: { shutdown_grace_s: 0 } });
    let first: ServerProcess | undefined = await startServerProcess(graceless(), ENV);
    let second: ServerProcess | undefined;
    try {
      const a = client(first, 'a');
      const b = client(first, 'b');
      const long = await a.create([{ exec: 'sleep 300' }]);
      await a.until(long.id, (r) => r.status === 'running');
      const queuedA = await a.create([{ exec: 'printf a > a.txt' }, { message: 'a ran after the restart' }]);
      const queuedB = await b.create([{ exec: 'printf b > b.txt' }, { message: 'b ran after the restart' }]);

      await first.stop();
      second = await startServerProcess(graceless(), ENV, first.resume);
      first = undefined;
      const againA = client(second, 'a');
      const againB = client(second, 'b');

      expect(await againA.json(`/v1/runs/${long.id}`)).toMatchObject({ status: 'cancelled', error: { code: 'shutdown' } });
      const ranA = await againA.until(queuedA.id, (r) => r.status === 'succeeded' || r.status === 'failed');
      const ranB = await againB.until(queuedB.id, (r) => r.status === 'succeeded' || r.status === 'failed');
      expect(ranA).toMatchObject({ status: 'succeeded', final_message: 'a ran after the restart' });
      expect(ranB).toMatchObject({ status: 'succeeded', final_message: 'b ran after the restart' });
      expect(await (await againB.api(`/v1/runs/${queuedB.id}/diff`)).text()).toContain('b.txt');
      // One event log across both processes: queued before the stop, started and ended after it.
      const events = await readSse(await againA.api(`/v1/runs/${queuedA.id}/events`));
      expect(events.filter((e) => e.event === 'run').map((e) => e.data.type)).toEqual(['run.queued', 'run.started', 'run.succeeded']);
      expect(events.map((e) => Number(e.id))).toEqual(events.map((_, i) => i + 1));
    } finally {
      if (second) await second.close();
      else if (first) await first.close();
    }
  }, 300_000);
});

describe('GET /v1/runs', () => {
  let server: ServerProcess;
  beforeAll(async () => {
    server = await startServerProcess(config(), ENV);
  });
  afterAll(async () => {
    await server?.close();
  });

  it("lists each tenant's own runs newest first, pages with a cursor, filters by status and shows the queue", async () => {
    const a = client(server, 'a');
    const b = client(server, 'b');
    const sleeper = await a.create([{ exec: 'sleep 300' }]);
    await a.until(sleeper.id, (r) => r.status === 'running');
    const q1 = await a.create([{ message: 'one' }]);
    const bRun = await b.create([{ message: 'b' }]);
    const q2 = await a.create([{ message: 'two' }]);
    // Fair admission: b, whose first run it is, goes before a's waiting runs (a holds the slot).
    try {
      const page1 = await a.json('/v1/runs?limit=2');
      expect(page1.runs.map((r: any) => [r.id, r.status, r.queue_position])).toEqual([
        [q2.id, 'queued', 3],
        [q1.id, 'queued', 2],
      ]);
      expect(page1.next_cursor).toEqual(expect.any(String));
      const page2 = await a.json(`/v1/runs?limit=2&cursor=${page1.next_cursor}`);
      expect(page2.runs.map((r: any) => [r.id, r.status, r.queue_position])).toEqual([[sleeper.id, 'running', null]]);
      expect(page2.next_cursor).toBeNull();

      expect((await a.json('/v1/runs?status=running')).runs.map((r: any) => r.id)).toEqual([sleeper.id]);
      expect((await a.json('/v1/runs?status=queued&limit=1')).runs.map((r: any) => r.id)).toEqual([q2.id]);
      expect((await a.json('/v1/runs?status=succeeded')).runs).toEqual([]);

      const bList = await b.json('/v1/runs');
      expect(bList).toEqual({ runs: [expect.objectContaining({ id: bRun.id, status: 'queued', queue_position: 1 })], next_cursor: null });
      expect((await a.json('/v1/runs?limit=100')).runs.map((r: any) => r.id)).not.toContain(bRun.id);
      expect((await b.api(`/v1/runs/${q1.id}`)).status).toBe(404);

      for (const query of ['limit=0', 'limit=101', 'limit=x', 'status=done', 'cursor=bm90LWEtY3Vyc29y']) {
        const res = await a.api(`/v1/runs?${query}`);
        expect(res.status, query).toBe(400);
        expect(((await res.json()) as any).error.code, query).toBe('bad_request');
      }
      expect((await server.api('/v1/runs', { headers: { authorization: 'Bearer nope' } })).status).toBe(401);
    } finally {
      for (const run of [q2, bRun, q1, sleeper]) {
        const owner = run === bRun ? b : a;
        await owner.api(`/v1/runs/${run.id}/cancel`, { method: 'POST' });
      }
    }
  }, 180_000);
});
