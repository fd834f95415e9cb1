import { describe, expect, it } from 'vitest';
import { AdmissionFullError } from './admission.js';
import { RunQueue } from './run-queue.js';

function gate() {
  let open!: () => void;
  const promise = new Promise<void>((r) => (open = r));
  return { promise, open };
}

describe('RunQueue', () => {
  it('runs at most maxConcurrent jobs and starts waiting ones in order', async () => {
    const q = new RunQueue(1, 5);
    const order: string[] = [];
    const a = gate();
    q.submit('t', 'a', async () => {
      order.push('a');
      await a.promise;
    });
    const bDone = gate();
    q.submit('t', 'b', async () => {
      order.push('b');
      bDone.open();
    });
    expect(order).toEqual(['a']);
    expect(q.stats()).toEqual({ running: 1, queued: 1 });
    a.open();
    await bDone.promise;
    expect(order).toEqual(['a', 'b']);
  });

  it('refuses a job when the waiting line is full', () => {
    const q = new RunQueue(1, 1);
    const never = () => new Promise<void>(() => {});
    q.submit('t', 'a', never);
    q.submit('t', 'b', never);
    expect(() => q.submit('t', 'c', never)).toThrow(AdmissionFullError);
  });

  it('withdraws a waiting job so it never starts', async () => {
    const q = new RunQueue(1, 5);
    const a = gate();
    let bStarted = false;
    q.submit('t', 'a', () => a.promise);
    q.submit('t', 'b', async () => {
      bStarted = true;
    });
    expect(q.withdraw('b')).toBe(true);
    a.open();
    await new Promise((r) => setTimeout(r, 5));
    expect(bStarted).toBe(false);
    expect(q.withdraw('a')).toBe(false);
  });

  it('says when it would refuse, before anything is submitted, and counts each tenant apart', () => {
    const q = new RunQueue(1, 1);
    const never = () => new Promise<void>(() => {});
    expect(q.refusal()).toBeNull();
    q.submit('ci', 'a', never);
    q.submit('app', 'b', never);
    expect(q.refusal()).toMatch(/too many runs are waiting/);
    expect(q.statsFor('ci')).toEqual({ running: 1, queued: 0 });
    expect(q.statsFor('app')).toEqual({ running: 0, queued: 1 });
    expect(q.statsFor('other')).toEqual({ running: 0, queued: 0 });
  });

  it('gives a waiting run its place in line, and none once it has started or left', () => {
    const q = new RunQueue(1, 5);
    const never = () => new Promise<void>(() => {});
    q.submit('t', 'a', never);
    q.submit('t', 'b', never);
    q.submit('t', 'c', never);
    expect([q.position('a'), q.position('b'), q.position('c')]).toEqual([null, 1, 2]);
    q.withdraw('b');
    expect(q.position('c')).toBe(1);
  });
});
