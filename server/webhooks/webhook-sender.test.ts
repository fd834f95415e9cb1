import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { WebhookSender, type DeliveryOutcome } from './webhook-sender.js';
import { SIGNATURE_HEADER, TIMESTAMP_HEADER, verifyWebhook } from './webhook-signature.js';

const log = pino({ level: 'silent' });
const delivery = { runId: 'run_1', url: 'http://127.0.0.1:9/hook', secret: 's3cret', event: 'run.succeeded', body: '{"id":"run_1"}' };

function sender(answers: (number | Error)[]) {
  const seen: Request[] = [];
  const fetchFn = (async (url: string, init: RequestInit) => {
    seen.push(new Request(url, init));
    const answer = answers.shift() ?? 200;
    if (answer instanceof Error) throw answer;
    return new Response(answer === 204 ? null : 'ok', { status: answer });
  }) as unknown as typeof fetch;
  return { seen, s: new WebhookSender({ maxAttempts: 4, timeoutMs: 1000, firstBackoffMs: 1, log, fetch: fetchFn }) };
}

function send(s: WebhookSender): Promise<DeliveryOutcome> {
  return new Promise((resolve) => s.send(delivery, resolve));
}

describe('WebhookSender', () => {
  it('posts the body signed over its timestamp, without following redirects', async () => {
    const { seen, s } = sender([200]);
    expect(await send(s)).toEqual({ state: 'delivered', attempts: 1, lastError: null });
    const req = seen[0]!;
    expect(req.method).toBe('POST');
    expect(req.redirect).toBe('manual');
    expect(req.headers.get('x-codex-runner-event')).toBe('run.succeeded');
    const body = await req.text();
    expect(body).toBe(delivery.body);
    expect(verifyWebhook('s3cret', Number(req.headers.get(TIMESTAMP_HEADER)), body, req.headers.get(SIGNATURE_HEADER)!)).toBe(true);
    expect(verifyWebhook('other', Number(req.headers.get(TIMESTAMP_HEADER)), body, req.headers.get(SIGNATURE_HEADER)!)).toBe(false);
  });

  it('retries a network error, a 5xx and a 429, then delivers, with one delivery id', async () => {
    const { seen, s } = sender([new Error('ECONNREFUSED'), 503, 429, 204]);
    expect(await send(s)).toEqual({ state: 'delivered', attempts: 4, lastError: null });
    expect(new Set(seen.map((r) => r.headers.get('x-codex-runner-delivery'))).size).toBe(1);
  });

  it('gives up after max attempts, and at once on a 4xx refusal or a redirect', async () => {
    expect(await send(sender([500, 500, 500, 500, 200]).s)).toEqual({ state: 'failed', attempts: 4, lastError: 'HTTP 500' });
    expect(await send(sender([404]).s)).toEqual({ state: 'failed', attempts: 1, lastError: 'HTTP 404' });
    expect(await send(sender([302]).s)).toEqual({ state: 'failed', attempts: 1, lastError: 'HTTP 302' });
  });

  it('abandons pending deliveries on close', async () => {
    const { s } = sender([500, 500, 500, 500]);
    let told = false;
    s.send(delivery, () => (told = true));
    await s.close();
    expect(told).toBe(false);
  });
});
