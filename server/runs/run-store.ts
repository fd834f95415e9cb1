import type { Run } from './run.js';

/** Where run records live. In memory for now; the SQLite store replaces this behind the same surface. */
export interface RunStore {
  insert(run: Run): void;
  update(run: Run): void;
  get(id: string): Run | undefined;
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
}
