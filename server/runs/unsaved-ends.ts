import type { Logger } from 'pino';
import type { RunStore } from './run-store.js';
import type { RunStatusEvent } from './run-wire.js';
import type { Run } from './run.js';

/** What of a run's end is still to be written. */
export interface UnsavedEnd {
  /** The record's update failed. */
  record: boolean;
  /** The terminal event did not reach the events file: appended to it when there is room. */
  terminal: { file: string; event: RunStatusEvent } | null;
}

/**
 * Ended runs whose end could not be written for want of space. The run service serves them from
 * here, as they ended, and flush() writes them once the data_dir has room again; a run is lost
 * only if the server stops before that (a restart then calls it interrupted).
 */
export class UnsavedEnds {
  private readonly held = new Map<string, { run: Run } & UnsavedEnd>();

  constructor(
    private readonly deps: {
      store: Pick<RunStore, 'update'>;
      /** Appends a lifecycle event to an ended run's events file, after its last whole line. */
      appendEvent: (file: string, event: RunStatusEvent) => Promise<void>;
      log: Logger;
    },
  ) {}

  hold(run: Run, unsaved: UnsavedEnd): void {
    this.deps.log.warn({ runId: run.id, record: unsaved.record, terminalEvent: Boolean(unsaved.terminal) }, 'the end of the run could not be written for want of space: it is kept in memory until there is room');
    this.held.set(run.id, { run: { ...run }, ...unsaved });
  }

  get(id: string): Run | undefined {
    const entry = this.held.get(id);
    return entry && { ...entry.run };
  }

  get size(): number {
    return this.held.size;
  }

  ids(): string[] {
    return [...this.held.keys()];
  }

  /** Writes what it holds, oldest first; stops at the first failure (the disk is still full), to try again later. */
  async flush(): Promise<void> {
    for (const [id, entry] of this.held) {
      try {
        // The event first: the record, once written, says the end is whole.
        if (entry.terminal) {
          await this.deps.appendEvent(entry.terminal.file, entry.terminal.event);
          entry.terminal = null;
        }
        if (entry.record) {
          await this.deps.store.update(entry.run);
          entry.record = false;
        }
        this.held.delete(id);
        this.deps.log.info({ runId: id }, 'wrote the end of the run, kept in memory while the data_dir was full');
      } catch (err) {
        this.deps.log.debug({ err, runId: id }, 'the end of the run still cannot be written');
        return;
      }
    }
  }
}
