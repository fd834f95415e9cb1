import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FairOrder, type FairLimits } from './fair-order.js';
import type { TenantQuota } from './tenant-quota.js';

/** A FairOrder and the runs it started, in the order they started, as the caller would keep them. */
function driven(limits: FairLimits, quotas: Record<string, Partial<TenantQuota>> = {}) {
  const order = new FairOrder(limits, (tenant) => ({ maxConcurrentRuns: limits.maxConcurrentRuns, maxQueuedRuns: limits.maxQueuedRuns, weight: 1, ...quotas[tenant] }));
  const running: { tenant: string; runId: string }[] = [];
  const starts: { tenant: string; runId: string }[] = [];
  let n = 0;
  const take = () => {
    const taken = order.take();
    running.push(...taken);
    starts.push(...taken);
    return taken;
  };
  return {
    order,
    running,
    starts,
    add(tenant: string, runId = `${tenant}${++n}`) {
      const refused = order.add(tenant, runId);
      take();
      return refused ?? runId;
    },
    /** Ends the i-th running run (oldest first) and starts what may start. */
    finish(i = 0) {
      const [ended] = running.splice(i, 1);
      order.finish(ended!.runId);
      take();
      return ended!;
    },
    startsOf: (tenant: string) => starts.filter((s) => s.tenant === tenant).map((s) => s.runId),
  };
}

