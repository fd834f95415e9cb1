import { expectRunReleased } from './fixtures/released.js';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { docker, leftovers } from './fixtures/docker.js';
import { startHarness } from './fixtures/harness.js';
import { SqliteRunStore } from '../server/runs/sqlite-run-store.js';

async function storedRun(dataDir: string, id: string) {
  using store = SqliteRunStore.open(path.join(dataDir, 'runs.db'));
  return store.get(id);
}

describe('server lifecycle', () => {
  it('removes the sandboxes a crashed server of the same instance left behind, and only those', async () => {
    const instance = `crashed-${randomBytes(4).toString('hex')}`;
    const labels = (runId: string, inst: string) => ({ 'codex-runner.run-id': runId, 'codex-runner.instance': inst });
    const orphan = await docker.createContainer({ Image: 'codex-runner-sandbox:latest', Labels: labels('run_orphan', instance) });
    await orphan.start();
    await docker.createVolume({ Name: `codex-runner-ws-orphan-${instance}`, Labels: labels('run_orphan', instance) });
    const other = await docker.createContainer({ Image: 'codex-runner-sandbox:latest', Labels: labels('run_other', `${instance}-other`) });
    try {
      const h = await startHarness({ server: { instance } });
      await h.close();
      expect(await leftovers(`codex-runner.instance=${instance}`)).toEqual({ containers: 0, volumes: 0 });
      expect(await leftovers(`codex-runner.instance=${instance}-other`)).toEqual({ containers: 1, volumes: 0 });
    } finally {
      await other.remove({ force: true });
      await orphan.remove({ force: true }).catch(() => {});
    }
  });

  it('cancels running runs on shutdown and removes their containers', async () => {
    const h = await startHarness({ server: { shutdown_grace_s: 1 } });
    const created: any = await (await h.createRun({ prompt: h.prompt([{ exec: 'sleep 60' }]) })).json();
    for (let i = 0; i < 100 && (await leftovers(`codex-runner.run-id=${created.id}`)).containers === 0; i++) {
      await new Promise((r) => setTimeout(r, 50));
    }
    const before = Date.now();
    await h.server.close();
    expect(Date.now() - before).toBeLessThan(15_000);
    // The server is closed: the record is read from the store file it left.
    const run = (await storedRun(h.dataDir, created.id))!;
    expect(run.status).toBe('cancelled');
    expect(run.error).toEqual({ code: 'shutdown', message: 'the server shut down before the run ended' });
    await expectRunReleased(created.id);
    await h.close();
  });

  it('refuses new runs while shutting down', async () => {
    const h = await startHarness({ server: { shutdown_grace_s: 20 } });
    try {
      const created: any = await (await h.createRun({ prompt: h.prompt([{ exec: 'sleep 0.5' }, { message: 'done' }]) })).json();
      const closing = h.server.close();
      await expect(h.server.service.create({ tenant: 'default', prompt: 'x', options: { provider: 'standin', model: 'm', timeoutS: 10 }, workspaceTar: null })).rejects.toThrow(/shutting down/);
      await closing;
      // A run that finishes within the grace period ends normally.
      expect((await storedRun(h.dataDir, created.id))!.status).toBe('succeeded');
    } finally {
      await h.close();
    }
  });
});
