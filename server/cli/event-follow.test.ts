import { describe, expect, it } from 'vitest';
import { ApiClient } from './api-client.js';
import { followEvents } from './event-follow.js';
import { CliError } from './exit-codes.js';

const sse = (seq: number, kind: string, data: object) => `id: ${seq}\nevent: ${kind}\ndata: ${JSON.stringify(data)}\n\n`;

/** A body that sends `text` and then, if `breakAfter`, fails as a dropped connection does. */
function body(text: string, breakAfter = false): ReadableStream<Uint8Array> {
  let sent = false;
  return new ReadableStream({
    pull(controller) {
      if (!sent) {
        sent = true;
        controller.enqueue(new TextEncoder().encode(text));
      } else if (breakAfter) controller.error(new TypeError('terminated'));
      else controller.close();
    },
  });
}

describe('followEvents', () => {
  it('resumes after the last event it saw, with Last-Event-ID, when the stream breaks, and ends at the terminal event', async () => {
    const asked: (string | null)[] = [];
    const answers = [
      () => new Response(body(sse(1, 'run', { type: 'run.queued' }) + sse(2, 'codex', { type: 'thread.started' }), true)),
      () => new Response(body(sse(2, 'codex', { type: 'thread.started' }) + sse(3, 'run', { type: 'run.succeeded', run: {} }) + sse(4, 'codex', { type: 'late' }))),
    ];
    const fetchImpl = (async (_url: string, init: RequestInit) => {
      asked.push(new Headers(init.headers).get('last-event-id'));
      return answers[asked.length - 1]!();
    }) as typeof fetch;
    const client = new ApiClient({ url: 'http://server', token: 't' }, fetchImpl);
    const seen = [];
    for await (const event of followEvents(client, 'run_1', { reconnectDelayMs: 0 })) seen.push(event);
    expect(asked).toEqual(['0', '2']);
    expect(seen.map((e) => [e.seq, e.kind, e.data.type])).toEqual([
      [1, 'run', 'run.queued'],
      [2, 'codex', 'thread.started'],
      [3, 'run', 'run.succeeded'],
    ]);
  });

  it('stops at an error answer instead of retrying it', async () => {
    const fetchImpl = (async () => Response.json({ error: { code: 'not_found', message: 'no run run_x' } }, { status: 404 })) as unknown as typeof fetch;
    const client = new ApiClient({ url: 'http://server', token: 't' }, fetchImpl);
    const events = followEvents(client, 'run_x', { reconnectDelayMs: 0 });
    await expect(events.next()).rejects.toThrow(new CliError(1, '404 not_found: no run run_x'));
  });
});

describe('ApiClient', () => {
  it('sends the token, and turns a refused token or an unreachable server into exit 5', async () => {
    let auth: string | null = null;
    const refused = new ApiClient({ url: 'http://server/', token: 'tok' }, (async (_url: string, init: RequestInit) => {
      auth = new Headers(init.headers).get('authorization');
      return Response.json({ error: { code: 'unauthorized', message: 'invalid bearer token' } }, { status: 401 });
    }) as typeof fetch);
    await expect(refused.request('/v1/runs')).rejects.toMatchObject({ exitCode: 5, message: '401 unauthorized: invalid bearer token' });
    expect(auth).toBe('Bearer tok');
    const down = new ApiClient({ url: 'http://server', token: 'tok' }, (async () => {
      throw new TypeError('fetch failed', { cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }) });
    }) as typeof fetch);
    await expect(down.request('/v1/runs')).rejects.toMatchObject({ exitCode: 5, message: 'cannot reach http://server: ECONNREFUSED' });
  });

  it('shows the start of an answer that is not the error envelope', async () => {
    const proxy = new ApiClient({ url: 'http://server', token: 'tok' }, (async () => new Response('<html>Bad Gateway</html>', { status: 502 })) as unknown as typeof fetch);
    await expect(proxy.request('/v1/runs')).rejects.toMatchObject({ exitCode: 1, message: '502: <html>Bad Gateway</html>' });
  });
});