describe('FairOrder', () => {
  it('starts runs at once while slots are free, then lines them up', () => {
    const q = driven({ maxConcurrentRuns: 2, maxQueuedRuns: 10 });
    q.add('a', 'a1');
    q.add('a', 'a2');
    q.add('a', 'a3');
    expect(q.running.map((r) => r.runId)).toEqual(['a1', 'a2']);
    expect(q.order.stats()).toEqual({ running: 2, queued: 1 });
    expect(q.order.position('a3')).toBe(1);
    expect(q.order.position('a1')).toBeNull();
  });

  it("starts another tenant's first run at the next free slot, however long the first tenant's line", () => {
    const q = driven({ maxConcurrentRuns: 2, maxQueuedRuns: 100 });
    for (let i = 1; i <= 30; i++) q.add('a', `a${i}`);
    q.add('b', 'b1');
    expect(q.order.position('b1')).toBe(1);
    q.finish();
    expect(q.running.map((r) => r.runId)).toEqual(['a2', 'b1']);
  });

  it('takes waiting runs round-robin across tenants, in order within each', () => {
    const q = driven({ maxConcurrentRuns: 1, maxQueuedRuns: 100 });
    q.add('x', 'x0');
    for (const t of ['a', 'b', 'c']) for (let i = 1; i <= 3; i++) q.add(t, `${t}${i}`);
    expect(q.order.order()).toEqual(['a1', 'b1', 'c1', 'a2', 'b2', 'c2', 'a3', 'b3', 'c3']);
    while (q.running.length) q.finish();
    expect(q.starts.map((s) => s.runId)).toEqual(['x0', 'a1', 'b1', 'c1', 'a2', 'b2', 'c2', 'a3', 'b3', 'c3']);
  });

  it('gives a weight-2 tenant two runs for each of a weight-1 tenant', () => {
    const q = driven({ maxConcurrentRuns: 1, maxQueuedRuns: 100 }, { heavy: { weight: 2 } });
    q.add('x', 'x0');
    for (let i = 1; i <= 6; i++) q.add('heavy', `h${i}`);
    for (let i = 1; i <= 3; i++) q.add('light', `l${i}`);
    expect(q.order.order()).toEqual(['h1', 'l1', 'h2', 'h3', 'l2', 'h4', 'h5', 'l3', 'h6']);
  });

  it('holds a tenant at its own running cap while slots are free, and gives them to others', () => {
    const q = driven({ maxConcurrentRuns: 4, maxQueuedRuns: 100 }, { a: { maxConcurrentRuns: 1 } });
    q.add('a', 'a1');
    q.add('a', 'a2');
    q.add('b', 'b1');
    expect(q.running.map((r) => r.runId)).toEqual(['a1', 'b1']);
    expect(q.order.statsFor('a')).toEqual({ running: 1, queued: 1 });
    expect(q.order.position('a2')).toBe(1);
    q.finish(1); // b1 ends: a2 still waits for a1
    expect(q.running.map((r) => r.runId)).toEqual(['a1']);
    q.finish(0);
    expect(q.running.map((r) => r.runId)).toEqual(['a2']);
  });

  it('places a capped tenant behind the runs that will start before its own run ends', () => {
    // a1 runs and holds a's only place; b1 has the other slot. b2 starts when b1 ends, a2 when a1 does.
    const q = driven({ maxConcurrentRuns: 2, maxQueuedRuns: 100 }, { a: { maxConcurrentRuns: 1 } });
    q.add('b', 'b1');
    q.add('a', 'a1');
    q.add('a', 'a2');
    q.add('b', 'b2');
    q.add('b', 'b3');
    expect(q.order.order()).toEqual(['b2', 'a2', 'b3']);
  });

  it('refuses past the tenant\'s waiting cap and past the server\'s, saying which', () => {
    const q = driven({ maxConcurrentRuns: 1, maxQueuedRuns: 3 }, { a: { maxQueuedRuns: 2 } });
    q.add('a');
    q.add('a');
    q.add('a');
    expect(q.order.refusal('a')).toMatchObject({ scope: 'tenant', message: expect.stringMatching(/already has 2 runs waiting \(its max_queued_runs is 2\)/) });
    expect(q.add('a', 'refused')).toMatchObject({ scope: 'tenant' });
    expect(q.order.position('refused')).toBeNull();
    expect(q.order.refusal('b')).toBeNull();
    q.add('b');
    expect(q.order.refusal('b')).toMatchObject({ scope: 'server', message: expect.stringMatching(/too many runs are waiting \(3; limits.max_queued_runs is 3\)/) });
    expect(q.order.refusal('c')).toMatchObject({ scope: 'server' });
  });

  it('never refuses a run that would start at once, even with no waiting places', () => {
    const q = driven({ maxConcurrentRuns: 2, maxQueuedRuns: 0 });
    expect(q.order.refusal('a')).toBeNull();
    q.add('a');
    expect(q.add('b')).toBe('b2');
    expect(q.order.refusal('c')).toMatchObject({ scope: 'server' });
  });

  it('says a run would start at once only while nothing of its tenant waits and a slot it may take is free', () => {
    const q = driven({ maxConcurrentRuns: 2, maxQueuedRuns: 10 }, { a: { maxConcurrentRuns: 1 } });
    expect(q.order.startsNow('a')).toBe(true);
    q.add('a');
    expect(q.order.startsNow('a')).toBe(false);
    expect(q.order.startsNow('b')).toBe(true);
    q.add('b');
    expect(q.order.startsNow('b')).toBe(false);
    q.finish(1);
    expect(q.order.startsNow('b')).toBe(true);
    q.add('a');
    q.finish(0);
    expect(q.running.map((r) => r.tenant)).toEqual(['a']);
    expect(q.order.startsNow('a')).toBe(false);
    expect(q.order.startsNow('c')).toBe(true);
  });

  it('withdraws a waiting run so it never starts, and moves the others up', () => {
    const q = driven({ maxConcurrentRuns: 1, maxQueuedRuns: 10 });
    q.add('a', 'a1');
    q.add('a', 'a2');
    q.add('b', 'b1');
    expect(q.order.order()).toEqual(['b1', 'a2']);
    expect(q.order.withdraw('b1')).toBe(true);
    expect(q.order.withdraw('a1')).toBe(false);
    expect(q.order.withdraw('nope')).toBe(false);
    expect(q.order.position('a2')).toBe(1);
    q.finish();
    expect(q.startsOf('b')).toEqual([]);
    expect(q.startsOf('a')).toEqual(['a1', 'a2']);
  });

  it('gives a tenant back no credit for the time it was idle', () => {
    const q = driven({ maxConcurrentRuns: 1, maxQueuedRuns: 100 });
    q.add('x', 'x0');
    for (let i = 1; i <= 20; i++) q.add('a', `a${i}`);
    for (let i = 0; i < 10; i++) q.finish();
    // b was idle while a ran ten: it gets one turn in two from now on, not ten in a row.
    for (let i = 1; i <= 5; i++) q.add('b', `b${i}`);
    expect(q.order.order().slice(0, 6)).toEqual(['b1', 'a11', 'b2', 'a12', 'b3', 'a13']);
  });
});

