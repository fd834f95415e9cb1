// How a run is a row: the schema's migrations, the statements, and the mapping between a `Run` and
// its row. Plain SQL that SQLite and Postgres both take (row values, partial indexes, BIGINT epoch
// milliseconds), so a Postgres store can follow with this module's shapes and its own placeholders.
// The columns are what the store filters and orders by; the rest of the record is one JSON text,
// so a field added to `Run` needs no migration (it must be JSON: only the three dates are revived).
import type { RunOptions } from './run-plan.js';
import { hasPendingWebhook, type RunCursor, type RunSubmission } from './run-store.js';
import type { Run, RunStatus } from './run.js';

export interface Migration {
  version: number;
  sql: string;
}

/** Applied in order, each once, at startup; never edit one that has shipped: add the next. */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    sql: `
      CREATE TABLE runs (
        id TEXT PRIMARY KEY,
        tenant TEXT NOT NULL,
        status TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        started_at BIGINT,
        finished_at BIGINT,
        record TEXT NOT NULL,
        prompt TEXT NOT NULL,
        options TEXT NOT NULL,
        has_input INTEGER NOT NULL
      );
      CREATE INDEX runs_by_tenant ON runs (tenant, created_at, id);
      CREATE INDEX runs_by_tenant_status ON runs (tenant, status, created_at, id);
      CREATE INDEX runs_unfinished ON runs (created_at, id) WHERE status IN ('queued', 'running');
      CREATE INDEX runs_by_finished ON runs (finished_at, id) WHERE finished_at IS NOT NULL;
    `,
  },
  {
    // Retention marks a run whose artifacts it removed; its sweep looks only at those not marked.
    version: 2,
    sql: `
      ALTER TABLE runs ADD COLUMN artifacts_expired INTEGER NOT NULL DEFAULT 0;
      DROP INDEX runs_by_finished;
      CREATE INDEX runs_by_finished ON runs (finished_at, id) WHERE finished_at IS NOT NULL AND artifacts_expired = 0;
    `,
  },
  {
    // An ended run whose completion webhook is not delivered yet (nor given up): a restart sends it
    // again. The backfill reads the JSON record with SQLite's json_extract; a Postgres store starts
    // from its own first schema and needs none.
    version: 3,
    sql: `
      ALTER TABLE runs ADD COLUMN webhook_pending INTEGER NOT NULL DEFAULT 0;
      UPDATE runs SET webhook_pending = 1 WHERE finished_at IS NOT NULL AND json_extract(record, '$.webhook.state') = 'pending';
      CREATE INDEX runs_webhook_pending ON runs (finished_at, id) WHERE webhook_pending = 1;
    `,
  },
];

/** The numbered-migrations table: which migrations a database has had. */
export const MIGRATIONS_SQL = {
  table: 'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)',
  applied: 'SELECT version FROM schema_migrations ORDER BY version',
  record: 'INSERT INTO schema_migrations (version, applied_at) VALUES (@version, @applied_at)',
} as const;

export const RUN_SQL = {
  insert: `INSERT INTO runs (id, tenant, status, created_at, started_at, finished_at, artifacts_expired, webhook_pending, record, prompt, options, has_input)
           VALUES (@id, @tenant, @status, @created_at, @started_at, @finished_at, @artifacts_expired, @webhook_pending, @record, @prompt, @options, @has_input)`,
  update: `UPDATE runs SET status = @status, started_at = @started_at, finished_at = @finished_at,
           artifacts_expired = @artifacts_expired, webhook_pending = @webhook_pending, record = @record WHERE id = @id`,
  get: `SELECT ${runColumns()} FROM runs WHERE id = @id`,
  submission: 'SELECT prompt, options, has_input FROM runs WHERE id = @id',
  unfinished: `SELECT ${runColumns()} FROM runs WHERE status IN ('queued', 'running') ORDER BY created_at, id`,
  endedBefore: `SELECT ${runColumns()} FROM runs WHERE finished_at IS NOT NULL AND artifacts_expired = 0 AND finished_at < @before
                ORDER BY finished_at, id LIMIT @limit`,
  webhookPending: `SELECT ${runColumns()} FROM runs WHERE webhook_pending = 1 ORDER BY finished_at, id`,
  delete: 'DELETE FROM runs WHERE id = @id',
} as const;

/** The list query for a tenant, with the filters asked for (a handful of shapes, each prepared once). */
export function listSql(filters: { status: boolean; after: boolean }): string {
  const where = ['tenant = @tenant'];
  if (filters.status) where.push('status = @status');
  if (filters.after) where.push('(created_at, id) < (@after_created_at, @after_id)');
  return `SELECT ${runColumns()} FROM runs WHERE ${where.join(' AND ')} ORDER BY created_at DESC, id DESC LIMIT @limit`;
}

export function listParams(query: { tenant: string; status?: RunStatus; limit: number; after?: RunCursor }): Record<string, unknown> {
  return {
    tenant: query.tenant,
    limit: query.limit,
    ...(query.status ? { status: query.status } : {}),
    ...(query.after ? { after_created_at: query.after.createdAt.getTime(), after_id: query.after.id } : {}),
  };
}

function runColumns(): string {
  return 'id, tenant, status, created_at, started_at, finished_at, record';
}

export interface RunRow {
  id: string;
  tenant: string;
  status: string;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
  record: string;
}

export interface SubmissionRow {
  prompt: string;
  options: string;
  has_input: number;
}

export function runRow(run: Run): RunRow & { artifacts_expired: number; webhook_pending: number } {
  const { id, tenant, status, createdAt, startedAt, finishedAt, ...rest } = run;
  return {
    id,
    tenant,
    status,
    created_at: createdAt.getTime(),
    started_at: startedAt?.getTime() ?? null,
    finished_at: finishedAt?.getTime() ?? null,
    artifacts_expired: run.artifactsExpired ? 1 : 0,
    webhook_pending: hasPendingWebhook(run) ? 1 : 0,
    record: JSON.stringify(rest),
  };
}

export function rowRun(row: RunRow): Run {
  return {
    // Records written before a field existed get its default.
    ...({ artifactsExpired: false, webhook: null, output: null, parentId: null, rootId: null, threadId: null, hasSession: false, usageBefore: null } as Partial<Run>),
    ...(JSON.parse(row.record) as Omit<Run, 'id' | 'tenant' | 'status' | 'createdAt' | 'startedAt' | 'finishedAt'>),
    id: row.id,
    tenant: row.tenant,
    status: row.status as RunStatus,
    createdAt: new Date(Number(row.created_at)),
    startedAt: row.started_at === null ? null : new Date(Number(row.started_at)),
    finishedAt: row.finished_at === null ? null : new Date(Number(row.finished_at)),
  };
}

export function submissionRow(submission: RunSubmission): SubmissionRow {
  return { prompt: submission.prompt, options: JSON.stringify(submission.options), has_input: submission.hasInput ? 1 : 0 };
}

export function rowSubmission(row: SubmissionRow): RunSubmission {
  return { prompt: row.prompt, options: JSON.parse(row.options) as RunOptions, hasInput: Boolean(row.has_input) };
}
