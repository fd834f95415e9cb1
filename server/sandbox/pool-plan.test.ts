import { describe, expect, it } from 'vitest';
import { planPool, type PoolState } from './pool-plan.js';

const base: PoolState = { idle: [], starting: 0, size: 2, availableMb: 8000, minAvailableMb: 1024, maxIdleMs: 600_000, maxStarting: 2 };
const idle = (...ages: number[]) => ages.map((idleMs, i) => ({ id: `p${i}`, idleMs }));

describe('planPool', () => {
  it('fills an empty pool to its size', () => {
    expect(planPool(base)).toEqual({ start: 2, retire: [] });
  });

  it('counts sandboxes already starting', () => {
    expect(planPool({ ...base, idle: idle(10), starting: 1 })).toEqual({ start: 0, retire: [] });
  });

  it('starts no more at once than maxStarting', () => {
    expect(planPool({ ...base, size: 8, starting: 1 })).toEqual({ start: 1, retire: [] });
  });

  it('replaces a sandbox that idled past maxIdleMs', () => {
    expect(planPool({ ...base, idle: idle(600_000, 5) })).toEqual({ start: 1, retire: ['p0'] });
  });

  it('gives every idle sandbox back and starts none while memory is short', () => {
    expect(planPool({ ...base, idle: idle(1, 2), availableMb: 1000 })).toEqual({ start: 0, retire: ['p0', 'p1'] });
  });

  it('removes the oldest past its size', () => {
    expect(planPool({ ...base, size: 1, idle: idle(30, 10, 20) })).toEqual({ start: 0, retire: ['p0', 'p2'] });
  });

  it('does nothing for a pool of size 0 with nothing idle', () => {
    expect(planPool({ ...base, size: 0 })).toEqual({ start: 0, retire: [] });
  });
});