// Random traffic: tenants, their quotas, and a sequence of arrivals, ends and withdrawals.
const TENANTS = ['a', 'b', 'c', 'd'];
type Op = { kind: 'add'; tenant: number } | { kind: 'finish'; pick: number } | { kind: 'withdraw'; pick: number };
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('add' as const), tenant: fc.nat(TENANTS.length - 1) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('finish' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('withdraw' as const), pick: fc.nat() }) },
);
const scenarioArb = fc.record({
  limits: fc.record({ maxConcurrentRuns: fc.integer({ min: 1, max: 4 }), maxQueuedRuns: fc.integer({ min: 0, max: 12 }) }),
  quotas: fc.array(
    fc.record({ maxConcurrentRuns: fc.integer({ min: 1, max: 4 }), maxQueuedRuns: fc.integer({ min: 0, max: 12 }), weight: fc.integer({ min: 1, max: 4 }) }),
    { minLength: TENANTS.length, maxLength: TENANTS.length },
  ),
  ops: fc.array(opArb, { minLength: 10, maxLength: 120, size: 'max' }),
});

interface Replay {
  q: ReturnType<typeof driven>;
  /** Each tenant's admitted runs that were not withdrawn, in the order they came. */
  added: Map<string, string[]>;
}

function replay(s: { limits: FairLimits; quotas: TenantQuota[]; ops: Op[] }, check: (q: ReturnType<typeof driven>) => void = () => {}): Replay {
  const q = driven(s.limits, Object.fromEntries(TENANTS.map((t, i) => [t, s.quotas[i]!])));
  const added = new Map<string, string[]>(TENANTS.map((t) => [t, []]));
  const withdrawn = new Set<string>();
  for (const op of s.ops) {
    if (op.kind === 'add') {
      const tenant = TENANTS[op.tenant]!;
      const id = q.add(tenant);
      if (typeof id === 'string') added.get(tenant)!.push(id);
    } else if (op.kind === 'finish') {
      if (q.running.length) q.finish(op.pick % q.running.length);
    } else {
      const waiting = q.order.order();
      if (waiting.length) {
        const id = waiting[op.pick % waiting.length]!;
        expect(q.order.withdraw(id)).toBe(true);
        withdrawn.add(id);
      }
    }
    check(q);
  }
  for (const [t, ids] of added) added.set(t, ids.filter((id) => !withdrawn.has(id)));
  return { q, added };
}

