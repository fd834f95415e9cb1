import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { OrphanSweeper } from './orphan-sweeper.js';

function recordingDriver() {
  const calls: string[] = [];
  const kept: string[] = [];
  return {
    calls,
    kept,
    driver: {
      sweep: async (keep?: (runId: string) => boolean) => {
        calls.push('sweep');
        for (const id of ['run_live', 'run_gone']) if (keep?.(id)) kept.push(id);
        return { containers: 1, volumes: 2 };
      },
      sweepExpired: async (now: Date) => {
        calls.push(`expired<${now.getTime() <= Date.now() ? 'now' : 'future'}>`);
        return { containers: 1, volumes: 0 };
      },
    },
  };
}

let sweeper: OrphanSweeper | undefined;
afterEach(async () => {
  await sweeper?.stop();
});

describe('OrphanSweeper', () => {
  it("on its timer, removes this instance's sandboxes no live run owns, then any instance's expired ones", async () => {
    const { driver, calls, kept } = recordingDriver();
    sweeper = new OrphanSweeper({ driver, liveRunIds: () => new Set(['run_live']), engineProblem: () => null, intervalMs: 20, log: pino({ level: 'silent' }) });
    sweeper.start();
    await expect.poll(() => calls.length).toBeGreaterThanOrEqual(4);
    expect(calls.slice(0, 4)).toEqual(['sweep', 'expired<now>', 'sweep', 'expired<now>']);
    expect(kept[0]).toBe('run_live');
    expect(kept).not.toContain('run_gone');
  });

  it('leaves the engine alone while it is away', async () => {
    const { driver, calls } = recordingDriver();
    sweeper = new OrphanSweeper({ driver, liveRunIds: () => new Set(), engineProblem: () => 'docker is not answering', intervalMs: 20, log: pino({ level: 'silent' }) });
    await sweeper.sweep();
    sweeper.start();
    await new Promise((r) => setTimeout(r, 80));
    expect(calls).toEqual([]);
  });
});
