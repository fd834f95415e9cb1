// What a run says when its sandbox fails under it: out of memory, its relay killed, files it never
// serves. Real Docker, real Codex; the stand-in scripts the failure from inside the sandbox.
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Dockerode from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../server/config/config.js';
import { createLogger } from '../server/logger.js';
import { INSTANCE_LABEL, RUN_ID_LABEL } from '../server/sandbox/container-spec.js';
import { startServer } from '../server/server.js';
import { docker, leftovers } from './fixtures/docker.js';
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
  expect(await leftovers(`codex-runner.run-id=${run.id}`)).toEqual({ containers: 0, volumes: 0 });
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
    expect(run.error.message).toMatch(/^the sandbox stopped: its main process \(the gateway relay\) exited with code \d+$/);
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
      await expect.poll(() => leftovers(`codex-runner.run-id=run_orphan`), { timeout: 10_000 }).toEqual({ containers: 0, volumes: 0 });
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
      docker: new Dockerode({ socketPath: path.join(dir, 'no-engine.sock') }),
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
