import { stat } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSse, startHarness, type Harness } from './fixtures/harness.js';

const LOG_CAP_MB = 16;
const LINE_CAP_KB = 256;
const STREAMS_PER_TENANT = 100;
const FLOOD_LINES = 30_000;
/** One flood line is ~930 bytes: 30 000 of them are ~28 MB, well past the log's cap. */
const PAD = 'f'.repeat(900);

let h: Harness;
beforeAll(async () => {
  h = await startHarness({
    limits: { run_max_event_log_mb: LOG_CAP_MB, event_line_max_kb: LINE_CAP_KB, max_event_streams_per_tenant: STREAMS_PER_TENANT },
  });
});
afterAll(async () => {
  await h?.close();
});

// Codex is the only process named codex; the command's own stdout is a pipe to Codex, not Codex's stdout.
const FIND_CODEX = 'P=$(for p in /proc/[0-9]*; do [ "$(cat $p/comm 2>/dev/null)" = codex ] && echo ${p#/proc/}; done | head -n 1); test -n "$P"';
const FLOOD = [
  FIND_CODEX,
  // One line 12 times the line cap: the splitter must skip it, not hold it.
  `{ head -c ${12 * LINE_CAP_KB * 1024} /dev/zero | tr '\\0' a; echo; } > /proc/$P/fd/1`,
  `yes '{"type":"flood","pad":"${PAD}"}' | head -n ${FLOOD_LINES} > /proc/$P/fd/1`,
  'echo flooded',
].join(' && ');

let flooded: any;
const floodedRun = async () => {
  flooded ??= await (await h.createRun({ prompt: h.prompt([{ exec: FLOOD }, { message: 'done flooding' }]), wait: true })).json();
  return flooded;
};

describe('a command that floods Codex stdout', () => {
  it('ends with the event log capped, the run reporting the dropped events, and the outcome intact', async () => {
    const run = await floodedRun();
    expect(run).toMatchObject({ status: 'succeeded', final_message: 'done flooding', events_truncated: true });
    const file = path.join(h.dataDir, 'runs', run.id, 'events.jsonl');
    // The cap, plus the lifecycle events that are always stored.
    expect((await stat(file)).size).toBeLessThan(LOG_CAP_MB * 1024 * 1024 + 64 * 1024);

    const events = await readSse(await h.api(`/v1/runs/${run.id}/events`));
    expect(events.every((e, i) => Number(e.id) === i + 1)).toBe(true);
    const stored = events.filter((e) => e.data.type === 'flood').length;
    expect(stored).toBeGreaterThan(1000);
    // Every flood line not stored, and the over-long line, are counted.
    expect(run.events_dropped).toBeGreaterThanOrEqual(FLOOD_LINES + 1 - stored);
    const truncated = events.find((e) => e.data.type === 'run.events_truncated');
    expect(truncated).toMatchObject({ event: 'run', data: { reason: 'line_too_long' } });
    expect(events.at(-1)!.data).toMatchObject({ type: 'run.succeeded', run: { events_truncated: true, events_dropped: run.events_dropped } });
  });
});

/** Opens the run's event stream on a raw socket that never reads what the server sends. */
function openUnread(runId: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const { hostname, port } = new URL(h.url);
    const socket = connect({ host: hostname, port: Number(port) }, () => {
      socket.pause();
      socket.write(`GET /v1/runs/${runId}/events HTTP/1.1\r\nHost: ${hostname}\r\nAuthorization: Bearer ${h.token}\r\n\r\n`);
      resolve(socket);
    });
    socket.on('error', reject);
  });
}

async function until(what: string, check: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const streams = () => h.server.service.eventStreams('default');
/** What the heap holds after a full collection (vitest.config.ts runs workers with --expose-gc). */
const heapBytes = () => {
  (globalThis as { gc?: () => void }).gc?.();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
};

describe('clients that never read', () => {
  it(`hold little server memory: ${STREAMS_PER_TENANT} of them on a ${LOG_CAP_MB} MB log, and release their streams when they leave`, async () => {
    const run = await floodedRun();
    const before = heapBytes();
    const sockets = await Promise.all(Array.from({ length: STREAMS_PER_TENANT }, () => openUnread(run.id)));
    try {
      await until('every stream to open', () => streams() === STREAMS_PER_TENANT);
      let peak = 0;
      // Sampled while the streams are stuck on their full sockets; reading the log whole would be > 1.6 GB.
      for (let i = 0; i < 40; i++) {
        peak = Math.max(peak, heapBytes() - before);
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(streams()).toBe(STREAMS_PER_TENANT);
      expect(peak).toBeLessThan(64 * 1024 * 1024);
    } finally {
      for (const s of sockets) s.destroy();
    }
    await until('the streams to be released', () => streams() === 0);
  });

  it('answers 429 too_many_streams past the tenant cap, and takes new streams once the others are gone', async () => {
    const run = await floodedRun();
    const sockets = await Promise.all(Array.from({ length: STREAMS_PER_TENANT }, () => openUnread(run.id)));
    try {
      await until('every stream to open', () => streams() === STREAMS_PER_TENANT);
      const refused = await h.api(`/v1/runs/${run.id}/events`);
      expect(refused.status).toBe(429);
      expect(await refused.json()).toMatchObject({ error: { code: 'too_many_streams' } });
    } finally {
      for (const s of sockets) s.destroy();
    }
    await until('the streams to be released', () => streams() === 0);
    const again = await h.api(`/v1/runs/${run.id}/events`);
    expect(again.status).toBe(200);
    expect((await readSse(again)).at(-1)!.data.type).toBe('run.succeeded');
  });
});

describe('a live run', () => {
  it('gives back the stream of a client that leaves before the run ends', async () => {
    const created: any = await (await h.createRun({ prompt: h.prompt([{ exec: 'sleep 4' }, { message: 'slept' }]) })).json();
    const socket = await openUnread(created.id);
    try {
      await until('the stream to open', () => streams() === 1);
    } finally {
      socket.destroy();
    }
    await until('the stream to be released', () => streams() === 0);
    expect((await h.server.service.get('default', created.id))?.status).toMatch(/queued|running/);
    expect((await h.waitForEnd(created.id)).status).toBe('succeeded');
  });
});
