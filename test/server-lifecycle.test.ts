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

  it("removes on its timer another instance's sandboxes past their expiry, and none that has not expired", async () => {
    const gone = `gone-${randomBytes(4).toString('hex')}`;
    const labels = (runId: string, expiresAt: Date) => ({ 'codex-runner.run-id': runId, 'codex-runner.instance': gone, 'codex-runner.expires-at': expiresAt.toISOString() });
    const past = labels('run_expired', new Date(Date.now() - 60_000));
    const future = labels('run_current', new Date(Date.now() + 3_600_000));
    const expired = await docker.createContainer({ Image: 'codex-runner-sandbox:latest', Cmd: ['sleep', 'infinity'], Labels: past });
    await expired.start();
    await docker.createVolume({ Name: `codex-runner-ws-expired-${gone}`, Labels: past });
    const current = await docker.createContainer({ Image: 'codex-runner-sandbox:latest', Cmd: ['sleep', 'infinity'], Labels: future });
    await current.start();
    try {
      const h = await startHarness({ server: { sweep_interval_s: 1 } });
      try {
        await expect.poll(() => leftovers(`codex-runner.run-id=run_expired`), { timeout: 15_000 }).toEqual({ containers: 0, volumes: 0 });
        // Not asserted from this server's log: the server of a test file running beside this one
        // removes any instance's expired sandboxes too, and may be first (orphan-sweeper.test.ts has the timer's).
        expect(await leftovers(`codex-runner.run-id=run_current`)).toEqual({ containers: 1, volumes: 0 });
      } finally {
        await h.close();
      }
      expect((await current.inspect()).State.Running).toBe(true);
    } finally {
      await current.remove({ force: true });
      await expired.remove({ force: true }).catch(() => {});
      await docker.getVolume(`codex-runner-ws-expired-${gone}`).remove().catch(() => {});
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
