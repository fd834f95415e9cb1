import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import { createInterface } from 'node:readline';

export type RunEventKind = 'codex' | 'run';

export interface RunEvent {
  seq: number;
  kind: RunEventKind;
  data: unknown;
}

/**
 * One run's events, in order: Codex's JSONL events and the run's lifecycle events.
 * Appended to a JSONL file as they come; held in memory only while the run is live, so a finished
 * run's replay reads the file and a live run's readers follow the buffer.
 */
export class EventLog {
  private live: RunEvent[] | null = [];
  private waiters = new Set<() => void>();
  private readonly file: WriteStream;
  private nextSeq = 1;
  private closing: Promise<void> | null = null;

  constructor(private readonly path: string) {
    this.file = createWriteStream(path, { flags: 'a' });
  }

  append(kind: RunEventKind, data: unknown): void {
    if (!this.live || this.closing) throw new Error('event log is closed');
    const event: RunEvent = { seq: this.nextSeq++, kind, data };
    this.live.push(event);
    this.file.write(JSON.stringify(event) + '\n');
    this.wake();
  }

  get closed(): boolean {
    return this.closing !== null;
  }

  /** Flushes the file, then wakes readers so they finish. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.file.end();
      await once(this.file, 'close');
      this.live = null;
      this.wake();
    })();
    return this.closing;
  }

  /** Every event with seq > afterSeq, then the live ones as they come, until the log closes. */
  async *read(afterSeq = 0, signal?: AbortSignal): AsyncGenerator<RunEvent> {
    const events = this.live;
    if (!events) {
      yield* readEventFile(this.path, afterSeq);
      return;
    }
    let i = events.findIndex((e) => e.seq > afterSeq);
    if (i < 0) i = events.length;
    while (!signal?.aborted) {
      while (i < events.length) yield events[i++]!;
      if (this.live === null) return;
      await this.waitForChange(signal);
    }
  }

  private waitForChange(signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        this.waiters.delete(done);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      this.waiters.add(done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }
}

/** Replays a finished run's events from its file. */
export async function* readEventFile(path: string, afterSeq = 0): AsyncGenerator<RunEvent> {
  const lines = createInterface({ input: createReadStream(path), crlfDelay: Infinity });
  try {
    for await (const line of lines) {
      if (!line) continue;
      const event = JSON.parse(line) as RunEvent;
      if (event.seq > afterSeq) yield event;
    }
  } finally {
    lines.close();
  }
}
