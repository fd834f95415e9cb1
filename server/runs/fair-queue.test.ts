import { describe, expect, it } from 'vitest';
import { AdmissionFullError } from './admission.js';
import { FairQueue } from './fair-queue.js';
import type { TenantQuota } from './tenant-quota.js';

function gate() {
  let open!: () => void;
  const promise = new Promise<void>((r) => (open = r));
  return { promise, open };
}

const settle = () => new Promise((r) => setTimeout(r, 0));

/** A queue whose jobs each wait for their own gate, recording the order they start in. */
function queue(limits = { maxConcurrentRuns: 1, maxQueuedRuns: 10 }, quotas: Record<string, Partial<TenantQuota>> = {}, now = () => 0) {
  const q = new FairQueue(limits, (t) => ({ maxConcurrentRuns: limits.maxConcurrentRuns, maxQueuedRuns: limits.maxQueuedRuns, weight: 1, ...quotas[t] }), now);
  const started: string[] = [];
  const gates = new Map<string, ReturnType<typeof gate>>();
  const submit = (tenant: string, id: string) => {
    const g = gate();
    gates.set(id, g);
    q.submit(tenant, id, async () => {
      started.push(id);
      await g.promise;
    });
  };
  const end = async (id: string) => {
    gates.get(id)!.open();
    await settle();
  };
  return { q, started, submit, end };
}

describe('FairQueue', () => {
  it('starts a job at once when a slot is free, the others as slots free, fairly across tenants', async () => {
    const { q, started, submit, end } = queue();
    submit('a', 'a1');
    expect(started).toEqual(['a1']);
    submit('a', 'a2');
    submit('a', 'a3');
    submit('b', 'b1');
    expect(q.stats()).toEqual({ running: 1, queued: 3 });
    expect([q.position('b1'), q.position('a2'), q.position('a3')]).toEqual([1, 2, 3]);
    await end('a1');
    expect(started).toEqual(['a1', 'b1']);
    await end('b1');
    await end('a2');
    expect(started).toEqual(['a1', 'b1', 'a2', 'a3']);
  });

  it('frees the slot of a job that throws or rejects', async () => {
    const q = new FairQueue({ maxConcurrentRuns: 1, maxQueuedRuns: 5 }, () => ({ maxConcurrentRuns: 1, maxQueuedRuns: 5, weight: 1 }));
    const rejections: unknown[] = [];
    const onRejection = (err: unknown) => rejections.push(err);
    process.on('unhandledRejection', onRejection);
    try {
      q.submit('t', 'x', () => {
        throw new Error('sync');
      });
      let ran = false;
      q.submit('t', 'y', async () => {
        ran = true;
      });
      await settle();
      await settle();
      expect(ran).toBe(true);
      expect(q.stats()).toEqual({ running: 0, queued: 0 });
    } finally {
      process.off('unhandledRejection', onRejection);
    }
    expect(rejections).toHaveLength(1);
  });

  it('refuses with the reason and a Retry-After from how long runs have lasted, per slot that serves the line', async () => {
    let t = 0;
    const { q, submit, end } = queue({ maxConcurrentRuns: 2, maxQueuedRuns: 2 }, { a: { maxConcurrentRuns: 1, maxQueuedRuns: 1 } }, () => t);
    submit('a', 'a1');
    submit('a', 'a2');
    // Before any run has ended, a run is taken to last a minute: a's one slot turns over in 60 s.
    expect(q.refusal('a')).toEqual({ message: expect.stringMatching(/max_queued_runs is 1/), retryAfterS: 60 });
    try {
      submit('a', 'a3');
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(AdmissionFullError);
      expect(err).toMatchObject({ retryAfterS: 60 });
    }
    submit('b', 'b1');
    submit('b', 'b2');
    expect(q.refusal('c')).toEqual({ message: expect.stringMatching(/too many runs are waiting/), retryAfterS: 30 });
    t = 10_000;
    await end('b1'); // lasted 10 s: the mean moves a fifth of the way there
    expect(q.refusal('a')).toMatchObject({ retryAfterS: 50 });
    expect(q.position('a3')).toBeNull();
  });

  it('withdraws a waiting job so it never starts', async () => {
    const { q, started, submit, end } = queue();
    submit('t', 'a');
    submit('t', 'b');
    expect(q.withdraw('b')).toBe(true);
    expect(q.withdraw('a')).toBe(false);
    await end('a');
    expect(started).toEqual(['a']);
    expect(q.stats()).toEqual({ running: 0, queued: 0 });
  });

  it('counts each tenant apart', () => {
    const { q, submit } = queue({ maxConcurrentRuns: 1, maxQueuedRuns: 1 });
    submit('ci', 'a');
    submit('app', 'b');
    expect(q.statsFor('ci')).toEqual({ running: 1, queued: 0 });
    expect(q.statsFor('app')).toEqual({ running: 0, queued: 1 });
    expect(q.statsFor('other')).toEqual({ running: 0, queued: 0 });
  });
});
