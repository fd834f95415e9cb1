import { describe, expect, it } from 'vitest';
import { parseSse } from './sse-events.js';
import { endOnUpstreamError, usageTap } from './usage-tap.js';

async function run(chunks: string[]) {
  const seen: unknown[] = [];
  const source = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const c of chunks) controller.enqueue(new TextEncoder().encode(c));
      controller.close();
    },
  });
  const out = await new Response(source.pipeThrough(usageTap((u) => seen.push(u)))).text();
  return { out, seen };
}

describe('usageTap', () => {
  const completed = 'event: response.completed\ndata: {"type":"response.completed","response":{"id":"r","usage":{"input_tokens":120,"output_tokens":30,"total_tokens":150}}}\n\n';

  it('passes the stream through unchanged and reports the usage of response.completed', async () => {
    const stream = 'event: response.created\ndata: {"type":"response.created","response":{"id":"r"}}\n\n' + completed;
    const { out, seen } = await run([stream]);
    expect(out).toBe(stream);
    expect(seen).toEqual([{ input_tokens: 120, output_tokens: 30, total_tokens: 150 }]);
  });

  it('finds the event when it is split across chunks, byte by byte', async () => {
    const { seen } = await run(completed.split(''));
    expect(seen).toHaveLength(1);
  });

  it('reports nothing for a stream without response.completed', async () => {
    const { seen } = await run(['data: {"type":"response.created"}\n\n', 'data: not json response.completed\n\n']);
    expect(seen).toEqual([]);
  });
});

describe('endOnUpstreamError', () => {
  it('ends the copy after what arrived with response.failed carrying the failure when the upstream breaks off', async () => {
    let reads = 0;
    const source = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (reads++ === 0) controller.enqueue(new TextEncoder().encode('event: response.created\ndata: {"type":"response.created"}\n\nevent: response.output_item.done\ndata: {"ty'));
        else controller.error(new TypeError('terminated'));
      },
    });
    const errors: unknown[] = [];
    const failure = (e: unknown) => (errors.push(e), { code: 'provider_stream_broken', message: 'provider p broke off' });
    const text = await new Response(endOnUpstreamError(source, failure)).text();
    expect(errors).toHaveLength(1);
    // The event cut in half is ended by the blank line (its data is not JSON); the failure comes whole after it.
    const events = parseSse(text);
    expect(events.map((e) => e.event)).toEqual(['response.created', 'response.output_item.done', 'response.failed']);
    expect(JSON.parse(events[2]!.data)).toEqual({
      type: 'response.failed',
      response: { id: 'resp_gateway', status: 'failed', error: { type: 'upstream_error', code: 'provider_stream_broken', message: 'provider p broke off' } },
    });
  });

  it('adds nothing to a stream that ends by itself', async () => {
    const source = new Response('event: response.completed\ndata: {}\n\n').body!;
    expect(await new Response(endOnUpstreamError(source, () => ({ code: 'x', message: 'x' }))).text()).toBe('event: response.completed\ndata: {}\n\n');
  });
});
