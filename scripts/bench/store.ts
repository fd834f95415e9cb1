// The run store on its own: what it adds to each run (the insert at acceptance, the updates at
// start and end, each committed with fsync) and how fast a page of a large listing answers.
import { mkdtemp, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Run } from '../../server/runs/run.js';
import { SqliteRunStore } from '../../server/runs/sqlite-run-store.js';
import { sampleRun } from '../../server/runs/test-runs.js';
import { summarize, type Summary } from './stats.js';

export interface StoreResult {
  perRunMs: Summary;
  perRunSamples: number;
  firstPageMs: Summary;
  deepPageMs: Summary;
  statusPageMs: Summary;
  storedRuns: number;
  pageSize: number;
}

const STORED_RUNS = 10_000;
const TENANTS = 10;
const PAGE = 50;
const LIST_SAMPLES = 200;

export async function measureStore(dir: string, perRunSamples = 300): Promise<StoreResult> {
  const home = await mkdtemp(path.join(dir, 'store-'));
  const store = SqliteRunStore.open(path.join(home, 'runs.db'));
  try {
    const perRun: number[] = [];
    let n = 0;
    const submission = { prompt: 'x'.repeat(2000), options: { provider: 'standin', timeoutS: 900 }, hasInput: true };
    // Every tenant's runs are in the one table; the listed tenant holds all 10,000 of them, its own
    // worst case, beside the other tenants' runs.
    const fill = async (tenant: string, timed: boolean) => {
      const run = sampleRunN(n++, tenant);
      const start = performance.now();
      await store.insert(run, submission);
      await store.update({ ...run, status: 'running', startedAt: new Date() });
      await store.update({ ...run, status: n % 3 ? 'succeeded' : 'failed', startedAt: run.createdAt, finishedAt: new Date(), finalMessage: 'done' });
      if (timed) perRun.push(performance.now() - start);
    };
    for (let i = 0; i < perRunSamples; i++) await fill('listed', true);
    while (n < STORED_RUNS) await fill('listed', false);
    for (let t = 1; t < TENANTS; t++) for (let i = 0; i < 200; i++) await fill(`tenant-${t}`, false);

    const time = async (query: Parameters<SqliteRunStore['list']>[0]) => {
      const samples: number[] = [];
      for (let i = 0; i < LIST_SAMPLES; i++) {
        const start = performance.now();
        const page = await store.list(query);
        samples.push(performance.now() - start);
        if (page.length !== query.limit) throw new Error(`a page of ${page.length}, not ${query.limit}`);
      }
      return summarize(samples);
    };
    const middle = (await store.list({ tenant: 'listed', limit: STORED_RUNS / 2 })).at(-1)!;
    return {
      perRunMs: summarize(perRun),
      perRunSamples,
      firstPageMs: await time({ tenant: 'listed', limit: PAGE }),
      deepPageMs: await time({ tenant: 'listed', limit: PAGE, after: { createdAt: middle.createdAt, id: middle.id } }),
      statusPageMs: await time({ tenant: 'listed', status: 'failed', limit: PAGE }),
      storedRuns: n,
      pageSize: PAGE,
    };
  } finally {
    store.close();
    await rm(home, { recursive: true, force: true });
  }
}

function sampleRunN(n: number, tenant: string): Run {
  return sampleRun({
    id: `run_${n.toString(16).padStart(20, '0')}`,
    tenant,
    createdAt: new Date(Date.UTC(2025, 0, 1) + n * 1000),
    model: 'stand-in-model',
    timeoutS: 900,
  });
}
