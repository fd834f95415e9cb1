// Faults of what the server stands on: its Docker engine stopped and started again, its data_dir
// full, a run's gateway socket removed under it. Real server, real Docker, real Codex; the
// stand-in provider scripts what the model does.
import { execFile } from 'node:child_process';
import { lstat, mkdtemp, open, rm } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { makeTar } from '../server/archive/test-tarballs.js';
import { leftovers } from './fixtures/docker.js';
import { readSse, startHarness } from './fixtures/harness.js';
import { expectRunReleased } from './fixtures/released.js';
import { hostBridgeExists, linkExists, startSecondEngine } from './fixtures/second-engine.js';

const IMAGE = 'codex-runner-sandbox:latest';
const run = promisify(execFile);

describe('the Docker engine stopped mid-run and started again', () => {
  it('ends the running run docker_unreachable, not blaming its relay, answers /healthz, is not ready while the engine is away, and runs and sweeps again once it is back', async () => {
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
      // Not the relay's fault: the engine stopped the sandbox with itself. Which call meets the
      // stopped engine first (the sandbox's state on a kept-alive connection, or a new one) decides
      // which of the two messages it is.
      expect(run.error.code, run.error.message).toBe('docker_unreachable');
      expect(run.error.message).toMatch(/^(the Docker engine (stopped while the run ran, and stopped its sandbox \(the engine is unreachable now: .+\)|is unreachable: .+)|lost the connection to the Docker engine while \S+ ran)$/);

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
    await expectRunReleased(created.id);
    expect(h.logText()).toContain('was removed while the run ran');

    const next = await h.createRun({ prompt: h.prompt([{ exec: 'echo ok > ok.txt' }, { message: 'fine' }]), wait: true });
    expect(((await next.json()) as any)).toMatchObject({ status: 'succeeded', final_message: 'fine' });
  });
});

/** Writes zeros into `file` until the filesystem has no byte left. */
async function fillUp(file: string): Promise<void> {
  const handle = await open(file, 'w');
  try {
    for (const size of [1024 * 1024, 4096, 1]) {
      const chunk = Buffer.alloc(size);
      for (;;) {
        const written = await handle.write(chunk).then(
          ({ bytesWritten }) => bytesWritten,
          (err: NodeJS.ErrnoException) => {
            if (err.code === 'ENOSPC') return 0;
            throw err;
          },
        );
        if (written < size) break;
      }
    }
  } finally {
    await handle.close();
  }
}

/** The run's status as the store's file holds it, read by a connection of the test's own. */
function storedStatus(dbFile: string, id: string): string | undefined {
  const db = new Database(dbFile, { readonly: true, fileMustExist: true });
  try {
    return (db.prepare('SELECT status FROM runs WHERE id = ?').get(id) as { status: string } | undefined)?.status;
  } finally {
    db.close();
  }
}

describe('the data_dir full', () => {
  it('refuses new runs with 503 storage_full, serves finished runs, and holds a run\'s end in memory until space returns', async () => {
    const dir = await mkdtemp('/tmp/cf-');
    await run('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', dir]);
    try {
      await using h = await startHarness({ providers: { standin: { request_max_retries: 0, stream_max_retries: 0 } } }, {}, { dataDir: dir });
      const dbFile = path.join(dir, 'runs.db');
      const finished: any = await (await h.createRun({ prompt: h.prompt([{ exec: 'echo kept > kept.txt' }, { message: 'done before' }]), wait: true })).json();
      expect(finished.status).toBe('succeeded');

      const prompt = h.prompt([{ exec: 'echo late > late.txt && sleep 4' }, { message: 'ended while full' }]);
      const created: any = await (await h.createRun({ prompt })).json();
      // Codex runs its command (and sleeps) once the stand-in has answered with it.
      const script = /\[stand-in:([\w.-]+)\]/.exec(prompt)![1];
      await expect.poll(() => h.standIn.requests.some((r) => r.script === script), { timeout: 60_000 }).toBe(true);
      const filler = path.join(dir, 'filler');
      await fillUp(filler);

      // New runs: refused before anything is stored, with or without an upload.
      await expect.poll(async () => (await h.createRun({ prompt: 'x' })).status, { timeout: 10_000 }).toBe(503);
      const refused: any = await (await h.createRun({ prompt: 'x' })).json();
      expect(refused.error).toMatchObject({ code: 'storage_full', message: "the server's storage is full; retry later" });
      const upload = await h.createRun({ prompt: 'x', workspace: await makeTar([{ name: 'a.txt', content: 'a' }]) });
      expect(upload.status).toBe(503);
      expect(((await upload.json()) as any).error.code).toBe('storage_full');
      const ready = await h.api('/readyz', { token: null });
      expect(ready.status).toBe(503);
      expect(((await ready.json()) as any).problems).toContain("the server's storage is full");
      expect((await h.api('/healthz', { token: null })).status).toBe(200);

      // What had ended is served as before.
      expect(((await (await h.api(`/v1/runs/${finished.id}`)).json()) as any).status).toBe('succeeded');
      expect(await (await h.api(`/v1/runs/${finished.id}/diff`)).text()).toContain('+kept');
      expect((await h.api(`/v1/runs/${finished.id}/workspace`)).status).toBe(200);
      expect((await readSse(await h.api(`/v1/runs/${finished.id}/events`))).at(-1)!.data.type).toBe('run.succeeded');

      // The run that ends now cannot write its end: it is served from memory, as it ended.
      const ended = await h.waitForEnd(created.id, 90_000);
      expect(ended.status).toBe('failed');
      expect(ended.error.code, ended.error.message).toBe('storage_full');
      expect(ended.error.message).toMatch(/^the server's storage is full: /);
      expect(storedStatus(dbFile, created.id)).toBe('running');
      expect(((await (await h.api(`/v1/runs?limit=5`)).json()) as any).runs.find((r: any) => r.id === created.id).status).toBe('failed');

      // Space returns: the end is written, the events get their end, and runs are taken again.
      await rm(filler);
      await expect.poll(() => storedStatus(dbFile, created.id), { timeout: 15_000 }).toBe('failed');
      expect((await readSse(await h.api(`/v1/runs/${created.id}/events`))).at(-1)!.data).toMatchObject({ type: 'run.failed', run: { error: { code: 'storage_full' } } });
      await expect.poll(async () => (await h.api('/readyz', { token: null })).status, { timeout: 10_000 }).toBe(200);
      const next: any = await (await h.createRun({ prompt: h.prompt([{ message: 'room again' }]), wait: true })).json();
      expect(next).toMatchObject({ status: 'succeeded', final_message: 'room again' });
    } finally {
      await run('umount', [dir]);
      await rm(dir, { recursive: true, force: true });
    }
  });
});
