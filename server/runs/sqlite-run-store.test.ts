import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MIGRATIONS, MIGRATIONS_SQL } from './run-store-sql.js';
import { MemoryRunStore, type RunStore } from './run-store.js';
import type { Run } from './run.js';
import { SqliteRunStore } from './sqlite-run-store.js';
import { sampleRun } from './test-runs.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'run-store-test-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const id = (n: number) => `run_${String(n).padStart(20, '0')}`;
const at = (s: number) => new Date(Date.UTC(2025, 0, 1, 0, 0, s));
const submission = { prompt: 'do it', options: { provider: 'standin', timeoutS: 30 }, hasInput: true };

// The same contract for both: the memory store is what unit tests of the callers use.
const stores: [string, () => RunStore & { close?: () => void }][] = [
  ['MemoryRunStore', () => new MemoryRunStore()],
  ['SqliteRunStore', () => SqliteRunStore.open(path.join(dir, 'nested', 'runs.db'))],
];

describe.each(stores)('%s', (_name, make) => {
  let store: RunStore & { close?: () => void };
  beforeEach(() => {
    store = make();
  });
  afterEach(() => store.close?.());

  it('gives back the record and the submission it was given, as copies', async () => {
    const run = sampleRun({
      status: 'succeeded',
      startedAt: at(1),
      finishedAt: at(2),
      exitCode: 0,
      finalMessage: 'done',
      usage: { input_tokens: 1, cached_input_tokens: 2, output_tokens: 3, reasoning_output_tokens: 4 },
      changes: { files_changed: 1, insertions: 2, deletions: 0, files: [{ path: 'a', insertions: 2, deletions: 0 }] },
      providerUsage: { requests: 1, input_tokens: 5, output_tokens: 6, total_tokens: 11 },
      hasDiff: true,
      leftOut: [{ path: 'f', reason: 'fifo' }],
      eventsDropped: 3,
    });
    await store.insert(run, submission);
    expect(await store.get(run.id)).toEqual(run);
    expect(await store.submission(run.id)).toEqual(submission);
    const copy = (await store.get(run.id))!;
    copy.status = 'failed';
    expect((await store.get(run.id))!.status).toBe('succeeded');
    expect(await store.get(id(99))).toBeUndefined();
    expect(await store.submission(id(99))).toBeUndefined();
  });

  it('refuses a second insert of the same id and an update of an unknown run', async () => {
    await store.insert(sampleRun(), submission);
    await expect(store.insert(sampleRun(), submission)).rejects.toThrow();
    await expect(store.update(sampleRun({ id: id(42) }))).rejects.toThrow(/no run/);
  });

  it('saves an update: status, dates and the rest of the record', async () => {
    await store.insert(sampleRun(), submission);
    const run = sampleRun({ status: 'failed', startedAt: at(5), finishedAt: at(9), error: { code: 'interrupted', message: 'x' } });
    await store.update(run);
    expect(await store.get(run.id)).toEqual(run);
    expect(await store.submission(run.id)).toEqual(submission);
  });

  it("lists a tenant's runs newest first, ties by id, never another tenant's", async () => {
    await store.insert(sampleRun({ id: id(1), createdAt: at(1) }), submission);
    await store.insert(sampleRun({ id: id(3), createdAt: at(2) }), submission);
    await store.insert(sampleRun({ id: id(2), createdAt: at(2) }), submission);
    await store.insert(sampleRun({ id: id(4), createdAt: at(3), tenant: 'b' }), submission);
    const ids = async (q: Parameters<RunStore['list']>[0]) => (await store.list(q)).map((r) => r.id);
    expect(await ids({ tenant: 'a', limit: 10 })).toEqual([id(3), id(2), id(1)]);
    expect(await ids({ tenant: 'b', limit: 10 })).toEqual([id(4)]);
    expect(await ids({ tenant: 'c', limit: 10 })).toEqual([]);
    expect(await ids({ tenant: 'a', limit: 2 })).toEqual([id(3), id(2)]);
  });

  it('pages with a cursor across equal creation times and filters by status', async () => {
    for (let n = 1; n <= 7; n++) {
      await store.insert(sampleRun({ id: id(n), createdAt: at(Math.ceil(n / 3)), status: n % 2 ? 'succeeded' : 'queued' }), submission);
    }
    const seen: string[] = [];
    let after: { createdAt: Date; id: string } | undefined;
    for (;;) {
      const page = await store.list({ tenant: 'a', limit: 2, after });
      if (page.length === 0) break;
      seen.push(...page.map((r) => r.id));
      after = { createdAt: page.at(-1)!.createdAt, id: page.at(-1)!.id };
    }
    expect(seen).toEqual([id(7), id(6), id(5), id(4), id(3), id(2), id(1)]);
    const queued = await store.list({ tenant: 'a', status: 'queued', limit: 10 });
    expect(queued.map((r) => r.id)).toEqual([id(6), id(4), id(2)]);
    const rest = await store.list({ tenant: 'a', status: 'succeeded', limit: 10, after: { createdAt: at(2), id: id(5) } });
    expect(rest.map((r) => r.id)).toEqual([id(3), id(1)]);
  });

  it('finds the unfinished runs, oldest first, of every tenant', async () => {
    await store.insert(sampleRun({ id: id(1), createdAt: at(3), status: 'running' }), submission);
    await store.insert(sampleRun({ id: id(2), createdAt: at(1), status: 'queued', tenant: 'b' }), submission);
    await store.insert(sampleRun({ id: id(3), createdAt: at(2), status: 'succeeded' }), submission);
    await store.insert(sampleRun({ id: id(4), createdAt: at(4), status: 'queued' }), submission);
    expect((await store.unfinished()).map((r) => r.id)).toEqual([id(2), id(1), id(4)]);
  });

  it('finds ended runs that finished before a time, oldest first, up to a limit', async () => {
    await store.insert(sampleRun({ id: id(1), status: 'succeeded', finishedAt: at(30) }), submission);
    await store.insert(sampleRun({ id: id(2), status: 'failed', finishedAt: at(10) }), submission);
    await store.insert(sampleRun({ id: id(3), status: 'cancelled', finishedAt: at(20) }), submission);
    await store.insert(sampleRun({ id: id(4), status: 'running' }), submission);
    expect((await store.endedBefore(at(25), 10)).map((r) => r.id)).toEqual([id(2), id(3)]);
    expect((await store.endedBefore(at(60), 2)).map((r) => r.id)).toEqual([id(2), id(3)]);
    expect(await store.endedBefore(at(10), 10)).toEqual([]);
  });

  it('leaves out of the retention query the runs whose artifacts have expired, and keeps their records', async () => {
    await store.insert(sampleRun({ id: id(1), status: 'succeeded', finishedAt: at(10) }), submission);
    await store.insert(sampleRun({ id: id(2), status: 'succeeded', finishedAt: at(20) }), submission);
    await store.update({ ...(await store.get(id(1)))!, artifactsExpired: true });
    expect((await store.endedBefore(at(60), 10)).map((r) => r.id)).toEqual([id(2)]);
    expect((await store.get(id(1)))!.artifactsExpired).toBe(true);
  });

  it('finds the ended runs whose webhook is still pending, oldest end first, and forgets one once delivered', async () => {
    const webhook = (state: 'pending' | 'delivered' | 'failed') => ({ url: 'http://127.0.0.1:9/hook', state, attempts: 0, last_error: null });
    await store.insert(sampleRun({ id: id(1), status: 'succeeded', finishedAt: at(30), webhook: webhook('pending') }), submission);
    await store.insert(sampleRun({ id: id(2), status: 'failed', finishedAt: at(10), webhook: webhook('pending') }), submission);
    await store.insert(sampleRun({ id: id(3), status: 'succeeded', finishedAt: at(20), webhook: webhook('delivered') }), submission);
    await store.insert(sampleRun({ id: id(4), status: 'running', webhook: webhook('pending') }), submission);
    await store.insert(sampleRun({ id: id(5), status: 'succeeded', finishedAt: at(5) }), submission);
    expect((await store.webhookPending()).map((r) => r.id)).toEqual([id(2), id(1)]);
    await store.update({ ...(await store.get(id(2)))!, webhook: webhook('failed') });
    await store.update({ ...(await store.get(id(4)))!, status: 'succeeded', finishedAt: at(40) });
    expect((await store.webhookPending()).map((r) => r.id)).toEqual([id(1), id(4)]);
  });

  it('deletes a run and its submission', async () => {
    await store.insert(sampleRun(), submission);
    await store.delete(sampleRun().id);
    expect(await store.get(sampleRun().id)).toBeUndefined();
    expect(await store.submission(sampleRun().id)).toBeUndefined();
    expect(await store.list({ tenant: 'a', limit: 10 })).toEqual([]);
    await store.delete(sampleRun().id);
  });
});

