import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { FakeSandboxDriver } from '../runs/test-sandbox-driver.js';
import { SandboxError, type SandboxLimits } from './driver.js';
import { POOL_ID_PREFIX, WarmPool, type SandboxShape } from './warm-pool.js';

const limits: SandboxLimits = { memoryMb: 1024, cpus: 1, pidsLimit: 512, workspaceMb: 64, tmpMb: 64, homeMb: 64 };
const shape: SandboxShape = { image: 'img', runtime: '', network: 'none', ids: { uid: 1, gid: 1 }, limits };

function fakeSockets() {
  const released: string[] = [];
  let n = 0;
  return {
    released,
    reserve: async () => {
      const subdir = `runs/pool_${++n}`;
      return { dir: `/gw/${subdir}`, subdir, release: async () => void released.push(subdir) };
    },
  };
}

function makePool(options: Partial<ConstructorParameters<typeof WarmPool>[0]['options']> = {}, memoryMb = 8000) {
  const driver = new FakeSandboxDriver();
  const sockets = fakeSockets();
  const pool = new WarmPool({
    driver,
    sockets,
    shape,
    options: { size: 2, minAvailableMb: 1024, maxIdleS: 600, refillIntervalMs: 60_000, maxRunLifetimeS: 100, ...options },
    log: pino({ level: 'silent' }),
    availableMemoryMb: async () => memoryMb,
  });
  return { driver, sockets, pool };
}

const until = async (check: () => boolean) => {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 5));
  expect(check()).toBe(true);
};

describe('WarmPool', () => {
  it('starts its size of sandboxes of its shape, each mounting a reserved socket directory and owned by no tenant', async () => {
    const { driver, pool } = makePool();
    pool.start();
    await until(() => pool.ready === 2);
    expect(driver.requests).toHaveLength(2);
    for (const request of driver.requests) {
      expect(request).toMatchObject({ ...shape, tenant: '' });
      expect(request.runId.startsWith(POOL_ID_PREFIX)).toBe(true);
      expect(request.gateway?.socketDir).toMatch(/^\/gw\/runs\/pool_\d$/);
      expect(pool.owns(request.runId)).toBe(true);
    }
    await pool.close();
  });

  it('hands out a sandbox once, refills, and forgets it only once the run removed it', async () => {
    const { driver, sockets, pool } = makePool();
    pool.start();
    await until(() => pool.ready === 2);
    const claimed = await pool.claim(shape);
    expect(claimed).not.toBeNull();
    const label = driver.requests.find((r) => r.gateway?.socketDir === claimed!.socketDir.dir)!.runId;
    await until(() => pool.ready === 2);
    expect(driver.requests).toHaveLength(3);
    expect(pool.owns(label)).toBe(true);
    await claimed!.sandbox.remove();
    expect(driver.sandboxes.find((s) => s.id === `fake-${label}`)!.removed).toBe(true);
    expect(sockets.released).toContain(claimed!.socketDir.subdir);
    expect(pool.owns(label)).toBe(false);
    await pool.close();
  });

  it('has nothing for another shape', async () => {
    const { pool } = makePool();
    pool.start();
    await until(() => pool.ready === 2);
    expect(await pool.claim({ ...shape, limits: { ...limits, memoryMb: 512 } })).toBeNull();
    expect(pool.ready).toBe(2);
    await pool.close();
  });

  it('passes over a sandbox that stopped while it waited', async () => {
    const { driver, pool } = makePool();
    pool.start();
    await until(() => pool.ready === 2);
    const dead = driver.sandboxes[0]!;
    dead.stopReason = async () => new SandboxError('the sandbox stopped: its main process exited with code 137', { code: 'sandbox_stopped' });
    const claimed = await pool.claim(shape);
    expect(claimed!.sandbox.id).toBe(driver.sandboxes[1]!.id);
    await until(() => dead.removed);
    await pool.close();
  });

  it('starts nothing while the host is short of memory', async () => {
    const { driver, pool } = makePool({}, 100);
    pool.start();
    await new Promise((r) => setTimeout(r, 50));
    expect(driver.requests).toHaveLength(0);
    expect(await pool.claim(shape)).toBeNull();
    await pool.close();
  });

  it('does nothing at size 0', async () => {
    const { driver, pool } = makePool({ size: 0 });
    pool.start();
    await new Promise((r) => setTimeout(r, 50));
    expect(driver.requests).toHaveLength(0);
    await pool.close();
  });

  it('removes what waits when it closes, and hands out nothing after', async () => {
    const { driver, pool } = makePool();
    pool.start();
    await until(() => pool.ready === 2);
    await pool.close();
    expect(driver.live()).toEqual([]);
    expect(await pool.claim(shape)).toBeNull();
  });
});
