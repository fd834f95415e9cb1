import { describe, expect, it } from 'vitest';
import { canTransition, isTerminal, runStatuses } from './run.js';

describe('run state machine', () => {
  it('moves a queued run to running, and a running run to every end state', () => {
    expect(canTransition('queued', 'running')).toBe(true);
    for (const end of ['succeeded', 'failed', 'timed_out', 'cancelled'] as const) {
      expect(canTransition('running', end)).toBe(true);
    }
  });

  it('never leaves an end state', () => {
    for (const from of runStatuses.filter(isTerminal)) {
      for (const to of runStatuses) expect(canTransition(from, to)).toBe(false);
    }
  });

  it('does not let a queued run succeed without running', () => {
    expect(canTransition('queued', 'succeeded')).toBe(false);
    expect(canTransition('queued', 'timed_out')).toBe(false);
  });
});
