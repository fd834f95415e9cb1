import { describe, expect, it } from 'vitest';
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
  it('ends the copy cleanly after what arrived when the upstream breaks off, and reports the error', async () => {
    let reads = 0;
    const source = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (reads++ === 0) controller.enqueue(new TextEncoder().encode('event: response.created\n\n'));
        else controller.error(new TypeError('terminated'));
      },
    });
    const errors: unknown[] = [];
    const text = await new Response(endOnUpstreamError(source, (e) => errors.push(e))).text();
    expect(text).toBe('event: response.created\n\n');
    expect(errors).toHaveLength(1);
  });
});
