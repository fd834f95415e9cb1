import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startChatStandIn, type ChatStandIn } from './fixtures/chat-stand-in.js';
import { startHarness, UPSTREAM_KEY, type Harness } from './fixtures/harness.js';
import { scriptMarker } from './fixtures/responses-stand-in.js';

let chat: ChatStandIn;
let h: Harness;
beforeAll(async () => {
  chat = await startChatStandIn();
  h = await startHarness({
    providers: { chatonly: { base_url: chat.url, key_env: 'STANDIN_KEY', wire_api: 'chat', request_max_retries: 0, stream_max_retries: 0 } },
    defaults: { provider: 'chatonly' },
  });
});
afterAll(async () => {
  await h?.close();
  await chat?.close();
});

describe('a chat-only upstream (wire_api = "chat")', () => {
  it('drives a run with two tool calls to success through the translating gateway; the diff holds the edits', async () => {
    chat.script('chat-two', [
      { exec: "printf 'first\\n' > one.txt" },
      { exec: "printf 'second\\n' > two.txt && cat one.txt" },
      { message: 'Both files written.' },
    ]);
    const res = await h.createRun({ prompt: `${scriptMarker('chat-two')} write two files`, wait: true });
    const run: any = await res.json();
    expect(run).toMatchObject({ status: 'succeeded', final_message: 'Both files written.', error: null });
    expect(run.changes.files.map((f: any) => f.path).sort()).toEqual(['one.txt', 'two.txt']);
    const diff = await (await h.api(`/v1/runs/${run.id}/diff`)).text();
    expect(diff).toContain('+first');
    expect(diff).toContain('+second');
    expect(run.provider_usage.requests).toBe(3);
    expect(run.provider_usage.total_tokens).toBeGreaterThan(0);

    const calls = chat.requests.filter((r) => r.path === '/v1/chat/completions');
    expect(calls).toHaveLength(3);
    for (const call of calls) expect(call.headers.authorization).toBe(`Bearer ${UPSTREAM_KEY}`);
    const last = calls.at(-1)!.body;
    expect(last.messages.filter((m: any) => m.role === 'tool')).toHaveLength(2);
    expect(last.messages.some((m: any) => m.role === 'assistant' && m.tool_calls?.[0]?.function?.name === 'exec_command')).toBe(true);
    expect(chat.requests.some((r) => r.path === '/v1/responses')).toBe(false);
  });

  it('ends the run provider_error naming the provider when the chat upstream fails mid-answer', async () => {
    chat.script('chat-broken', [{ cutStream: true }]);
    const run: any = await (await h.createRun({ prompt: `${scriptMarker('chat-broken')} go`, wait: true })).json();
    expect(run.status).toBe('failed');
    expect(run.error).toEqual({ code: 'provider_error', message: expect.stringMatching(/^provider chatonly: upstream connection lost mid-response: /) });
  });
});
