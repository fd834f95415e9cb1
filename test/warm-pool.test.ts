import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTar } from '../server/archive/test-tarballs.js';
import { INSTANCE_LABEL, RUN_ID_LABEL } from '../server/sandbox/container-spec.js';
import { demuxDockerStream } from '../server/sandbox/demux.js';
import { POOL_ID_PREFIX } from '../server/sandbox/warm-pool.js';
import { docker } from './fixtures/docker.js';
import { startHarness, type Harness } from './fixtures/harness.js';

const POOL = { size: 2, refill_interval_ms: 100 };

/** The pool's sandboxes of this harness: running, labelled with a pool id. */
async function pooled(h: Harness): Promise<{ id: string; label: string }[]> {
  // Running only: a claimed one is frozen (paused) once its run ends, until its removal.
  const list = await docker.listContainers({ filters: { label: [`${INSTANCE_LABEL}=${h.instance}`], status: ['running'] } });
  return list.filter((c) => c.Labels[RUN_ID_LABEL]!.startsWith(POOL_ID_PREFIX)).map((c) => ({ id: c.Id, label: c.Labels[RUN_ID_LABEL]! }));
}

/** The pool's waiting sandboxes once it holds its size: the pool's own count and the engine's agree. */
async function untilFull(h: Harness): Promise<string[]> {
  await expect.poll(async () => [h.server.pool.ready, (await pooled(h)).length], { timeout: 20_000 }).toEqual([POOL.size, POOL.size]);
  return (await pooled(h)).map((c) => c.id).sort();
}

/** The phases the server timed for a run, from its 'run ended' log line (logged once its sandbox is gone). */
async function phasesOf(h: Harness, runId: string): Promise<string[]> {
  const line = () =>
    h
      .logText()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l))
      .find((entry) => entry.msg === 'run ended' && entry.runId === runId);
  await expect.poll(line, { timeout: 30_000 }).toBeDefined();
  return Object.keys(line().timingsMs);
}

async function execIn(containerId: string, cmd: string[]): Promise<string> {
  const exec = await docker.getContainer(containerId).exec({ Cmd: cmd, AttachStdout: true, AttachStderr: true });
  const stream = await exec.start({ hijack: true, stdin: false });
  const out: Buffer[] = [];
  const both = new Writable({ write: (chunk: Buffer, _encoding, done) => (out.push(chunk), done()) });
  await demuxDockerStream(stream, both, both);
  return Buffer.concat(out).toString();
}

