// A completion webhook still pending when the server stops is sent again by the next start on the
// same data dir: the real server process, a real run, a receiver on loopback.
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SIGNATURE_HEADER, TIMESTAMP_HEADER, verifyWebhook } from '../server/webhooks/webhook-signature.js';
import { scriptMarker, startResponsesStandIn, STAND_IN_MODEL, type ResponsesStandIn } from './fixtures/responses-stand-in.js';
import { startServerProcess, type ServerProcess } from './fixtures/server-process.js';

const SECRET = 'whsec-restart-0123456789';
const TOKEN = `tok-hooks-${randomBytes(6).toString('hex')}`;

let standIn: ResponsesStandIn;
let receiver: Server;
let base: string;
let accepting = false;
const received: { path: string; body: string; headers: Record<string, string | string[] | undefined> }[] = [];

beforeAll(async () => {
  standIn = await startResponsesStandIn();
  receiver = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    received.push({ path: req.url ?? '', body: Buffer.concat(chunks).toString(), headers: req.headers });
    res.writeHead(accepting ? 200 : 503).end();
  });
  receiver.listen(0, '127.0.0.1');
  await once(receiver, 'listening');
  base = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await standIn?.close();
  receiver?.close();
});

const config = () => ({
  providers: { standin: { base_url: standIn.url, key_env: 'STANDIN_KEY' } },
  defaults: { provider: 'standin', model: STAND_IN_MODEL },
  // A failed first attempt waits a minute for its retry: the stop comes long before it.
  webhooks: { first_backoff_ms: 60_000 },
  tenants: [{ name: 'hooks', token_sha256: createHash('sha256').update(TOKEN).digest('hex'), webhook_prefixes: [`${base}/hooks/`], webhook_secret_env: 'HOOKS_SECRET' }],
});
const ENV = { STANDIN_KEY: 'sk-webhook-restart', HOOKS_SECRET: SECRET };

describe('a webhook pending at a shutdown', () => {
  it('is sent again, signed, by the next start on the same data dir', async () => {
    let first: ServerProcess | undefined = await startServerProcess(config(), ENV);
    let second: ServerProcess | undefined;
    const api = (server: ServerProcess, pathname: string, init: RequestInit = {}) =>
      server.api(pathname, { ...init, headers: { ...init.headers, authorization: `Bearer ${TOKEN}` } });
    try {
      standIn.script('hook-restart', [{ exec: 'echo hi' }, { message: 'hooked across a restart' }]);
      const res = await api(first, '/v1/runs?wait=1', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ prompt: `${scriptMarker('hook-restart')} go`, options: { webhook_url: `${base}/hooks/restart` } }),
      });
      const ended: any = await res.json();
      expect(ended.status).toBe('succeeded');
      await expect.poll(() => received.length, { timeout: 15_000 }).toBe(1);
      expect(((await (await api(first, `/v1/runs/${ended.id}`)).json()) as any).webhook).toMatchObject({ state: 'pending' });

      await first.stop();
      accepting = true;
      second = await startServerProcess(config(), ENV, first.resume);
      first = undefined;

      let webhook: any;
      await expect
        .poll(async () => (webhook = ((await (await api(second!, `/v1/runs/${ended.id}`)).json()) as any).webhook).state, { timeout: 20_000 })
        .toBe('delivered');
      expect(webhook).toMatchObject({ url: `${base}/hooks/restart`, attempts: 1, last_error: null });
      expect(received).toHaveLength(2);
      const hook = received[1]!;
      expect(hook.path).toBe('/hooks/restart');
      expect(JSON.parse(hook.body)).toMatchObject({ id: ended.id, status: 'succeeded', final_message: 'hooked across a restart' });
      expect(verifyWebhook(SECRET, Number(hook.headers[TIMESTAMP_HEADER]), hook.body, String(hook.headers[SIGNATURE_HEADER]))).toBe(true);
    } finally {
      if (second) await second.close();
      else if (first) await first.close();
    }
  }, 180_000);
});
