import type { RunOptions } from './run-plan.js';
import type { Run, RunStatus } from './run.js';

export interface RunListQuery {
  tenant: string;
  status?: RunStatus;
  limit: number;
  /** Only runs older than this one, in list order: newest first, ties by id. */
  after?: RunCursor;
}

export interface RunCursor {
  createdAt: Date;
  id: string;
}

/** What a run was asked to do, kept with its record so a run still queued at a restart can start again. */
export interface RunSubmission {
  prompt: string;
  options: RunOptions;
  /** Whether the run has an uploaded workspace (its input tar). */
  hasInput: boolean;
}

/**
 * Where run records live: SQLite on the server (an embedded file), in memory for unit tests;
 * Postgres can follow behind the same surface, hence promises. Records are copies: what a caller
 * changes is saved only by update(). A write has reached the store's disk when its promise resolves.
 */
export interface RunStore {
  insert(run: Run, submission: RunSubmission): Promise<void>;
  update(run: Run): Promise<void>;
  get(id: string): Promise<Run | undefined>;
  submission(id: string): Promise<RunSubmission | undefined>;
  /** A tenant's runs, newest first (ties by id, descending). */
  list(query: RunListQuery): Promise<Run[]>;
  /** Runs a crash may have left queued or running, oldest first: recovery at startup. */
  unfinished(): Promise<Run[]>;
  /** Ended runs that finished before `before` and still have their artifacts, oldest first: retention. */
  endedBefore(before: Date, limit: number): Promise<Run[]>;
  /** Ended runs whose completion webhook is neither delivered nor given up, oldest end first: resent at startup. */
  webhookPending(): Promise<Run[]>;
  delete(id: string): Promise<void>;
}

export class MemoryRunStore implements RunStore {
  private readonly runs = new Map<string, { run: Run; submission: RunSubmission }>();

  async insert(run: Run, submission: RunSubmission): Promise<void> {
    if (this.runs.has(run.id)) throw new Error(`run ${run.id} exists`);
    this.runs.set(run.id, { run: { ...run }, submission: structuredClone(submission) });
  }

  async update(run: Run): Promise<void> {
    const held = this.runs.get(run.id);
    if (!held) throw new Error(`no run ${run.id}`);
    held.run = { ...run };
  }

  async get(id: string): Promise<Run | undefined> {
    const held = this.runs.get(id);
    return held && { ...held.run };
  }

  async submission(id: string): Promise<RunSubmission | undefined> {
    const held = this.runs.get(id);
    return held && structuredClone(held.submission);
  }

  async list(query: RunListQuery): Promise<Run[]> {
    const { after } = query;
    return this.all()
      .filter((r) => r.tenant === query.tenant && (!query.status || r.status === query.status))
      .sort(newestFirst)
      .filter((r) => !after || newestFirst(r, after) > 0)
      .slice(0, query.limit)
      .map((r) => ({ ...r }));
  }

  async unfinished(): Promise<Run[]> {
    return this.all()
      .filter((r) => r.status === 'queued' || r.status === 'running')
      .sort((a, b) => -newestFirst(a, b))
      .map((r) => ({ ...r }));
  }

  async endedBefore(before: Date, limit: number): Promise<Run[]> {
    return this.all()
      .filter((r) => r.finishedAt !== null && r.finishedAt < before && !r.artifactsExpired)
      .sort(oldestEndFirst)
      .slice(0, limit)
      .map((r) => ({ ...r }));
  }

  async webhookPending(): Promise<Run[]> {
    return this.all()
      .filter(hasPendingWebhook)
      .sort(oldestEndFirst)
      .map((r) => ({ ...r }));
  }

  async delete(id: string): Promise<void> {
    this.runs.delete(id);
  }

  private all(): Run[] {
    return [...this.runs.values()].map((h) => h.run);
  }
}

/** Ended, with a completion webhook neither delivered nor given up. */
export function hasPendingWebhook(run: Run): boolean {
  return run.finishedAt !== null && run.webhook?.state === 'pending';
}

/** Ended runs by when they ended, ties by id. */
function oldestEndFirst(a: Run, b: Run): number {
  return a.finishedAt!.getTime() - b.finishedAt!.getTime() || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/** The list order as a comparator: negative when `a` comes first. */
export function newestFirst(a: RunCursor, b: RunCursor): number {
  return b.createdAt.getTime() - a.createdAt.getTime() || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);
}
