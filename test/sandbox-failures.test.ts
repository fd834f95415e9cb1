// What a run says when its sandbox fails under it: out of memory, its relay killed, files it never
// serves. Real Docker, real Codex; the stand-in scripts the failure from inside the sandbox.
import { expectRunReleased } from './fixtures/released.js';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../server/config/config.js';
import { createLogger } from '../server/logger.js';
import { INSTANCE_LABEL, RUN_ID_LABEL } from '../server/sandbox/container-spec.js';
import { startServer } from '../server/server.js';
import { docker, leftovers } from './fixtures/docker.js';
import { startDockerProxy } from './fixtures/docker-proxy.js';
import { scriptMarker, startResponsesStandIn, STAND_IN_MODEL } from './fixtures/responses-stand-in.js';
import { startHarness, type Harness } from './fixtures/harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness({
    providers: { standin: { request_max_retries: 0, stream_max_retries: 0 } },
    sandbox: { memory_mb: 256 },
  });
});
afterAll(async () => {
  await h?.close();
});

async function runToEnd(steps: Parameters<Harness['prompt']>[0]) {
  const res = await h.createRun({ prompt: h.prompt(steps), wait: true });
  expect(res.status).toBe(200);
  const run: any = await res.json();
  await expectRunReleased(run.id);
  return run;
}

/** A shell loop over /proc: the image has no pgrep. */
const eachProcess = (comm: string, action: string) =>
  `for p in /proc/[0-9]*; do [ "$(cat $p/comm 2>/dev/null)" = ${comm} ] && ${action}; done`;

describe('a sandbox that fails under its run', () => {
  it('names running out of memory when the kernel killed Codex', async () => {
    // Codex is made the OOM killer's first choice (raising a score needs no privilege), then memory runs out.
    const hog = `${eachProcess('codex', 'echo 1000 > $p/oom_score_adj')}; head -c 2000M /dev/zero | tail > /dev/null`;
    const run = await runToEnd([{ exec: hog }, { message: 'unreachable' }]);
    expect(run.status).toBe('failed');
    expect(run.error).toEqual({ code: 'out_of_memory', message: `the sandbox ran out of memory (256 MB): codex exited with code ${run.exit_code}` });
  });

  it('names the stopped sandbox when its gateway relay is killed', async () => {
    const run = await runToEnd([{ exec: eachProcess('socat', 'kill -9 ${p#/proc/}') }, { message: 'unreachable' }]);
    expect(run.status).toBe('failed');
    expect(run.error.code, JSON.stringify(run.error)).toBe('sandbox_stopped');
    expect(run.error.message).toBe('the sandbox stopped: its relay to the gateway ended');
  });

  it('keeps no diff or workspace file for a run that has neither', async () => {
    const run = await runToEnd([{ exec: eachProcess('socat', 'kill -9 ${p#/proc/}') }]);
    expect(run.status).toBe('failed');
    expect((await readdir(path.join(h.dataDir, 'runs', run.id))).sort()).toEqual(['events.jsonl']);
  });
});

