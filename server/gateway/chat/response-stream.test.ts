import { describe, expect, it } from 'vitest';
import { parseSse } from '../sse-events.js';
import { chatToResponses } from './response-stream.js';
import type { ChatToResponsesOptions, ResponsesUsage } from './response-translator.js';

type SseEvent = { event: string; data: any };
const encoder = new TextEncoder();

const chunk = (delta: object, finish: string | null = null) => ({ id: 'chatcmpl-1', object: 'chat.completion.chunk', choices: [{ index: 0, delta, finish_reason: finish }] });
const usageChunk = {
  choices: [],
  usage: { prompt_tokens: 100, prompt_tokens_details: { cached_tokens: 40 }, completion_tokens: 20, completion_tokens_details: { reasoning_tokens: 5 }, total_tokens: 120 },
};
const sse = (...payloads: (object | string)[]) => payloads.map((p) => `data: ${typeof p === 'string' ? p : JSON.stringify(p)}\n\n`).join('');

/** An upstream body that delivers `text` in pieces of `size` bytes, cutting through lines and characters. */
function upstream(text: string, size: number): ReadableStream<Uint8Array> {
  const all = encoder.encode(text);
  let at = 0;
  return new ReadableStream({
    pull(controller) {
      if (at >= all.length) return controller.close();
      controller.enqueue(all.slice(at, (at += size)));
    },
  });
}

function parse(text: string): SseEvent[] {
  const events = parseSse(text).map(({ event, data }) => ({ event: event ?? '', data: JSON.parse(data) }));
  // Each event is exactly an event line and a data line: written out again, they give the text back.
  expect(events.map((e) => `event: ${e.event}\ndata: ${JSON.stringify(e.data)}\n\n`).join('')).toBe(text);
  for (const { event, data } of events) expect(data.type).toBe(event);
  return events;
}

async function translate(text: string, size = 7, options: ChatToResponsesOptions = {}): Promise<SseEvent[]> {
  return parse(await new Response(chatToResponses(upstream(text, size), { responseId: 'resp_t', ...options })).text());
}

const toolCallStream = sse(
  chunk({ role: 'assistant', content: 'Running it. ' }),
  chunk({ content: 'Now.' }),
  chunk({ tool_calls: [{ index: 0, id: 'call_a', type: 'function', function: { name: 'exec_command', arguments: '' } }] }),
  chunk({ tool_calls: [{ index: 0, function: { arguments: '{"cmd":' } }] }),
  chunk({ tool_calls: [{ index: 1, id: 'call_b', type: 'function', function: { name: 'exec_command', arguments: '{"cmd":"pwd"}' } }] }),
  chunk({ tool_calls: [{ index: 0, function: { arguments: '"ls -la"}' } }] }),
  chunk({}, 'tool_calls'),
  usageChunk,
  '[DONE]',
);

