import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EventLog, type EventLogLimits, type RunEvent } from './event-log.js';

const limits: EventLogLimits = { maxCodexEvents: 100_000, maxBytes: 64 * 1024 * 1024, maxLineBytes: 1024 * 1024 };

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'event-log-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function collect(it: AsyncIterable<RunEvent>): Promise<number[]> {
  const seqs: number[] = [];
  for await (const e of it) seqs.push(e.seq);
  return seqs;
}

describe('EventLog', () => {
  it('gives a reader that joins late every event, then the live ones, and ends when the log closes', async () => {
    const log = new EventLog(path.join(dir, 'events.jsonl'), limits);
    log.append('run', { type: 'run.queued' });
    log.append('codex', { type: 'thread.started' });
    const reading = collect(log.read());
    await new Promise((r) => setTimeout(r, 5));
    log.append('codex', { type: 'turn.completed' });
    await log.close();
    expect(await reading).toEqual([1, 2, 3]);
  });

  it('replays a closed log from its file, after a given seq', async () => {
    const file = path.join(dir, 'events.jsonl');
    const log = new EventLog(file, limits);
    for (let i = 0; i < 5; i++) log.append('codex', { i });
    await log.close();
    expect(await collect(log.read())).toEqual([1, 2, 3, 4, 5]);
    expect(await collect(log.read(3))).toEqual([4, 5]);
  });

  it('keeps events in order for concurrent readers', async () => {
    const log = new EventLog(path.join(dir, 'events.jsonl'), limits);
    const a = collect(log.read());
    const b = collect(log.read());
    for (let i = 0; i < 100; i++) log.append('codex', { i });
    await log.close();
    const expected = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(await a).toEqual(expected);
    expect(await b).toEqual(expected);
  });

  it('stops a reader when its signal aborts', async () => {
    const log = new EventLog(path.join(dir, 'events.jsonl'), limits);
    log.append('run', {});
    const ac = new AbortController();
    const events = log.read(0, ac.signal);
    const seen: number[] = [];
    // Aborted once the first event is in hand (not after a fixed delay, which a loaded machine outlasts).
    for await (const event of events) {
      seen.push(event.seq);
      setTimeout(() => ac.abort(), 5);
    }
    expect(seen).toEqual([1]);
    await log.close();
  });

  it('refuses appends after close', async () => {
    const log = new EventLog(path.join(dir, 'events.jsonl'), limits);
    await log.close();
    expect(() => log.append('run', {})).toThrow(/closed/);
  });
});
