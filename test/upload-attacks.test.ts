import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closedByServer, multipartBody, rawConnection, streamUntilAnswered } from './fixtures/raw-http.js';
import { startServerProcess, type ServerProcess } from './fixtures/server-process.js';
import { scriptMarker, startResponsesStandIn, STAND_IN_MODEL, type ResponsesStandIn } from './fixtures/responses-stand-in.js';
import { ATTACK_PEAK_RSS_BOUND_BYTES, ATTACK_SERVER_CONFIG, uploadAttacks } from './fixtures/upload-attacks.js';

const MiB = 1024 * 1024;

describe('the real server process survives each upload attack', () => {
  let server: ServerProcess;
  beforeAll(async () => {
    server = await startServerProcess(ATTACK_SERVER_CONFIG);
  });
  afterAll(async () => {
    await server?.close();
  });

  for (const attack of uploadAttacks) {
    it(`${attack.name}: answered, alive and serving afterwards, nothing spooled`, async () => {
      await attack.run(server);
      expect(await server.alive()).toBe(true);
      const res = await server.api('/v1/runs/run_none');
      expect(res.status).toBe(404);
      // The spool is cleaned up as each refused request ends, dropped connections included.
      await expect.poll(() => server.spooledUploads(), { timeout: 10_000 }).toEqual([]);
    });
  }

  it('holds its peak memory under ATTACK_PEAK_RSS_BOUND_BYTES through every attack', async () => {
    const { peakRssBytes } = await server.memory();
    expect(peakRssBytes).toBeLessThan(ATTACK_PEAK_RSS_BOUND_BYTES);
  });

  it('logs no error for a client that went away', () => {
    const errors = server.logs().filter((l) => l.level >= 50);
    expect(errors.map((e) => e.msg)).toEqual([]);
  });
});

/**
 * Cancels the run and waits until its slot is free: a cancelled run's end is answered before its
 * sandbox is removed, and the slot is held until then (the next run of a one-slot server would be
 * refused 429 meanwhile).
 */
async function cancelAndFreeTheSlot(server: ServerProcess, runId: string): Promise<void> {
  await server.api(`/v1/runs/${runId}/cancel`, { method: 'POST' });
  await expect.poll(async () => ((await (await server.api('/readyz')).json()) as any).runs.running, { timeout: 30_000 }).toBe(0);
}

describe('a server with a full queue refuses an upload before reading it', () => {
  let server: ServerProcess;
  let standIn: ResponsesStandIn;
  beforeAll(async () => {
    standIn = await startResponsesStandIn();
    server = await startServerProcess(
      {
        ...ATTACK_SERVER_CONFIG,
        limits: { ...ATTACK_SERVER_CONFIG.limits, max_concurrent_runs: 1, max_queued_runs: 0 },
        providers: { standin: { base_url: standIn.url, key_env: 'STANDIN_KEY' } },
        defaults: { provider: 'standin', model: STAND_IN_MODEL },
      },
      { STANDIN_KEY: 'sk-standin' },
    );
  });
  afterAll(async () => {
    await server?.close();
    await standIn?.close();
  });

  it('answers 429 while the workspace is still arriving', async () => {
    standIn.script('hold', [{ delayMs: 60_000, then: { message: 'done' } }]);
    const busy = await server.api('/v1/runs', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: `${scriptMarker('hold')} wait` }),
    });
    expect(busy.status).toBe(202);
    const run: any = await busy.json();
    try {
      const head = multipartBody('b', [{ name: 'prompt', body: 'x' }], { close: false });
      const workspaceHead = Buffer.from('--b\r\nContent-Disposition: form-data; name="workspace"; filename="w.tar"\r\n\r\n');
      const filler = Buffer.alloc(64 * 1024, 0);
      const answer = await streamUntilAnswered(
        server.url,
        { authorization: `Bearer ${server.token}`, 'content-type': 'multipart/form-data; boundary=b' },
        Buffer.concat([head, workspaceHead]),
        () => filler,
        256 * MiB,
      );
      expect(answer.status).toBe(429);
      expect(JSON.parse(answer.body).error.code).toBe('queue_full');
      // Socket buffers hold a few MiB; a server that spooled first would have taken all 256.
      expect(answer.sentBytes).toBeLessThan(32 * MiB);
    } finally {
      await cancelAndFreeTheSlot(server, run.id);
    }
    expect(await server.alive()).toBe(true);
  });

  it('keeps serving while 100 clients hold a live run\'s events unread, and frees their streams when they go', async () => {
    standIn.script('hold-events', [{ delayMs: 60_000, then: { message: 'done' } }]);
    const created = await server.api('/v1/runs', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: `${scriptMarker('hold-events')} wait` }),
    });
    expect(created.status, await created.clone().text()).toBe(202);
    const { id } = (await created.json()) as any;
    const get = `GET /v1/runs/${id}/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${server.token}\r\n\r\n`;
    const held = [];
    try {
      for (let i = 0; i < 100; i++) {
        const socket = await rawConnection(server.url, get);
        socket.pause(); // never read
        held.push(socket);
      }
      expect(await server.alive()).toBe(true);
      // The tenant's cap (limits.max_event_streams_per_tenant, 16) is taken by the first ones.
      await expect.poll(async () => (await server.api(`/v1/runs/${id}/events?after=999999`)).status, { timeout: 10_000 }).toBe(429);
      expect((await server.memory()).peakRssBytes).toBeLessThan(ATTACK_PEAK_RSS_BOUND_BYTES);
      for (const socket of held) socket.destroy();
      // Their streams are given back: a new client gets one (it stays open while the run lives).
      await expect
        .poll(async () => {
          const res = await server.api(`/v1/runs/${id}/events`, { signal: AbortSignal.timeout(2_000) }).catch(() => null);
          const status = res?.status ?? 0;
          await res?.body?.cancel();
          return status;
        }, { timeout: 10_000 })
        .toBe(200);
    } finally {
      for (const socket of held) socket.destroy();
      await cancelAndFreeTheSlot(server, id);
    }
    expect(await server.alive()).toBe(true);
  });
});

describe('slow and idle clients', () => {
  let server: ServerProcess;
  beforeAll(async () => {
    server = await startServerProcess({ ...ATTACK_SERVER_CONFIG, server: { headers_timeout_s: 2, request_timeout_s: 3, max_connections: 20 } });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('closes a connection whose headers never end', async () => {
    const socket = await rawConnection(server.url, 'GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ');
    await closedByServer(socket);
    expect(await server.alive()).toBe(true);
  });

  it('closes a connection whose body never ends', async () => {
    const socket = await rawConnection(
      server.url,
      `POST /v1/runs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${server.token}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"prompt":`,
    );
    await closedByServer(socket);
    expect(await server.alive()).toBe(true);
  });

  it('closes connections past max_connections as they arrive and keeps serving', async () => {
    const held = await Promise.all(Array.from({ length: 20 }, () => rawConnection(server.url, 'GET /healthz HTTP/1.1\r\nHost: x\r\n')));
    try {
      const extra = await rawConnection(server.url, 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
      await closedByServer(extra);
      expect(extra.bytesRead).toBe(0);
    } finally {
      for (const socket of held) socket.destroy();
    }
    await expect.poll(() => server.alive(), { timeout: 10_000 }).toBe(true);
  });
});
