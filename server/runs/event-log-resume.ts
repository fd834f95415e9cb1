import { open } from 'node:fs/promises';
import { TRUNCATED_EVENT_TYPE } from './event-log.js';

/** Where an events file left off: what a log that goes on writing it must start from. */
export interface EventLogStart {
  nextSeq: number;
  codexEvents: number;
  /** Bytes of whole lines; a partial last line (the server died mid-write) is cut off. */
  bytes: number;
  /** Whether the file already holds the truncation mark. */
  truncated: boolean;
}

const CHUNK_BYTES = 64 * 1024;
/** The writer puts seq and kind first: a line's head tells both without parsing the line. */
const HEAD_BYTES = 64;
const HEAD = /^\{"seq":(\d+),"kind":"(codex|run)"/;
const TRUNCATION_MARK = `{"type":"${TRUNCATED_EVENT_TYPE}"`;

/**
 * Reads an events file a run wrote before a restart, a chunk at a time, keeping only each line's
 * head, and cuts off a line it never finished. Null when there is no file.
 */
export async function resumeEventFile(path: string): Promise<EventLogStart | null> {
  let handle;
  try {
    handle = await open(path, 'r+');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  try {
    const start: EventLogStart = { nextSeq: 1, codexEvents: 0, bytes: 0, truncated: false };
    const buffer = Buffer.allocUnsafe(CHUNK_BYTES);
    let head = '';
    let lineStart = 0;
    let position = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, CHUNK_BYTES, position);
      if (bytesRead === 0) break;
      let from = 0;
      while (from < bytesRead) {
        const newline = buffer.indexOf(0x0a, from);
        const end = newline < 0 || newline >= bytesRead ? bytesRead : newline;
        if (head.length < HEAD_BYTES * 2) head += buffer.toString('latin1', from, Math.min(end, from + HEAD_BYTES * 2));
        if (end === bytesRead) break;
        const match = HEAD.exec(head);
        if (match) {
          start.nextSeq = Math.max(start.nextSeq, Number(match[1]) + 1);
          if (match[2] === 'codex') start.codexEvents++;
          else if (head.includes(TRUNCATION_MARK)) start.truncated = true;
        }
        lineStart = position + newline + 1;
        head = '';
        from = newline + 1;
      }
      position += bytesRead;
    }
    start.bytes = lineStart;
    if (lineStart < position) await handle.truncate(lineStart);
    return start;
  } finally {
    await handle.close();
  }
}
