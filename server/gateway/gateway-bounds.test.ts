import { setImmediate as tick } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { completed, limits, setupGateway } from './test-gateway.js';

/** Lets the app run until `ready` holds (it reads bodies and reserves bytes between our steps). */
async function until(ready: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !ready(); i++) await tick();
  if (!ready()) throw new Error('the gateway never got there');
}

/** An upstream whose answers stay open until the test ends them. */
function heldUpstream() {
  const open: ReadableStreamDefaultController<Uint8Array>[] = [];
  const answer = () =>
    new Response(new ReadableStream<Uint8Array>({ start: (c) => void open.push(c) }), { headers: { 'content-type': 'text/event-stream' } });
  const finish = (i: number) => {
    open[i]!.enqueue(new TextEncoder().encode(completed(1)));
    open[i]!.close();
  };
  return { answer, open, finish };
}

/** The `error` of a gateway refusal. */
const errorOf = async (res: Response) => ((await res.json()) as { error: { code: string; message: string } }).error;

const kb = (n: number) => new Uint8Array(n * 1024).fill(0x20);

describe('gateway bounds', () => {
  it('refuses a run its third call in flight with 429 and Retry-After, and admits it once one ends', async () => {
    const up = heldUpstream();
    const { tokens, seen, grant, post, admission } = setupGateway(up.answer);
    const { token } = tokens.issue(grant());
    const first = await post(token);
    const second = await post(token);
    expect([first.status, second.status]).toEqual([200, 200]);

    const refused = await post(token);
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(await refused.json()).toEqual({ error: { code: 'rate_limited', message: `this run already has ${limits.maxInflightPerRun} provider calls in flight` } });
    expect(seen).toHaveLength(2);

    const other = tokens.issue(grant({ runId: 'r2' }));
    expect((await post(other.token)).status).toBe(200);

    up.finish(0);
    await first.text();
    await second.body!.cancel();
    expect(admission.held('r1')).toEqual({ inflight: 0, bytes: 0 });
    expect((await post(token)).status).toBe(200);
  });

  it('answers 413 for one body over the cap, declared or chunked, and forwards neither', async () => {
    const { tokens, seen, grant, post, postStream, admission } = setupGateway();
    const { token } = tokens.issue(grant());
    const big = { model: 'm', input: 'x'.repeat(limits.maxRequestBytes) };
    const declared = await post(token, big, '/v1/responses', { 'content-length': String(JSON.stringify(big).length) });
    expect(declared.status).toBe(413);
    expect((await errorOf(declared))).toEqual({ code: 'payload_too_large', message: `request body of ${JSON.stringify(big).length} bytes is over the gateway's limit of ${limits.maxRequestBytes}` });
    expect((await post(token, big)).status).toBe(413);

    const chunked = postStream(token);
    chunked.feed.enqueue(kb(3));
    chunked.feed.enqueue(kb(3));
    const res = await chunked.response;
    expect(res.status).toBe(413);
    await res.text();
    expect(seen).toHaveLength(0);
    expect(admission.held()).toEqual({ inflight: 0, bytes: 0 });
  });

  it("reserves a declared body before reading it and refuses what would pass the run's byte budget with 429", async () => {
    const up = heldUpstream();
    const { tokens, seen, grant, postStream, admission } = setupGateway(up.answer);
    const { token } = tokens.issue(grant());
    const body = JSON.stringify({ model: 'm', input: 'x'.repeat(3980) });
    const slow = postStream(token, { 'content-length': String(body.length) });
    await until(() => admission.held('r1').bytes === body.length);

    const second = postStream(token, { 'content-length': '3000' });
    const refused = await second.response;
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect((await errorOf(refused)).message).toMatch(`this run already has ${body.length} bytes of requests being read`);

    slow.feed.enqueue(new TextEncoder().encode(body));
    slow.feed.close();
    const res = await slow.response;
    expect(res.status).toBe(200);
    // Handed upstream: the bytes are free while the answer still streams.
    expect(admission.held('r1')).toEqual({ inflight: 1, bytes: 0 });
    up.finish(0);
    await res.text();
    expect(admission.held('r1')).toEqual({ inflight: 0, bytes: 0 });
    expect(seen).toHaveLength(1);
  });

  it('refuses with 429 once all runs together buffer the total budget, counting chunked bodies as they arrive', async () => {
    const { tokens, seen, grant, postStream, admission } = setupGateway();
    const streams = ['a', 'b'].map((runId) => postStream(tokens.issue(grant({ runId })).token));
    for (const s of streams) s.feed.enqueue(kb(4));
    await until(() => admission.held().bytes === 8 * 1024);

    const third = postStream(tokens.issue(grant({ runId: 'c' })).token);
    third.feed.enqueue(kb(3));
    const refused = await third.response;
    expect(refused.status).toBe(429);
    expect((await errorOf(refused)).message).toMatch(/as many request bytes as it may/);
    for (const s of streams) s.feed.error(new Error('gone'));
    for (const res of await Promise.all(streams.map((s) => s.response))) await res.text();
    expect(admission.held()).toEqual({ inflight: 0, bytes: 0 });
    expect(seen).toHaveLength(0);
  });

  it('releases what a client held when it hangs up mid-body, and does not call that 413', async () => {
    const { tokens, seen, grant, postStream, admission } = setupGateway();
    const { token } = tokens.issue(grant());
    const cut = postStream(token, { 'content-length': '4000' });
    cut.feed.enqueue(kb(1));
    await until(() => admission.held('r1').inflight === 1);
    cut.feed.error(new Error('aborted'));
    const res = await cut.response;
    expect(res.status).toBe(400);
    expect((await errorOf(res)).message).toMatch(/cut off after 1024 bytes/);
    expect(admission.held()).toEqual({ inflight: 0, bytes: 0 });
    expect(seen).toHaveLength(0);
  });

  it('releases the call when the upstream answer fails or the provider is unreachable', async () => {
    const broken = setupGateway(() => new Response(new ReadableStream({ pull: (c) => c.error(new Error('reset')) })));
    const t1 = broken.tokens.issue(broken.grant()).token;
    await (await broken.post(t1)).text();
    expect(broken.admission.held()).toEqual({ inflight: 0, bytes: 0 });

    const down = setupGateway(() => {
      throw new TypeError('fetch failed', { cause: { code: 'ECONNREFUSED' } });
    });
    const t2 = down.tokens.issue(down.grant()).token;
    const res = await down.post(t2);
    expect(res.status).toBe(502);
    await res.text();
    expect(down.admission.held()).toEqual({ inflight: 0, bytes: 0 });
  });

  it('does not let calls admitted side by side overspend the request budget', async () => {
    const up = heldUpstream();
    const { tokens, seen, ended, grant, postStream } = setupGateway(up.answer);
    const { token } = tokens.issue(grant({ budget: { maxRequests: 1, maxTokens: 1_000_000 } }));
    const both = [postStream(token), postStream(token)];
    for (const s of both) {
      s.feed.enqueue(new TextEncoder().encode('{"model":"m"}'));
      s.feed.close();
    }
    const statuses = (await Promise.all(both.map((s) => s.response))).map((r) => r.status).sort();
    expect(statuses).toEqual([200, 403]);
    expect(seen).toHaveLength(1);
    expect(ended[0]!.code).toBe('budget_exceeded');
  });
});
