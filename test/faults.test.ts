// Faults of what the server stands on: its Docker engine stopped and started again, its data_dir
// full, a run's gateway socket removed under it. Real server, real Docker, real Codex; the
// stand-in provider scripts what the model does.
import { lstat, rm } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { leftovers } from './fixtures/docker.js';
import { startHarness } from './fixtures/harness.js';
import { hostBridgeExists, linkExists, startSecondEngine } from './fixtures/second-engine.js';

const IMAGE = 'codex-runner-sandbox:latest';

describe('the Docker engine stopped mid-run and started again', () => {
  it('ends the running run saying the engine stopped, answers /healthz, is not ready while it is away, and runs and sweeps again once it is back', async () => {
    const engine = await startSecondEngine({ images: [IMAGE] });
    try {
      await using h = await startHarness(
        { server: { engine_check_interval_s: 0.2, sweep_interval_s: 0.5 }, providers: { standin: { request_max_retries: 0, stream_max_retries: 0 } } },
        {},
        { dockerSocketPath: engine.socketPath },
      );
      const prompt = h.prompt([{ exec: 'sleep 120' }, { message: 'never' }]);
      const created: any = await (await h.createRun({ prompt })).json();
      // Codex is running its command once the stand-in has answered with it.
      await expect.poll(() => h.standIn.requests.length, { timeout: 60_000 }).toBeGreaterThan(0);
      expect(await leftovers(`codex-runner.run-id=${created.id}`, engine.docker)).toMatchObject({ containers: 1 });
      // The main engine never sees this server's sandboxes.
      expect(await leftovers(`codex-runner.instance=${h.instance}`)).toEqual({ containers: 0, volumes: 0 });
      await new Promise((r) => setTimeout(r, 500));

      const stoppedAt = Date.now();
      await engine.stop();
      const run = await h.waitForEnd(created.id, 90_000);
      expect(Date.now() - stoppedAt).toBeLessThan(90_000);
      expect(run.status).toBe('failed');
      // Not the relay's fault: the engine stopped the sandbox with itself.
      expect(run.error.code, run.error.message).toBe('docker_unreachable');
      expect(run.error.message).toMatch(/^the Docker engine stopped while the run ran, and stopped its sandbox \(the engine is unreachable now: .+\)$/);

      const health = await h.api('/healthz', { token: null, signal: AbortSignal.timeout(5_000) });
      expect(health.status).toBe(200);
      const ready = await h.api('/readyz', { token: null });
      expect(ready.status).toBe(503);
      expect(((await ready.json()) as any).problems.join('\n')).toMatch(/docker is not reachable/);
      await expect.poll(async () => (await h.createRun({ prompt: 'x' })).status, { timeout: 10_000 }).toBe(503);
      const refused: any = await (await h.createRun({ prompt: 'x' })).json();
      expect(refused.error.code).toBe('not_ready');
      expect(refused.error.message).toMatch(/^the Docker engine is unreachable: .*; retry later$/);

      await engine.start();
      // Its removal failed while the engine was away; the sweep removes the stopped container and its volume.
      await expect.poll(() => leftovers(`codex-runner.run-id=${created.id}`, engine.docker), { timeout: 30_000 }).toEqual({ containers: 0, volumes: 0 });
      await expect.poll(async () => (await h.api('/readyz', { token: null })).status, { timeout: 10_000 }).toBe(200);
      const next = await h.createRun({ prompt: h.prompt([{ exec: 'echo back > back.txt' }, { message: 'back' }]), wait: true });
      expect(next.status).toBe(200);
      const nextRun: any = await next.json();
      expect(nextRun).toMatchObject({ status: 'succeeded', final_message: 'back', error: null });
      expect(nextRun.changes.files_changed).toBe(1);
      // The failed run is still served as it ended.
      expect(((await (await h.api(`/v1/runs/${created.id}`)).json()) as any).error.code).toBe('docker_unreachable');
    } finally {
      await engine.close();
    }
    // Its own bridge is gone; the host's is untouched.
    expect(await hostBridgeExists()).toBe(true);
    expect(await linkExists(engine.bridge)).toBe(false);
  }, 300_000);
});

describe('the gateway socket removed from under a running run', () => {
  it('ends the run failed with gateway_lost within seconds, not at its timeout, and the next run succeeds', async () => {
    await using h = await startHarness();
    const created: any = await (await h.createRun({ prompt: h.prompt([{ exec: 'sleep 5' }, { message: 'unreachable' }]), options: { timeout_s: 600 } })).json();
    await expect.poll(() => h.standIn.requests.length, { timeout: 60_000 }).toBeGreaterThan(0);
    const socketPath = path.join(h.dataDir, 'gateway', 'runs', created.id, 'gateway.sock');
    expect((await lstat(socketPath)).isSocket()).toBe(true);

    const removedAt = Date.now();
    await rm(socketPath);
    const run = await h.waitForEnd(created.id, 120_000);
    expect(Date.now() - removedAt).toBeLessThan(60_000);
    expect(run.status).toBe('failed');
    expect(run.error).toEqual({
      code: 'gateway_lost',
      message: `the run's gateway socket ${socketPath} was removed while the run ran: Codex could no longer reach its provider`,
    });
    // Stopped early, its sandbox was read as it was: a partial (here empty) diff, saying so.
    expect(run.artifact_problem).toMatch(/stopped before it ended/);
    expect(await leftovers(`codex-runner.run-id=${created.id}`)).toEqual({ containers: 0, volumes: 0 });
    expect(h.logText()).toContain('was removed while the run ran');

    const next = await h.createRun({ prompt: h.prompt([{ exec: 'echo ok > ok.txt' }, { message: 'fine' }]), wait: true });
    expect(((await next.json()) as any)).toMatchObject({ status: 'succeeded', final_message: 'fine' });
  });
});