describe('SqliteRunStore on its file', () => {
  const file = () => path.join(dir, 'runs.db');

  it('keeps what was written across a reopen, in WAL mode', async () => {
    const store = SqliteRunStore.open(file());
    await store.insert(sampleRun(), submission);
    expect(existsSync(`${file()}-wal`)).toBe(true);
    store.close();
    using again = SqliteRunStore.open(file());
    expect(await again.get(sampleRun().id)).toEqual(sampleRun());
    const raw = new Database(file(), { readonly: true });
    try {
      expect(raw.pragma('journal_mode', { simple: true })).toBe('wal');
    } finally {
      raw.close();
    }
  });

  it('applies each migration once, however often it is opened', async () => {
    const extra = [...MIGRATIONS, { version: MIGRATIONS.length + 1, sql: 'CREATE TABLE extra (x INTEGER)' }];
    SqliteRunStore.open(file()).close();
    SqliteRunStore.open(file(), extra).close();
    SqliteRunStore.open(file(), extra).close();
    const raw = new Database(file(), { readonly: true });
    try {
      const versions = raw.prepare('SELECT version FROM schema_migrations ORDER BY version').all();
      expect(versions).toEqual(extra.map((m) => ({ version: m.version })));
    } finally {
      raw.close();
    }
  });

  it('marks, on migrating, the ended runs an older schema left with a pending webhook', async () => {
    // A file as a server of schema 2 left it (its statements would not prepare on this schema).
    const raw = new Database(file());
    try {
      raw.exec(MIGRATIONS_SQL.table);
      for (const m of MIGRATIONS.filter((m) => m.version < 3)) {
        raw.exec(m.sql);
        raw.prepare(MIGRATIONS_SQL.record).run({ version: m.version, applied_at: 0 });
      }
      const record = JSON.stringify({ ...sampleRun(), webhook: { url: 'http://127.0.0.1:9/hook', state: 'pending', attempts: 1, last_error: null } });
      raw.prepare(`INSERT INTO runs (id, tenant, status, created_at, started_at, finished_at, record, prompt, options, has_input)
                   VALUES ('run_old', 'a', 'succeeded', 1, 1, 2, @record, 'p', '{}', 0)`).run({ record });
    } finally {
      raw.close();
    }
    const store = SqliteRunStore.open(file());
    try {
      expect((await store.webhookPending()).map((r) => r.id)).toEqual(['run_old']);
    } finally {
      store.close();
    }
  });

  it('refuses a file whose schema is newer than the server knows', () => {
    const newer = [...MIGRATIONS, { version: 99, sql: 'CREATE TABLE later (x INTEGER)' }];
    SqliteRunStore.open(file(), newer).close();
    expect(() => SqliteRunStore.open(file())).toThrow(/schema version 99, newer than this server knows/);
  });

  it('applies nothing of a migration that fails', () => {
    const broken = [...MIGRATIONS, { version: 2, sql: 'CREATE TABLE half (x INTEGER); NOT SQL' }];
    expect(() => SqliteRunStore.open(file(), broken)).toThrow();
    const raw = new Database(file(), { readonly: true });
    try {
      const tables = raw.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all();
      expect(tables).toEqual([]);
    } finally {
      raw.close();
    }
  });
});