describe('the Chat Completions to Responses translation', () => {
  it.each([1, 3, 7, 64, 100_000])('turns text and interleaved tool call fragments into Codex events (chunks of %i bytes)', async (size) => {
    const events = await translate(toolCallStream, size);
    expect(events.map((e) => e.event)).toEqual([
      'response.created',
      'response.output_item.added',
      'response.output_text.delta',
      'response.output_text.delta',
      'response.output_item.done',
      'response.output_item.done',
      'response.output_item.done',
      'response.completed',
    ]);
    expect(events[0]!.data.response).toEqual({ id: 'resp_t' });
    expect(events[1]!.data.item).toEqual({ type: 'message', role: 'assistant', id: 'msg_resp_t', content: [] });
    expect(events.slice(2, 4).map((e) => e.data.delta)).toEqual(['Running it. ', 'Now.']);
    expect(events[4]!.data.item).toEqual({ type: 'message', role: 'assistant', id: 'msg_resp_t', content: [{ type: 'output_text', text: 'Running it. Now.', annotations: [] }] });
    expect(events[5]!.data.item).toEqual({ type: 'function_call', id: 'fc_resp_t_0', call_id: 'call_a', name: 'exec_command', arguments: '{"cmd":"ls -la"}' });
    expect(events[6]!.data.item).toMatchObject({ type: 'function_call', call_id: 'call_b', arguments: '{"cmd":"pwd"}' });
    expect(events[7]!.data.response).toEqual({
      id: 'resp_t',
      status: 'completed',
      usage: { input_tokens: 100, input_tokens_details: { cached_tokens: 40 }, output_tokens: 20, output_tokens_details: { reasoning_tokens: 5 }, total_tokens: 120 },
    });
  });

  it('sends response.created before the upstream says anything', async () => {
    const reader = chatToResponses(new ReadableStream<Uint8Array>()).getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    expect(first).toMatch(/^event: response\.created\ndata: \{"type":"response\.created","response":\{"id":"resp_\w+"\}\}\n\n$/);
    await reader.cancel();
  });

  it('reads CRLF streams with keep-alive comments', async () => {
    const text = `: keep-alive\r\n\r\n${sse(chunk({ content: 'hi' }, 'stop'), usageChunk, '[DONE]').replaceAll('\n', '\r\n')}`;
    const events = await translate(text, 5);
    expect(events.map((e) => e.event)).toEqual(['response.created', 'response.output_item.added', 'response.output_text.delta', 'response.output_item.done', 'response.completed']);
  });

  it('reports zeros when the upstream sends no usage, and tells onUsage once', async () => {
    const seen: ResponsesUsage[] = [];
    const events = await translate(sse(chunk({ content: 'ok' }, 'stop'), '[DONE]'), 7, { onUsage: (u) => seen.push(u) });
    const zero = { input_tokens: 0, input_tokens_details: { cached_tokens: 0 }, output_tokens: 0, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 0 };
    expect(events.at(-1)!.data.response.usage).toEqual(zero);
    expect(seen).toEqual([zero]);
  });

  it('sums total_tokens when the upstream leaves it out', async () => {
    const events = await translate(sse(chunk({ content: 'ok' }, 'stop'), { choices: [], usage: { prompt_tokens: 3, completion_tokens: 4 } }, '[DONE]'));
    expect(events.at(-1)!.data.response.usage.total_tokens).toBe(7);
  });

  it('completes a stream that ends after its finish_reason without [DONE]', async () => {
    const events = await translate(sse(chunk({ content: 'ok' }), chunk({}, 'stop')));
    expect(events.at(-1)!.event).toBe('response.completed');
  });

  it('fails cleanly when the stream ends mid-answer', async () => {
    const failures: object[] = [];
    const events = await translate(sse(chunk({ content: 'partial' })), 7, { onFailure: (f) => failures.push(f) });
    expect(events.map((e) => e.event)).toEqual(['response.created', 'response.output_item.added', 'response.output_text.delta', 'response.failed']);
    expect(events.at(-1)!.data.response).toMatchObject({ id: 'resp_t', status: 'failed', error: { code: 'upstream_stream_incomplete', message: expect.stringContaining('before the response was complete') } });
    expect(failures).toHaveLength(1);
  });

  it('says so when the upstream sent nothing at all', async () => {
    const events = await translate('');
    expect(events.at(-1)!.data.response.error.message).toContain('without sending any Chat Completions event');
  });

  it('passes an in-stream error on with its code, so Codex can tell a full context from a hiccup', async () => {
    const error = { error: { message: 'This model maximum context length is 8192 tokens', type: 'invalid_request_error', code: 'context_length_exceeded' } };
    const events = await translate(sse(chunk({ content: 'par' }), error, chunk({ content: 'ignored' }), '[DONE]'));
    expect(events.map((e) => e.event)).toEqual(['response.created', 'response.output_item.added', 'response.output_text.delta', 'response.failed']);
    expect(events.at(-1)!.data.response.error).toEqual({ type: 'upstream_error', code: 'context_length_exceeded', message: 'upstream error: This model maximum context length is 8192 tokens' });
  });

  it('gives a numeric or missing error code as a string', async () => {
    expect((await translate(sse({ error: { message: 'busy', code: 503 } }))).at(-1)!.data.response.error.code).toBe('503');
    expect((await translate(sse({ error: 'plain' }))).at(-1)!.data.response.error).toMatchObject({ code: 'upstream_error', message: 'upstream error: plain' });
  });

  it('fails on a data line that is not JSON', async () => {
    const events = await translate('data: {oops\n\n');
    expect(events.at(-1)!.data.response.error.code).toBe('upstream_bad_event');
  });

  it('sends only function calls when there is no text, with {} for empty arguments and ids made up if missing', async () => {
    const events = await translate(sse(chunk({ tool_calls: [{ index: 0, function: { name: 'get_goal' } }] }, 'tool_calls'), '[DONE]'));
    expect(events.map((e) => e.event)).toEqual(['response.created', 'response.output_item.done', 'response.completed']);
    expect(events[1]!.data.item).toEqual({ type: 'function_call', id: 'fc_resp_t_0', call_id: 'call_resp_t_0', name: 'get_goal', arguments: '{}' });
  });

  it('tells calls apart by id when the upstream omits the index, and does not double a repeated name', async () => {
    const events = await translate(
      sse(
        chunk({ tool_calls: [{ id: 'x', function: { name: 'exec_command', arguments: '{"cmd":' } }] }),
        chunk({ tool_calls: [{ function: { name: 'exec_command', arguments: '"a"}' } }] }),
        chunk({ tool_calls: [{ id: 'y', function: { name: 'exec_command', arguments: '{"cmd":"b"}' } }] }, 'tool_calls'),
        '[DONE]',
      ),
    );
    expect(events.filter((e) => e.event === 'response.output_item.done').map((e) => [e.data.item.call_id, e.data.item.name, e.data.item.arguments])).toEqual([
      ['x', 'exec_command', '{"cmd":"a"}'],
      ['y', 'exec_command', '{"cmd":"b"}'],
    ]);
  });

  it('hands namespaced calls back with their namespace', async () => {
    const events = await translate(sse(chunk({ tool_calls: [{ index: 0, id: 'c', function: { name: 'close_agent', arguments: '{}' } }] }, 'tool_calls'), '[DONE]'), 7, {
      toolNamespaces: { close_agent: 'multi_agent_v1' },
    });
    expect(events[1]!.data.item).toMatchObject({ name: 'close_agent', namespace: 'multi_agent_v1' });
  });
});

