import type { Run, RunStatus } from './run.js';

export interface RunListQuery {
  tenant: string;
  status?: RunStatus;
  limit: number;
  /** Only runs older than this one, in list order: newest first, ties by id. */
  after?: { createdAt: Date; id: string };
}

/**
 * Where run records live: in memory for now; SQLite, then Postgres, behind the same surface.
 * Records are copies: what a caller changes is saved only by update().
 */
export interface RunStore {
  insert(run: Run): void;
  update(run: Run): void;
  get(id: string): Run | undefined;
  /** A tenant's runs, newest first. */
  list(query: RunListQuery): Run[];
  /** Runs a crash may have left queued or running: recovery at startup. */
  unfinished(): Run[];
  /** Ended runs that finished before `before` and still have their artifacts, oldest first: retention. */
  endedBefore(before: Date, limit: number): Run[];
  delete(id: string): void;
}

export class MemoryRunStore implements RunStore {
  private readonly runs = new Map<string, Run>();

  insert(run: Run): void {
    if (this.runs.has(run.id)) throw new Error(`run ${run.id} exists`);
    this.runs.set(run.id, { ...run });
  }

  update(run: Run): void {
    this.runs.set(run.id, { ...run });
  }

  get(id: string): Run | undefined {
    const run = this.runs.get(id);
    return run && { ...run };
  }

  list(query: RunListQuery): Run[] {
    const { after } = query;
    return [...this.runs.values()]
      .filter((r) => r.tenant === query.tenant && (!query.status || r.status === query.status))
      .sort(newestFirst)
      .filter((r) => !after || newestFirst(r, { createdAt: after.createdAt, id: after.id } as Run) > 0)
      .slice(0, query.limit)
      .map((r) => ({ ...r }));
  }

  unfinished(): Run[] {
    return [...this.runs.values()].filter((r) => r.status === 'queued' || r.status === 'running').map((r) => ({ ...r }));
  }

  endedBefore(before: Date, limit: number): Run[] {
    return [...this.runs.values()]
      .filter((r) => r.finishedAt !== null && r.finishedAt < before && !r.artifactsExpired)
      .sort((a, b) => a.finishedAt!.getTime() - b.finishedAt!.getTime())
      .slice(0, limit)
      .map((r) => ({ ...r }));
  }

  delete(id: string): void {
    this.runs.delete(id);
  }
}

function newestFirst(a: Pick<Run, 'createdAt' | 'id'>, b: Pick<Run, 'createdAt' | 'id'>): number {
  return b.createdAt.getTime() - a.createdAt.getTime() || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);
}
