import { open, type FileHandle } from 'node:fs/promises';
import { LineCutter } from './line-cutter.js';

export type RunEventKind = 'codex' | 'run' | 'setup' | 'egress';

/**
 * An event as the events file holds it: the log stores what it is given. The run service gives it
 * only what the wire's schema allows, so its readers get a RunStreamEvent (runs/run-wire.ts).
 */
export interface RunEvent {
  seq: number;
  kind: RunEventKind;
  data: unknown;
}

/** How far an events file may be read: its writer's view, or a finished file's size. */
export interface EventFileExtent {
  /** Bytes from the start that hold whole lines only; a reader never reads past them. */
  readonly committedBytes: number;
  /** True once committedBytes is final. */
  readonly ended: boolean;
  /** Resolves when committedBytes or ended changes, or when the signal aborts. */
  changed(signal?: AbortSignal): Promise<void>;
}

export interface ReadEventsOptions {
  afterSeq?: number;
  signal?: AbortSignal;
  /** A longer line is skipped unread (the writer never writes one; this bounds a reader's memory). */
  maxLineBytes: number;
}

/** Small on purpose: a reader whose client does not read holds one chunk and the lines cut from it. */
const CHUNK_BYTES = 16 * 1024;
/** The writer puts seq first, so events before a resume point are skipped without parsing them. */
const SEQ_PREFIX = /^\{"seq":(\d+),/;

/**
 * The events of a file with seq > afterSeq, read a chunk at a time only as the consumer asks for
 * more, following the file's extent until it has ended (or the signal aborts).
 */
export async function* readEvents(path: string, extent: EventFileExtent, options: ReadEventsOptions): AsyncGenerator<RunEvent> {
  const { afterSeq = 0, signal } = options;
  const cutter = new LineCutter(options.maxLineBytes);
  const lines: string[] = [];
  const sink = { line: (text: string) => text && lines.push(text), oversized: () => {} };
  const buffer = Buffer.allocUnsafe(CHUNK_BYTES);
  let handle: FileHandle | null = null;
  let position = 0;
  try {
    while (!signal?.aborted) {
      const available = extent.committedBytes - position;
      if (available <= 0) {
        if (extent.ended) return;
        await extent.changed(signal);
        continue;
      }
      // Opened only once there is something to read: the writer creates the file asynchronously.
      handle ??= await open(path, 'r');
      const { bytesRead } = await handle.read(buffer, 0, Math.min(CHUNK_BYTES, available), position);
      if (bytesRead === 0) throw new Error(`events file ${path} is shorter than its writer says`);
      position += bytesRead;
      cutter.push(buffer.subarray(0, bytesRead), sink);
      for (const line of lines.splice(0)) {
        const seq = SEQ_PREFIX.exec(line)?.[1];
        if (seq !== undefined && Number(seq) <= afterSeq) continue;
        const event = parseLine(line);
        if (event) yield event;
        if (signal?.aborted) return;
      }
    }
  } finally {
    await handle?.close();
  }
}

/** A line the writer never finished (the disk filled, the server died) is skipped, not fatal to the stream. */
function parseLine(line: string): RunEvent | null {
  try {
    return JSON.parse(line) as RunEvent;
  } catch {
    return null;
  }
}

/** The extent of a file that no one writes any more. */
export function finishedExtent(sizeBytes: number): EventFileExtent {
  return { committedBytes: sizeBytes, ended: true, changed: () => Promise.resolve() };
}
