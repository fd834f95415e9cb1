// Completion webhooks from a real server after real runs, to a receiver on loopback: signed, retried
// after a failure, and never sent outside the tenant's allowed prefixes.
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SIGNATURE_HEADER, TIMESTAMP_HEADER, verifyWebhook } from '../server/webhooks/webhook-signature.js';
import { startHarness, type Harness } from './fixtures/harness.js';

const SECRET = 'whsec-test-0123456789';
const TOKEN = 'token-hooks';

interface Received {
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
}

let h: Harness;
let receiver: Server;
let base: string;
const received: Received[] = [];
/** Status codes the receiver answers with, in turn; 200 once they run out. */
const answers: number[] = [];

beforeAll(async () => {
  receiver = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    received.push({ path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString() });
    res.writeHead(answers.shift() ?? 200).end();
  });
  receiver.listen(0, '127.0.0.1');
  await once(receiver, 'listening');
  base = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  h = await startHarness(
    {
      webhooks: { first_backoff_ms: 50 },
      tenants: [
        {
          name: 'hooks',
          token_sha256: createHash('sha256').update(TOKEN).digest('hex'),
          webhook_prefixes: [`${base}/hooks/`],
          webhook_secret_env: 'HOOKS_SECRET',
        },
        { name: 'unsigned', token_sha256: createHash('sha256').update('token-unsigned').digest('hex'), webhook_prefixes: [`${base}/hooks/`] },
      ],
    },
    { HOOKS_SECRET: SECRET },
  );
});
afterAll(async () => {
  await h?.close();
  receiver?.close();
});

async function run(options: object, token = TOKEN): Promise<Response> {
  return h.api('/v1/runs?wait=1', {
    method: 'POST',
    token,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ prompt: h.prompt([{ exec: 'echo hi' }, { message: 'hooked' }]), options }),
  });
}

async function webhookOf(id: string, state: string): Promise<any> {
  let view: any;
  await expect.poll(async () => (view = (await (await h.api(`/v1/runs/${id}`, { token: TOKEN })).json()) as any).webhook.state, { timeout: 15_000 }).toBe(state);
  return view.webhook;
}

describe('completion webhooks', () => {
  it('posts the ended run, signed over its timestamp, to a URL under the tenant\'s prefix', async () => {
    received.length = 0;
    const res = await run({ webhook_url: `${base}/hooks/ci?build=7` });
    const ended: any = await res.json();
    expect(ended.status).toBe('succeeded');
    expect(await webhookOf(ended.id, 'delivered')).toEqual({ url: `${base}/hooks/ci?build=7`, state: 'delivered', attempts: 1, last_error: null });
    expect(received).toHaveLength(1);
    const [hook] = received;
    expect(hook!.path).toBe('/hooks/ci?build=7');
    expect(hook!.headers['x-codex-runner-event']).toBe('run.succeeded');
    const body = JSON.parse(hook!.body);
    expect(body).toMatchObject({ id: ended.id, status: 'succeeded', final_message: 'hooked' });
    expect(verifyWebhook(SECRET, Number(hook!.headers[TIMESTAMP_HEADER]), hook!.body, String(hook!.headers[SIGNATURE_HEADER]))).toBe(true);
  });

  it('retries a delivery the receiver failed, with backoff, until it is taken', async () => {
    received.length = 0;
    answers.push(500, 503);
    const ended: any = await (await run({ webhook_url: `${base}/hooks/retry` })).json();
    expect(await webhookOf(ended.id, 'delivered')).toMatchObject({ state: 'delivered', attempts: 3 });
    expect(received).toHaveLength(3);
    expect(new Set(received.map((r) => r.headers['x-codex-runner-delivery'])).size).toBe(1);
  });

  it('refuses a webhook_url outside the prefixes, or a tenant without a secret, before the run starts', async () => {
    received.length = 0;
    for (const url of [`${base}/other`, `${base}/hooksevil`, 'http://169.254.169.254/latest/meta-data/', `http://127.0.0.1:1/hooks/`]) {
      const res = await run({ webhook_url: url });
      expect(res.status, url).toBe(400);
      expect(((await res.json()) as any).error).toMatchObject({ code: 'invalid_options', message: expect.stringMatching(/not under an allowed prefix/) });
    }
    const unsigned = await run({ webhook_url: `${base}/hooks/x` }, 'token-unsigned');
    expect(unsigned.status).toBe(400);
    expect(((await unsigned.json()) as any).error.message).toMatch(/cannot be sent for this tenant: no webhook_secret_env/);
    // Default tenant config without prefixes: no webhooks at all.
    expect(received).toHaveLength(0);
  });
});
