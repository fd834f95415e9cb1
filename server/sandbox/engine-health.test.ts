import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { EngineHealth } from './engine-health.js';

const quiet = pino({ level: 'silent' });

describe('EngineHealth', () => {
  it('reports the engine unreachable while pings fail, and clears once one answers', async () => {
    let up = false;
    const driver = { ping: async () => { if (!up) throw new Error('connect ENOENT /var/run/docker.sock'); } };
    const watched = new EngineHealth(driver, 60_000, quiet);
    await watched.start();
    expect(watched.problem).toBe('the Docker engine is unreachable: connect ENOENT /var/run/docker.sock');
    up = true;
    await watched.check();
    expect(watched.problem).toBeNull();
    await watched.stop();
  });

  it('runs one ping at a time', async () => {
    let calls = 0;
    const health = new EngineHealth({ ping: async () => void calls++ }, 60_000, quiet);
    await Promise.all([health.check(), health.check(), health.check()]);
    expect(calls).toBe(1);
  });
});
