import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { listParams, listSql, MIGRATIONS, MIGRATIONS_SQL, rowRun, rowSubmission, runRow, RUN_SQL, submissionRow, type Migration, type RunRow, type SubmissionRow } from './run-store-sql.js';
import type { RunListQuery, RunStore, RunSubmission } from './run-store.js';
import type { Run } from './run.js';

/**
 * The run store in one SQLite file. better-sqlite3 is synchronous: each write has been committed
 * (and, with synchronous = FULL, fsynced) when its call returns, which is what lets `POST /v1/runs`
 * answer only once the run would survive a crash. One owner opens it and closes it.
 */
export class SqliteRunStore implements RunStore, Disposable {
  private readonly db: Database.Database;
  private readonly statements: Record<keyof typeof RUN_SQL, Database.Statement>;
  private readonly lists = new Map<string, Database.Statement>();

  /** Opens (or creates) the file and applies the migrations it lacks. */
  static open(file: string, migrations: readonly Migration[] = MIGRATIONS): SqliteRunStore {
    mkdirSync(path.dirname(file), { recursive: true });
    const db = new Database(file);
    try {
      // WAL: readers do not wait on the writer. FULL: a commit is on disk before it returns, so an
      // acknowledged run survives a power loss too, not only a process crash (NORMAL's guarantee).
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = FULL');
      db.pragma('busy_timeout = 5000');
      migrate(db, migrations);
      return new SqliteRunStore(db);
    } catch (err) {
      db.close();
      throw err;
    }
  }

  private constructor(db: Database.Database) {
    this.db = db;
    this.statements = Object.fromEntries(Object.entries(RUN_SQL).map(([key, sql]) => [key, db.prepare(sql)])) as typeof this.statements;
  }

  async insert(run: Run, submission: RunSubmission): Promise<void> {
    this.statements.insert.run({ ...runRow(run), ...submissionRow(submission) });
  }

  async update(run: Run): Promise<void> {
    const { id, status, started_at, finished_at, artifacts_expired, webhook_pending, record } = runRow(run);
    const { changes } = this.statements.update.run({ id, status, started_at, finished_at, artifacts_expired, webhook_pending, record });
    if (changes !== 1) throw new Error(`no run ${run.id}`);
  }

  async get(id: string): Promise<Run | undefined> {
    const row = this.statements.get.get({ id }) as RunRow | undefined;
    return row && rowRun(row);
  }

  async submission(id: string): Promise<RunSubmission | undefined> {
    const row = this.statements.submission.get({ id }) as SubmissionRow | undefined;
    return row && rowSubmission(row);
  }

  async list(query: RunListQuery): Promise<Run[]> {
    const shape = { status: Boolean(query.status), after: Boolean(query.after) };
    const key = `${shape.status}/${shape.after}`;
    let statement = this.lists.get(key);
    if (!statement) this.lists.set(key, (statement = this.db.prepare(listSql(shape))));
    return (statement.all(listParams(query)) as RunRow[]).map(rowRun);
  }

  async unfinished(): Promise<Run[]> {
    return (this.statements.unfinished.all() as RunRow[]).map(rowRun);
  }

  async endedBefore(before: Date, limit: number): Promise<Run[]> {
    return (this.statements.endedBefore.all({ before: before.getTime(), limit }) as RunRow[]).map(rowRun);
  }

  async webhookPending(): Promise<Run[]> {
    return (this.statements.webhookPending.all() as RunRow[]).map(rowRun);
  }

  async delete(id: string): Promise<void> {
    this.statements.delete.run({ id });
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/**
 * Applies, in order, the migrations the file has not had: all in one IMMEDIATE transaction, so a
 * second process opening the file at once waits and then finds them applied.
 */
function migrate(db: Database.Database, migrations: readonly Migration[]): void {
  db.transaction(() => {
    db.exec(MIGRATIONS_SQL.table);
    const applied = new Set((db.prepare(MIGRATIONS_SQL.applied).all() as { version: number }[]).map((r) => r.version));
    const known = new Set(migrations.map((m) => m.version));
    const unknown = [...applied].filter((v) => !known.has(v));
    if (unknown.length) throw new Error(`the run store has schema version ${Math.max(...unknown)}, newer than this server knows: it was written by a newer codex-runner`);
    const record = db.prepare(MIGRATIONS_SQL.record);
    for (const migration of [...migrations].sort((a, b) => a.version - b.version)) {
      if (applied.has(migration.version)) continue;
      db.exec(migration.sql);
      record.run({ version: migration.version, applied_at: Date.now() });
    }
  }).immediate();
}