describe('the engine and what a failed removal leaves', () => {
  it('removes, on its timer, sandboxes no live run owns, and leaves a live run\'s alone', async () => {
    const swept = await startHarness({ server: { sweep_interval_s: 0.3 } });
    try {
      await docker.createVolume({ Name: `codex-runner-ws-orphan-${swept.instance}`, Labels: { [INSTANCE_LABEL]: swept.instance, [RUN_ID_LABEL]: 'run_orphan' } });
      const res = await swept.createRun({ prompt: swept.prompt([{ exec: 'sleep 2' }, { message: 'survived the sweeps' }]) });
      const { id } = (await res.json()) as any;
      await expect.poll(() => leftovers([`${RUN_ID_LABEL}=run_orphan`, `${INSTANCE_LABEL}=${swept.instance}`]), { timeout: 10_000 }).toEqual({ containers: 0, volumes: 0 });
      const run = await swept.waitForEnd(id);
      expect(run).toMatchObject({ status: 'succeeded', final_message: 'survived the sweeps' });
    } finally {
      await swept.close();
    }
  });

  it('refuses new runs with 503 while the engine is unreachable', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'codex-runner-noengine-'));
    const server = await startServer({
      config: parseConfig({ server: { listen: '127.0.0.1:0', data_dir: dir, engine_check_interval_s: 0.2 }, providers: { local: { base_url: 'http://127.0.0.1:9/v1' } }, defaults: { provider: 'local' } }),
      env: { CODEX_RUNNER_TOKEN: 'tok' },
      log: createLogger('silent'),
      dockerSocketPath: path.join(dir, 'no-engine.sock'),
    });
    try {
      const res = await fetch(`${server.url}/v1/runs`, {
        method: 'POST',
        headers: { authorization: 'Bearer tok', 'content-type': 'application/json' },
        body: JSON.stringify({ prompt: 'x' }),
      });
      expect(res.status).toBe(503);
      const body: any = await res.json();
      expect(body.error.code).toBe('not_ready');
      expect(body.error.message).toMatch(/^the Docker engine is unreachable: .*; retry later$/);
    } finally {
      await server.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('the engine going away mid-run and coming back', () => {
  it('fails the run as docker_unreachable, refuses new runs with 503, and sweeps what was left once it is back', async () => {
    await using proxy = await startDockerProxy();
    await using standIn = await startResponsesStandIn();
    const dir = await mkdtemp(path.join(tmpdir(), 'codex-runner-engine-away-'));
    const instance = `away-${Date.now().toString(36)}`;
    const server = await startServer({
      config: parseConfig({
        server: { listen: '127.0.0.1:0', data_dir: dir, instance, engine_check_interval_s: 0.2, sweep_interval_s: 0.5, shutdown_grace_s: 0 },
        providers: { standin: { base_url: standIn.url, key_env: 'STANDIN_KEY', request_max_retries: 0, stream_max_retries: 0 } },
        defaults: { provider: 'standin', model: STAND_IN_MODEL },
        sandbox: { memory_mb: 512, cpus: 1, workspace_mb: 16 },
      }),
      env: { CODEX_RUNNER_TOKEN: 'tok', STANDIN_KEY: 'sk-x' },
      log: createLogger('silent'),
      dockerSocketPath: proxy.socketPath,
    });
    const api = (p: string, init: RequestInit = {}) => fetch(`${server.url}${p}`, { ...init, headers: { authorization: 'Bearer tok', 'content-type': 'application/json', ...init.headers } });
    try {
      standIn.script('away', [{ exec: 'sleep 30' }, { message: 'never' }]);
      const { id } = (await (await api('/v1/runs', { method: 'POST', body: JSON.stringify({ prompt: `${scriptMarker('away')} go` }) })).json()) as any;
      await expect.poll(() => leftovers(`codex-runner.run-id=${id}`), { timeout: 30_000 }).toMatchObject({ containers: 1 });
      // Codex is running its command once the stand-in has answered with it.
      await expect.poll(() => standIn.requests.some((r) => r.script === 'away'), { timeout: 30_000 }).toBe(true);
      await new Promise((r) => setTimeout(r, 300));

      await proxy.cut();
      await expect.poll(async () => ((await (await api(`/v1/runs/${id}`)).json()) as any).status, { timeout: 20_000 }).toBe('failed');
      const run: any = await (await api(`/v1/runs/${id}`)).json();
      expect(run.error.code, run.error.message).toBe('docker_unreachable');
      expect(run.error.message).toMatch(/^the Docker engine is unreachable: /);

      await expect.poll(async () => (await api('/v1/runs', { method: 'POST', body: JSON.stringify({ prompt: 'x' }) })).status, { timeout: 10_000 }).toBe(503);
      // Its removal failed while the engine was away: the container is still there.
      expect((await leftovers(`codex-runner.run-id=${id}`)).containers).toBe(1);

      await proxy.restore();
      await expect.poll(() => leftovers(`codex-runner.run-id=${id}`), { timeout: 20_000 }).toEqual({ containers: 0, volumes: 0 });
      const next = await api('/v1/runs?wait=1', { method: 'POST', body: JSON.stringify({ prompt: `${scriptMarker('back')} go` }) });
      expect(next.status).toBe(200);
    } finally {
      await server.close();
      await rm(dir, { recursive: true, force: true });
    }
    expect(await leftovers(`codex-runner.instance=${instance}`)).toEqual({ containers: 0, volumes: 0 });
  });
});
