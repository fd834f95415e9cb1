import { describe, expect, it } from 'vitest';
import type { ClaimedSandbox, SandboxShape, WarmPool } from './warm-pool.js';
import { WarmPools } from './warm-pools.js';

const shape = (image: string, egressProxy = false): SandboxShape => ({
  image,
  egressProxy,
  runtime: '',
  network: 'none',
  ids: { uid: 70000, gid: 70000 },
  limits: { memoryMb: 1024, cpus: 1, pidsLimit: 256, workspaceMb: 64, tmpMb: 64, homeMb: 64 },
});

/** A pool of one shape holding `held` sandboxes, as WarmPool answers: null for another shape. */
function poolOf(own: SandboxShape, held: string[], log: string[]): WarmPool {
  const key = JSON.stringify(own);
  return {
    start: () => void log.push(`start ${own.image}`),
    claim: async (asked: SandboxShape) => (JSON.stringify(asked) === key && held.length ? ({ sandbox: { id: held.shift()! } } as unknown as ClaimedSandbox) : null),
    owns: (id: string) => id.startsWith(own.image),
    close: async () => void log.push(`close ${own.image}`),
  } as unknown as WarmPool;
}

describe('WarmPools', () => {
  it('gives a claim to the pool of its shape, null when that pool is empty, and starts, owns and closes them all', async () => {
    const log: string[] = [];
    const pools = new WarmPools([poolOf(shape('base'), ['base-1'], log), poolOf(shape('node', true), ['node-1'], log)]);
    pools.start();
    expect((await pools.claim(shape('node', true)))?.sandbox.id).toBe('node-1');
    expect(await pools.claim(shape('node', true))).toBeNull();
    expect(await pools.claim(shape('node'))).toBeNull();
    expect((await pools.claim(shape('base')))?.sandbox.id).toBe('base-1');
    expect([pools.owns('node-9'), pools.owns('base-2'), pools.owns('python-1')]).toEqual([true, true, false]);
    await pools.close();
    expect(log).toEqual(['start base', 'start node', 'close base', 'close node']);
  });
});
