import { describe, expect, it } from 'vitest';
import { parseSse } from './sse-events.js';
import { setupGateway } from './test-gateway.js';

const encoder = new TextEncoder();
const IDLE_MS = 100;

describe('the upstream idle deadline', () => {
  it('cuts a provider that sends no headers, answers 504 naming it and ends the run provider_timeout', async () => {
    let aborted = false;
    const { tokens, ended, grant, post } = setupGateway(
      (req) =>
        new Promise<Response>((_, reject) => {
          req.signal.addEventListener('abort', () => ((aborted = true), reject(req.signal.reason)));
        }),
      IDLE_MS,
    );
    const { token } = tokens.issue(grant());
    const res = await post(token);
    expect(res.status).toBe(504);
    expect(await res.json()).toEqual({ error: { code: 'gateway_timeout', message: 'provider openrouter did not answer within 0.1 s (gateway.upstream_idle_timeout_s)' } });
    expect(ended).toEqual([{ code: 'provider_timeout', message: 'provider openrouter did not answer within 0.1 s (gateway.upstream_idle_timeout_s)' }]);
    expect(aborted).toBe(true);
  });

  it('cuts a stream that goes silent, ending it with response.failed, even under a fetch that ignores the abort', async () => {
    let cancelled = false;
    const silent = new ReadableStream<Uint8Array>({
      start: (c) => c.enqueue(encoder.encode('event: response.created\ndata: {"type":"response.created"}\n\n')),
      cancel: () => void (cancelled = true),
    });
    const { tokens, ended, grant, post } = setupGateway(() => new Response(silent, { headers: { 'content-type': 'text/event-stream' } }), IDLE_MS);
    const g = grant();
    const { token } = tokens.issue(g);
    const events = parseSse(await (await post(token)).text());
    expect(events.map((e) => e.event)).toEqual(['response.created', 'response.failed']);
    const message = 'provider openrouter sent nothing for 0.1 s in the middle of its answer (gateway.upstream_idle_timeout_s)';
    expect(JSON.parse(events[1]!.data).response.error).toEqual({ type: 'upstream_error', code: 'provider_timeout', message });
    expect(ended).toEqual([{ code: 'provider_timeout', message }]);
    expect(cancelled).toBe(true);
  });

  it('does not count the time the sandbox takes to read: only the provider\'s silence', async () => {
    // More chunks than the streams between here and the reader buffer ahead: the rest are pulled only as it reads.
    const chunks = Array.from({ length: 12 }, (_, i) => `event: e${i}\ndata: {}\n\n`);
    const { tokens, ended, grant, post } = setupGateway(
      () => new Response(new ReadableStream<Uint8Array>({ pull: (c) => (chunks.length ? c.enqueue(encoder.encode(chunks.shift()!)) : c.close()) })),
      IDLE_MS,
    );
    const { token } = tokens.issue(grant());
    const reader = (await post(token)).body!.getReader();
    await reader.read();
    await new Promise((r) => setTimeout(r, IDLE_MS * 3));
    let text = '';
    for (let r = await reader.read(); !r.done; r = await reader.read()) text += new TextDecoder().decode(r.value);
    expect(text).toContain('event: e11');
    expect(text).not.toContain('response.failed');
    expect(ended).toEqual([]);
  });

  it('records a stream broken off as the run\'s provider fault, cleared by a completed answer', async () => {
    let n = 0;
    const { tokens, grant, post } = setupGateway(() => {
      if (n++ > 0) return new Response('event: response.completed\ndata: {"type":"response.completed","response":{"usage":{}}}\n\n');
      return new Response(new ReadableStream<Uint8Array>({ pull: (c) => c.error(new TypeError('terminated', { cause: { code: 'UND_ERR_SOCKET', message: 'other side closed' } })) }));
    });
    const g = grant();
    const { token } = tokens.issue(g);
    const events = parseSse(await (await post(token)).text());
    expect(JSON.parse(events.at(-1)!.data).response.error.code).toBe('provider_stream_broken');
    expect(g.lastFault).toEqual({ code: 'provider_error', message: 'provider openrouter broke off its answer mid-stream: other side closed (UND_ERR_SOCKET)' });
    await (await post(token)).text();
    expect(g.lastFault).toBeNull();
  });

  it('does not blame the provider for a stream cut because the sandbox hung up', async () => {
    const { tokens, grant, send } = setupGateway(
      (req) =>
        new Response(
          new ReadableStream<Uint8Array>({
            start: (c) => c.enqueue(encoder.encode('event: response.created\ndata: {}\n\n')),
            pull: (c) => new Promise<void>((resolve) => req.signal.addEventListener('abort', () => (c.error(new TypeError('terminated')), resolve()))),
          }),
        ),
    );
    const g = grant();
    const { token } = tokens.issue(g);
    const client = new AbortController();
    const res = await send(token, '/v1/responses', { method: 'POST', body: JSON.stringify({ model: 'm' }), headers: { 'content-type': 'application/json' }, signal: client.signal });
    const reader = res.body!.getReader();
    await reader.read();
    client.abort();
    for (let r = await reader.read().catch(() => ({ done: true })); !r.done; r = await reader.read().catch(() => ({ done: true }))) {}
    expect(g.lastFault ?? null).toBeNull();
  });
});
