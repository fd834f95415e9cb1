import { createWriteStream, type WriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { finishedExtent, readEvents, type EventFileExtent, type RunEvent, type RunEventKind } from './event-file-reader.js';
import type { EventLogStart } from './event-log-resume.js';

export type { RunEvent, RunEventKind } from './event-file-reader.js';

export interface EventLogLimits {
  /** Codex events stored at most; lifecycle (`run`) events are always stored. */
  maxCodexEvents: number;
  /** Once the file holds this many bytes, further Codex events are not stored. */
  maxBytes: number;
  /** A Codex event whose stored line would be longer is not stored. */
  maxLineBytes: number;
}

export type DropReason = 'max_events' | 'max_bytes' | 'line_too_long' | 'after_codex_ended';

/** The lifecycle event a log appends when it first drops a Codex event. */
export const TRUNCATED_EVENT_TYPE = 'run.events_truncated';

/**
 * One run's events, in order: Codex's JSONL events and the run's lifecycle events, appended to a
 * JSONL file. Nothing is kept in memory: readers follow the file up to the bytes the file has
 * written (whole lines only), each at its own pace. Past the limits, Codex events are counted, not
 * stored, so a flood on Codex's stdout costs neither disk nor memory beyond the caps.
 */
export class EventLog implements EventFileExtent {
  private readonly file: WriteStream;
  private readonly waiters = new Set<() => void>();
  private nextSeq = 1;
  private codexEvents = 0;
  private appendedBytes = 0;
  private written = 0;
  private droppedCount = 0;
  /** Set by the first count or size drop: from then on no Codex event is stored, however small. */
  private full: DropReason | null = null;
  private failure: Error | null = null;
  private closing: Promise<void> | null = null;
  private done = false;

  constructor(
    private readonly path: string,
    private readonly limits: EventLogLimits,
    /** Told the new total each time a Codex event is dropped. */
    private readonly onDropped?: (dropped: number) => void,
    /** Where the file left off, when the log goes on writing one from before a restart. */
    start?: EventLogStart,
  ) {
    if (start) {
      this.nextSeq = start.nextSeq;
      this.codexEvents = start.codexEvents;
      this.appendedBytes = this.written = start.bytes;
      // Its mark is written once: the dropped count before the restart is not in the file.
      if (start.truncated) this.droppedCount = 1;
    }
    this.file = createWriteStream(path, { flags: 'a' });
    // Without a listener an I/O error would end the process; the run goes on without more events.
    this.file.on('error', (err) => {
      this.failure ??= err;
      this.wake();
    });
  }

  /** Appends an event; a Codex event past a limit is only counted. Returns whether it was stored. */
  append(kind: RunEventKind, data: unknown): boolean {
    if (this.closing) throw new Error('event log is closed');
    if (kind === 'codex' && this.full) return this.drop(this.full);
    if (kind === 'codex' && this.codexEvents >= this.limits.maxCodexEvents) return this.drop((this.full = 'max_events'));
    const line = this.line(kind, data);
    const bytes = Buffer.byteLength(line);
    if (kind === 'codex') {
      if (bytes > this.limits.maxLineBytes) return this.drop('line_too_long');
      if (this.appendedBytes + bytes > this.limits.maxBytes) return this.drop((this.full = 'max_bytes'));
      this.codexEvents++;
    }
    this.write(line, bytes);
    return true;
  }

  /** Counts a Codex line that was dropped before it became an event (e.g. cut by the line splitter). */
  countDropped(reason: DropReason): void {
    if (this.closing) throw new Error('event log is closed');
    this.drop(reason);
  }

  get dropped(): number {
    return this.droppedCount;
  }

  /** Backpressure for the producer: a promise while the file has more queued than it wants, else null. */
  ready(): Promise<void> | null {
    if (!this.file.writableNeedDrain || this.file.destroyed) return null;
    return new Promise((resolve) => {
      const done = () => {
        this.file.off('drain', done);
        this.file.off('close', done);
        resolve();
      };
      this.file.on('drain', done);
      this.file.on('close', done);
    });
  }

  get committedBytes(): number {
    return this.written;
  }

  get ended(): boolean {
    return this.done;
  }

  get closed(): boolean {
    return this.closing !== null;
  }

  changed(signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        this.waiters.delete(done);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      if (signal?.aborted) return resolve();
      this.waiters.add(done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  /** Flushes the file, then lets readers finish. Idempotent; rejects if the file failed. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      if (!this.file.closed) {
        const closed = new Promise<void>((resolve) => this.file.once('close', () => resolve()));
        this.file.end();
        await closed;
      }
      this.done = true;
      this.wake();
      if (this.failure) throw this.failure;
    })();
    return this.closing;
  }

  /** Every event with seq > afterSeq, then the new ones as they are written, until the log closes. */
  read(afterSeq = 0, signal?: AbortSignal): AsyncGenerator<RunEvent> {
    return readEvents(this.path, this, { afterSeq, signal, maxLineBytes: readerLineBytes(this.limits.maxLineBytes) });
  }

  private line(kind: RunEventKind, data: unknown): string {
    return JSON.stringify({ seq: this.nextSeq, kind, data } satisfies RunEvent) + '\n';
  }

  private write(line: string, bytes: number): void {
    this.nextSeq++;
    if (this.failure) return;
    this.appendedBytes += bytes;
    // The stream writes in order and calls back in order, so `written` always ends on a line's end.
    this.file.write(line, (err) => {
      if (err) return;
      this.written += bytes;
      this.wake();
    });
  }

  private drop(reason: DropReason): false {
    this.droppedCount++;
    if (this.droppedCount === 1) {
      const { maxCodexEvents, maxBytes, maxLineBytes } = this.limits;
      const line = this.line('run', { type: TRUNCATED_EVENT_TYPE, reason, max_events: maxCodexEvents, max_bytes: maxBytes, max_line_bytes: maxLineBytes });
      this.write(line, Buffer.byteLength(line));
    }
    this.onDropped?.(this.droppedCount);
    return false;
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }
}

/**
 * A lifecycle event carries the run, whose final message came from one Codex line: readers allow
 * lines of twice the Codex cap and some room, so they never skip what the writer stored.
 */
export function readerLineBytes(maxLineBytes: number): number {
  return 2 * maxLineBytes + 64 * 1024;
}

/** Replays the events of a run that has ended from its file; a run without a file has none. */
export async function* replayEventFile(path: string, afterSeq: number, maxLineBytes: number, signal?: AbortSignal): AsyncGenerator<RunEvent> {
  let sizeBytes: number;
  try {
    sizeBytes = (await stat(path)).size;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  yield* readEvents(path, finishedExtent(sizeBytes), { afterSeq, signal, maxLineBytes: readerLineBytes(maxLineBytes) });
}