describe('the warm pool', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ pool: POOL, server: { sweep_interval_s: 0.3 } });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('keeps its size of started sandboxes that hold nothing of any run', async () => {
    const ids = await untilFull(h);
    for (const id of ids) {
      const info = await docker.getContainer(id).inspect();
      expect(info.State.Running).toBe(true);
      expect(info.Config.Env.join('\n')).not.toMatch(/TOKEN|KEY/);
      expect(info.Config.Labels['codex-runner.tenant']).toBe('');
      expect(await execIn(id, ['ls', '-A', '/workspace', '/home/codex', '/home/codex/.codex', '/run/codex-runner'])).toBe(
        '/home/codex:\n.codex\n\n/home/codex/.codex:\n\n/run/codex-runner:\n\n/workspace:\n',
      );
    }
  });

  it('hands a waiting sandbox to an upload, which gets the workspace as it is read and its run\'s token only then, and never gives it back', async () => {
    const before = await untilFull(h);
    const workspace = await makeTar([{ name: 'a.txt', content: 'one\n' }]);
    const res = await h.createRun({ prompt: h.prompt([{ exec: 'echo two >> a.txt && env | grep -c CODEX_RUNNER_GATEWAY_TOKEN && sleep 2' }, { message: 'edited' }]), workspace });
    const { id } = (await res.json()) as any;
    // While it runs, the waiting sandbox it took bears the run's name (its label stays the pool's).
    await expect
      .poll(async () => (await docker.listContainers({ filters: { name: [`^/codex-runner-${id}$`] } })).map((c) => [c.Id, c.Labels[RUN_ID_LABEL]!.startsWith(POOL_ID_PREFIX)]), { timeout: 20_000 })
      .toEqual([[expect.toSatisfy((cid: string) => before.includes(cid)), true]]);
    const run = await h.waitForEnd(id);
    expect(run).toMatchObject({ status: 'succeeded', final_message: 'edited' });
    expect(await (await h.api(`/v1/runs/${run.id}/diff`)).text()).toContain('+two');
    const phases = await phasesOf(h, run.id);
    // Claimed for the upload, which went into it as it was spooled: the run neither claimed nor uploaded.
    expect(phases).toContain('preload');
    expect(phases).not.toContain('claim');
    expect(phases).not.toContain('upload');
    expect(phases).not.toContain('start');
    // The run's sandbox was one of the waiting ones; it is gone, and the pool made a new one in its place.
    const after = await untilFull(h);
    const taken = before.filter((id) => !after.includes(id));
    expect(taken).toHaveLength(1);
    await expect(docker.getContainer(taken[0]!).inspect()).rejects.toMatchObject({ statusCode: 404 });
  });

  it('removes the sandbox that took an upload whose options, sent after it, ask for another shape; the run gets its own', async () => {
    const before = await untilFull(h);
    const form = new FormData();
    form.set('prompt', h.prompt([{ exec: 'cat a.txt && echo two >> a.txt' }, { message: 'own sandbox' }]));
    form.set('workspace', new Blob([new Uint8Array(await makeTar([{ name: 'a.txt', content: 'one\n' }]))]), 'workspace.tar');
    form.set('options', JSON.stringify({ memory_mb: 512 }));
    const run = (await (await h.api('/v1/runs?wait=1', { method: 'POST', body: form })).json()) as any;
    expect(run).toMatchObject({ status: 'succeeded', final_message: 'own sandbox' });
    expect(await (await h.api(`/v1/runs/${run.id}/diff`)).text()).toContain('+two');
    const phases = await phasesOf(h, run.id);
    expect(phases).toEqual(expect.arrayContaining(['preload', 'start', 'upload']));
    // The one claimed for the upload is gone; the pool made another in its place, and nothing else is left.
    const after = await untilFull(h);
    const taken = before.filter((id) => !after.includes(id));
    expect(taken).toHaveLength(1);
    await expect(docker.getContainer(taken[0]!).inspect()).rejects.toMatchObject({ statusCode: 404 });
    await expect.poll(async () => (await docker.listContainers({ all: true, filters: { label: [`${INSTANCE_LABEL}=${h.instance}`] } })).length, { timeout: 20_000 }).toBe(POOL.size);
  });

  it('removes the sandbox that took an upload refused halfway, and answers the refusal', async () => {
    const before = await untilFull(h);
    const big = Buffer.alloc(3 * 1024 * 1024, 'x');
    const workspace = await makeTar([{ name: 'big.bin', content: big }, { name: '../escape.txt', content: 'out\n' }]);
    const res = await h.createRun({ prompt: h.prompt([{ message: 'never' }]), workspace });
    expect(res.status).toBe(400);
    expect(((await res.json()) as any).error.message).toMatch(/escape\.txt/);
    const after = await untilFull(h);
    const taken = before.filter((id) => !after.includes(id));
    expect(taken).toHaveLength(1);
    await expect(docker.getContainer(taken[0]!).inspect()).rejects.toMatchObject({ statusCode: 404 });
    await expect.poll(async () => (await docker.listContainers({ all: true, filters: { label: [`${INSTANCE_LABEL}=${h.instance}`] } })).length, { timeout: 20_000 }).toBe(POOL.size);
  });

  it('starts a sandbox of its own for a run of another shape', async () => {
    const before = await untilFull(h);
    const res = await h.createRun({ prompt: h.prompt([{ message: 'cold' }]), options: { memory_mb: 512 }, wait: true });
    const run = (await res.json()) as any;
    expect(run).toMatchObject({ status: 'succeeded', final_message: 'cold' });
    expect(await phasesOf(h, run.id)).toContain('start');
    expect(await untilFull(h)).toEqual(before);
  });

  it('passes over a waiting sandbox removed from outside', async () => {
    const [victim] = await untilFull(h);
    await docker.getContainer(victim!).remove({ force: true });
    const res = await h.createRun({ prompt: h.prompt([{ message: 'still served' }]), wait: true });
    expect(await res.json()).toMatchObject({ status: 'succeeded', final_message: 'still served' });
  });

  it('keeps its sandboxes through the orphan sweeps', async () => {
    const ids = await untilFull(h);
    await new Promise((r) => setTimeout(r, 1500));
    expect((await pooled(h)).map((c) => c.id).sort()).toEqual(ids);
  });

  it('serves runs at once from a full pool, several at a time', async () => {
    await untilFull(h);
    const runs = await Promise.all(
      [1, 2, 3].map(async (n) => (await (await h.createRun({ prompt: h.prompt([{ message: `run ${n}` }]), wait: true })).json()) as any),
    );
    expect(runs.map((r) => r.status)).toEqual(['succeeded', 'succeeded', 'succeeded']);
    // Two found a waiting sandbox; the third found the pool empty or refilled.
    const claimed = await Promise.all(runs.map(async (r) => (await phasesOf(h, r.id)).includes('claim')));
    expect(claimed.filter(Boolean).length).toBeGreaterThanOrEqual(2);
  });
});

describe('the warm pool at its edges', () => {
  it('holds nothing while the host has less memory available than min_available_mb, and runs still start', async () => {
    const h = await startHarness({ pool: { ...POOL, min_available_mb: 100_000_000 } });
    try {
      await new Promise((r) => setTimeout(r, 800));
      expect(await pooled(h)).toEqual([]);
      const res = await h.createRun({ prompt: h.prompt([{ message: 'cold start' }]), wait: true });
      const run = (await res.json()) as any;
      expect(run).toMatchObject({ status: 'succeeded', final_message: 'cold start' });
      expect(await phasesOf(h, run.id)).toContain('start');
    } finally {
      await h.close();
    }
  });

  it('removes its waiting sandboxes when the server shuts down', async () => {
    const h = await startHarness({ pool: POOL });
    const instance = h.instance;
    try {
      await untilFull(h);
    } finally {
      await h.close();
    }
    const left = await docker.listContainers({ all: true, filters: { label: [`${INSTANCE_LABEL}=${instance}`] } });
    const volumes = (await docker.listVolumes({ filters: { label: [`${INSTANCE_LABEL}=${instance}`] } })).Volumes ?? [];
    expect({ containers: left.length, volumes: volumes.length }).toEqual({ containers: 0, volumes: 0 });
  });
});
