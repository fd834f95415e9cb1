import { appendFile, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EventLog, TRUNCATED_EVENT_TYPE, type EventLogLimits, type RunEvent } from './event-log.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'event-log-limits-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const roomy: EventLogLimits = { maxCodexEvents: 1_000_000, maxBytes: 1024 * 1024 * 1024, maxLineBytes: 1024 * 1024 };

async function collect(it: AsyncIterable<RunEvent>): Promise<RunEvent[]> {
  const events: RunEvent[] = [];
  for await (const e of it) events.push(e);
  return events;
}

async function fileLines(file: string): Promise<RunEvent[]> {
  return (await readFile(file, 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
}

describe('EventLog limits', () => {
  it('stores at most maxCodexEvents Codex events, counts the rest, notes it once, and keeps storing lifecycle events', async () => {
    const file = path.join(dir, 'events.jsonl');
    const counts: number[] = [];
    const log = new EventLog(file, { ...roomy, maxCodexEvents: 3 }, (n) => counts.push(n));
    log.append('run', { type: 'run.started' });
    const stored = Array.from({ length: 6 }, (_, i) => log.append('codex', { type: 'x', i }));
    log.append('run', { type: 'run.succeeded' });
    await log.close();
    expect(stored).toEqual([true, true, true, false, false, false]);
    expect(log.dropped).toBe(3);
    expect(counts).toEqual([1, 2, 3]);
    const events = await fileLines(file);
    expect(events.map((e) => (e.data as any).type)).toEqual(['run.started', 'x', 'x', 'x', TRUNCATED_EVENT_TYPE, 'run.succeeded']);
    expect(events.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(events[4]).toMatchObject({ kind: 'run', data: { reason: 'max_events', max_events: 3 } });
  });

  it('stops storing Codex events once the file would pass maxBytes, even smaller ones after', async () => {
    const file = path.join(dir, 'events.jsonl');
    const log = new EventLog(file, { ...roomy, maxBytes: 10_000 });
    const pad = 'p'.repeat(100);
    for (let i = 0; i < 1000; i++) log.append('codex', { type: 'x', pad });
    expect(log.append('codex', {})).toBe(false);
    log.append('run', { type: 'run.succeeded' });
    await log.close();
    const codexBytes = (await fileLines(file)).filter((e) => e.kind === 'codex').reduce((n, e) => n + JSON.stringify(e).length + 1, 0);
    expect(codexBytes).toBeLessThanOrEqual(10_000);
    expect((await stat(file)).size).toBeLessThan(10_000 + 1024);
    expect(log.dropped).toBeGreaterThan(900);
  });

  it('drops a Codex event whose line is over maxLineBytes, and counts lines the splitter cut', async () => {
    const file = path.join(dir, 'events.jsonl');
    const log = new EventLog(file, { ...roomy, maxLineBytes: 200 });
    expect(log.append('codex', { type: 'big', text: 'b'.repeat(300) })).toBe(false);
    expect(log.append('codex', { type: 'small' })).toBe(true);
    log.countDropped('line_too_long');
    await log.close();
    expect(log.dropped).toBe(2);
    const events = await fileLines(file);
    expect(events.map((e) => (e.data as any).type)).toEqual([TRUNCATED_EVENT_TYPE, 'small']);
    expect(events[0]!.data).toMatchObject({ reason: 'line_too_long' });
  });

  it('lets a live reader follow the file without ever seeing a partial line', async () => {
    const log = new EventLog(path.join(dir, 'events.jsonl'), roomy);
    const reading = collect(log.read());
    const text = 'é'.repeat(5000);
    for (let round = 0; round < 20; round++) {
      for (let i = 0; i < 50; i++) log.append('codex', { round, i, text });
      await log.ready();
      await new Promise((r) => setImmediate(r));
    }
    await log.close();
    const events = await reading;
    expect(events.map((e) => e.seq)).toEqual(Array.from({ length: 1000 }, (_, i) => i + 1));
    expect(events.every((e) => (e.data as any).text === text)).toBe(true);
  });

  it('asks the producer to wait while the file has a backlog', async () => {
    const log = new EventLog(path.join(dir, 'events.jsonl'), roomy);
    expect(log.ready()).toBeNull();
    for (let i = 0; i < 100; i++) log.append('codex', { pad: 'x'.repeat(1000) });
    const wait = log.ready();
    expect(wait).toBeInstanceOf(Promise);
    await wait;
    expect(log.committedBytes).toBeGreaterThan(0);
    await log.close();
  });
});

describe('reading with backpressure', () => {
  it('holds little per reader that does not read on, for a finished and for a live log', async () => {
    const file = path.join(dir, 'events.jsonl');
    const log = new EventLog(file, roomy);
    const pad = 'p'.repeat(1000);
    for (let i = 0; i < 16_000; i++) {
      log.append('codex', { i, pad });
      if (i % 1000 === 0) await log.ready();
    }
    const liveReaders = Array.from({ length: 50 }, () => log.read());
    await Promise.all(liveReaders.map((r) => r.next()));
    await log.close();
    expect((await stat(file)).size).toBeGreaterThan(16 * 1024 * 1024);

    const before = process.memoryUsage();
    const readers = Array.from({ length: 100 }, () => log.read());
    await Promise.all(readers.map((r) => r.next()));
    await Promise.all(liveReaders.map((r) => r.next()));
    await new Promise((r) => setTimeout(r, 500));
    const after = process.memoryUsage();
    // 150 readers of a 16 MB file: reading it whole would be > 2.4 GB; a reader holds one 16 KiB chunk.
    expect(after.heapUsed + after.arrayBuffers - before.heapUsed - before.arrayBuffers).toBeLessThan(32 * 1024 * 1024);
    for (const r of [...readers, ...liveReaders]) await r.return(undefined);
  });

  it('ends a reader that is waiting for appends when its signal aborts, and one that is between events', async () => {
    const log = new EventLog(path.join(dir, 'events.jsonl'), roomy);
    log.append('run', {});
    log.append('run', {});
    const waiting = new AbortController();
    const between = new AbortController();
    const a = log.read(0, waiting.signal);
    const b = log.read(0, between.signal);
    expect((await a.next()).value?.seq).toBe(1);
    expect((await b.next()).value?.seq).toBe(1);
    between.abort();
    expect(await b.next()).toMatchObject({ done: true });
    expect((await a.next()).value?.seq).toBe(2);
    const pending = a.next();
    waiting.abort();
    expect(await pending).toMatchObject({ done: true });
    await log.close();
  });

  it('resumes after a seq from the file of an ended run, skips a line left half-written, and a missing file has no events', async () => {
    const { replayEventFile } = await import('./event-log.js');
    const file = path.join(dir, 'events.jsonl');
    const log = new EventLog(file, roomy);
    for (let i = 0; i < 2000; i++) log.append('codex', { i });
    await log.close();
    const seqs = (await collect(replayEventFile(file, 1990, roomy.maxLineBytes))).map((e) => e.seq);
    expect(seqs).toEqual([1991, 1992, 1993, 1994, 1995, 1996, 1997, 1998, 1999, 2000]);
    expect(await collect(replayEventFile(path.join(dir, 'none.jsonl'), 0, roomy.maxLineBytes))).toEqual([]);
    await appendFile(file, '{"seq":2001,"kind":"co');
    expect((await collect(replayEventFile(file, 1999, roomy.maxLineBytes))).map((e) => e.seq)).toEqual([2000]);
  });
});