describe('chatToResponses', () => {
  it('translates a whole body', async () => {
    const events = parse(await new Response(chatToResponses(upstream(toolCallStream, 5), { responseId: 'resp_t' })).text());
    expect(events.map((e) => e.event).at(-1)).toBe('response.completed');
    expect(events.filter((e) => e.event === 'response.output_item.done')).toHaveLength(3);
  });

  it('ends in response.failed naming the cause when the upstream connection breaks', async () => {
    let sent = false;
    const broken = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (!sent) return void ((sent = true), controller.enqueue(encoder.encode(sse(chunk({ content: 'par' })))));
        controller.error(new TypeError('terminated', { cause: { code: 'UND_ERR_SOCKET', message: 'other side closed' } }));
      },
    });
    const events = parse(await new Response(chatToResponses(broken, { responseId: 'resp_t' })).text());
    expect(events.at(-1)!.data.response.error).toEqual({
      type: 'upstream_error',
      code: 'upstream_connection_lost',
      message: 'upstream connection lost mid-response: other side closed (UND_ERR_SOCKET)',
    });
  });

  it('stops reading the upstream after an error event, and cancels it when Codex goes away', async () => {
    let cancelled = 0;
    const endless = () =>
      new ReadableStream<Uint8Array>({
        pull: (controller) => controller.enqueue(encoder.encode(sse({ error: { message: 'no' } }, chunk({ content: 'x' })))),
        cancel: () => void cancelled++,
      });
    const events = parse(await new Response(chatToResponses(endless())).text());
    expect(events.at(-1)!.event).toBe('response.failed');
    expect(cancelled).toBe(1);

    const reader = chatToResponses(endless()).getReader();
    await reader.read();
    await reader.cancel('client left');
    expect(cancelled).toBe(2);
  });

  it('keeps reading past chunks that produce no event (comments, split lines)', async () => {
    const text = `: a\n\n: b\n\n${sse(chunk({ content: 'ok' }, 'stop'), '[DONE]')}`;
    const events = parse(await new Response(chatToResponses(upstream(text, 2))).text());
    expect(events.at(-1)!.event).toBe('response.completed');
  });
});
