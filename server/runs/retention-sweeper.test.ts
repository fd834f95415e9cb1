import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../config/config.js';
import { newRunRecord } from './live-run.js';
import { RetentionSweeper } from './retention-sweeper.js';
import { FileRunArtifacts } from './run-artifacts.js';
import { planRun } from './run-plan.js';
import { MemoryRunStore } from './run-store.js';
import type { Run } from './run.js';

const plan = planRun({ ...parseConfig({}), providerProblems: {} }, 'ci', {});
const DAY_MS = 24 * 3600 * 1000;
const NOW = Date.parse('2026-12-02T12:00:00Z');

describe('RetentionSweeper', () => {
  let dir: string;
  let store: MemoryRunStore;
  let artifacts: FileRunArtifacts;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'retention-'));
    store = new MemoryRunStore();
    artifacts = new FileRunArtifacts(dir);
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function endedRun(id: string, daysAgo: number, bytes: number, status: Run['status'] = 'succeeded'): Promise<void> {
    const run = { ...newRunRecord(id, 'ci', plan), status, finishedAt: status === 'running' ? null : new Date(NOW - daysAgo * DAY_MS), hasDiff: true, hasWorkspace: true };
    await store.insert(run, { prompt: 'p', options: {}, hasInput: false });
    const files = await artifacts.create(id);
    await writeFile(files.diff, Buffer.alloc(bytes));
    await writeFile(files.events, 'x');
  }

  const sweeper = (maxAgeDays: number, maxBytes: number) =>
    new RetentionSweeper({ store, artifacts, policy: { maxAgeMs: maxAgeDays * DAY_MS, maxBytes }, intervalMs: 1000, log: pino({ level: 'silent' }), now: () => NOW });

  it('removes the artifacts of runs past their age and keeps their records, marked expired', async () => {
    await endedRun('old', 40, 10);
    await endedRun('new', 1, 10);
    await endedRun('live', 90, 10, 'running');
    expect(await sweeper(30, 1e9).sweep()).toBe(1);
    expect((await store.get('old'))).toMatchObject({ artifactsExpired: true, status: 'succeeded' });
    expect(await artifacts.size('old')).toBe(0);
    expect((await store.get('new'))!.artifactsExpired).toBe(false);
    expect(await artifacts.size('new')).toBe(11);
    expect((await store.get('live'))!.artifactsExpired).toBe(false);
    // A second pass finds nothing more to do.
    expect(await sweeper(30, 1e9).sweep()).toBe(0);
  });

  it('keeps the ended runs under max_bytes, removing the oldest first', async () => {
    await endedRun('a', 5, 1000);
    await endedRun('b', 4, 1000);
    await endedRun('c', 3, 1000);
    expect(await sweeper(30, 2100).sweep()).toBe(1);
    expect(await Promise.all(['a', 'b', 'c'].map(async (id) => (await store.get(id))!.artifactsExpired))).toEqual([true, false, false]);
    expect(await sweeper(30, 500).sweep()).toBe(2);
    expect(await Promise.all(['a', 'b', 'c'].map(async (id) => (await store.get(id))!.artifactsExpired))).toEqual([true, true, true]);
  });
});
