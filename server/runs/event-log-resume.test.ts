import { appendFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { resumeEventFile } from './event-log-resume.js';
import { EventLog, type EventLogLimits, type RunEvent } from './event-log.js';

const limits: EventLogLimits = { maxCodexEvents: 3, maxBytes: 64 * 1024 * 1024, maxLineBytes: 1024 * 1024 };

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'event-log-resume-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function events(log: EventLog): Promise<RunEvent[]> {
  const out: RunEvent[] = [];
  for await (const e of log.read()) out.push(e);
  return out;
}

describe('resumeEventFile', () => {
  it('finds nothing to resume where there is no file', async () => {
    expect(await resumeEventFile(path.join(dir, 'none.jsonl'))).toBeNull();
  });

  it('goes on after the last seq, counting the Codex events already stored', async () => {
    const file = path.join(dir, 'events.jsonl');
    const before = new EventLog(file, limits);
    before.append('run', { type: 'run.queued' });
    before.append('codex', { type: 'thread.started', pad: 'x'.repeat(100_000) });
    before.append('codex', { type: 'turn.started' });
    await before.close();
    const start = await resumeEventFile(file);
    expect(start).toMatchObject({ nextSeq: 4, codexEvents: 2, truncated: false });
    const after = new EventLog(file, limits, undefined, start!);
    after.append('codex', { type: 'item' });
    // The third Codex event was stored before the restart: this one is past max_events.
    expect(after.append('codex', { type: 'item' })).toBe(false);
    after.append('run', { type: 'run.failed' });
    await after.close();
    const seqs = (await events(after)).map((e) => [e.seq, e.kind, (e.data as { type: string }).type]);
    expect(seqs).toEqual([
      [1, 'run', 'run.queued'],
      [2, 'codex', 'thread.started'],
      [3, 'codex', 'turn.started'],
      [4, 'codex', 'item'],
      [5, 'run', 'run.events_truncated'],
      [6, 'run', 'run.failed'],
    ]);
  });

  it('cuts off a line the server died in the middle of writing', async () => {
    const file = path.join(dir, 'events.jsonl');
    await writeFile(file, '{"seq":1,"kind":"run","data":{"type":"run.queued"}}\n');
    await appendFile(file, '{"seq":2,"kind":"codex","data":{"type":"thr');
    const start = await resumeEventFile(file);
    expect(start).toMatchObject({ nextSeq: 2, codexEvents: 0, bytes: 52 });
    expect(await readFile(file, 'utf8')).toBe('{"seq":1,"kind":"run","data":{"type":"run.queued"}}\n');
  });

  it('knows a file that already holds its truncation mark', async () => {
    const file = path.join(dir, 'events.jsonl');
    const before = new EventLog(file, { ...limits, maxCodexEvents: 0 });
    before.append('codex', { type: 'x' });
    await before.close();
    const start = await resumeEventFile(file);
    expect(start).toMatchObject({ nextSeq: 2, truncated: true });
    const after = new EventLog(file, { ...limits, maxCodexEvents: 0 }, undefined, start!);
    after.append('codex', { type: 'y' });
    await after.close();
    expect((await events(after)).map((e) => e.seq)).toEqual([1]);
  });
});