describe('FairOrder under random traffic', () => {
  it('never runs or queues more than the server\'s and each tenant\'s caps allow', () => {
    fc.assert(
      fc.property(scenarioArb, (s) => {
        replay(s, (q) => {
          const all = q.order.stats();
          const over = [all.running > s.limits.maxConcurrentRuns && 'server running', all.queued > s.limits.maxQueuedRuns && 'server queued'];
          TENANTS.forEach((t, i) => {
            const mine = q.order.statsFor(t);
            over.push(mine.running > s.quotas[i]!.maxConcurrentRuns && `${t} running`, mine.queued > s.quotas[i]!.maxQueuedRuns && `${t} queued`);
            over.push(q.running.filter((r) => r.tenant === t).length !== mine.running && `${t} miscounted`);
          });
          expect(over.filter(Boolean)).toEqual([]);
        });
      }),
    );
  });

  it('leaves no slot idle while a run that may take it waits', () => {
    fc.assert(
      fc.property(scenarioArb, (s) => {
        replay(s, (q) => {
          if (q.order.stats().running >= s.limits.maxConcurrentRuns) return;
          TENANTS.forEach((t, i) => {
            const mine = q.order.statsFor(t);
            if (mine.queued > 0) expect(mine.running).toBe(s.quotas[i]!.maxConcurrentRuns);
          });
        });
      }),
    );
  });

  it('starts each tenant\'s runs in the order they came, and every run eventually', () => {
    fc.assert(
      fc.property(scenarioArb, (s) => {
        const { q, added } = replay(s);
        while (q.running.length) q.finish();
        expect(q.order.stats()).toEqual({ running: 0, queued: 0 });
        for (const t of TENANTS) expect(q.startsOf(t)).toEqual(added.get(t));
      }),
    );
  });

  it('tells each waiting run the place it then starts at, when runs end oldest first and no more arrive', () => {
    fc.assert(
      fc.property(scenarioArb, (s) => {
        const { q } = replay(s);
        const predicted = q.order.order();
        predicted.forEach((id, i) => expect(q.order.position(id)).toBe(i + 1));
        const before = q.starts.length;
        while (q.running.length) q.finish(0);
        expect(q.starts.slice(before).map((x) => x.runId)).toEqual(predicted);
      }),
    );
  });

  it("never starts a run of a tenant that began waiting after an idle tenant's first run before that run", () => {
    fc.assert(
      fc.property(scenarioArb, (s) => {
        const q = driven(s.limits, Object.fromEntries(TENANTS.map((t, i) => [t, s.quotas[i]!])));
        const watching = new Map<string, { tenant: string; later: Set<string> }>();
        for (const op of s.ops) {
          const before = q.starts.length;
          if (op.kind === 'add') {
            const tenant = TENANTS[op.tenant]!;
            const mine = q.order.statsFor(tenant);
            const id = q.add(tenant);
            if (typeof id === 'string' && q.order.position(id) !== null && mine.queued === 0) {
              for (const w of watching.values()) if (w.tenant !== tenant) w.later.add(tenant);
              if (mine.running === 0) watching.set(id, { tenant, later: new Set() });
            }
          } else if (op.kind === 'finish') {
            if (q.running.length) q.finish(op.pick % q.running.length);
          } else {
            const waiting = q.order.order();
            if (waiting.length) {
              const id = waiting[op.pick % waiting.length]!;
              q.order.withdraw(id);
              watching.delete(id);
            }
          }
          for (const start of q.starts.slice(before)) {
            watching.delete(start.runId);
            for (const w of watching.values()) expect(w.later.has(start.tenant)).toBe(false);
          }
        }
      }),
    );
  });

  it("starts at most one run of each other tenant before an idle tenant's first, when no tenant's own cap binds", () => {
    fc.assert(
      fc.property(
        fc.record({
          slots: fc.integer({ min: 1, max: 3 }),
          weights: fc.array(fc.integer({ min: 1, max: 4 }), { minLength: TENANTS.length, maxLength: TENANTS.length }),
          ops: fc.array(opArb.filter((o) => o.kind !== 'withdraw'), { minLength: 10, maxLength: 150, size: 'max' }),
        }),
        ({ slots, weights, ops }) => {
          const q = driven({ maxConcurrentRuns: slots, maxQueuedRuns: 1000 }, Object.fromEntries(TENANTS.map((t, i) => [t, { weight: weights[i]! }])));
          // Runs that had to wait though their tenant had nothing running or waiting: the other tenants' starts since.
          const watching = new Map<string, { tenant: string; others: Map<string, number> }>();
          for (const op of ops) {
            const before = q.starts.length;
            if (op.kind === 'add') {
              const tenant = TENANTS[op.tenant]!;
              const idle = q.order.statsFor(tenant).queued === 0 && q.order.statsFor(tenant).running === 0;
              const id = q.add(tenant);
              if (idle && typeof id === 'string' && q.order.position(id) !== null) watching.set(id, { tenant, others: new Map() });
            } else if (q.running.length) {
              q.finish(op.pick % q.running.length);
            }
            for (const start of q.starts.slice(before)) {
              for (const [id, w] of watching) {
                if (id === start.runId) {
                  for (const n of w.others.values()) expect(n).toBeLessThanOrEqual(1);
                  watching.delete(id);
                } else if (start.tenant !== w.tenant) {
                  w.others.set(start.tenant, (w.others.get(start.tenant) ?? 0) + 1);
                }
              }
            }
          }
        },
      ),
    );
  });
});
