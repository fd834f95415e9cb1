import { describe, expect, it } from 'vitest';
import { chatChunk, chatCompletion, chatUsage, runFailure, type RunOutcome } from './chat-response.js';

const run: RunOutcome = {
  id: 'run_1',
  status: 'succeeded',
  createdAt: new Date('2026-01-02T03:04:05.900Z'),
  finalMessage: 'Done.',
  usage: { input_tokens: 100, cached_input_tokens: 40, output_tokens: 7, reasoning_output_tokens: 3 },
  providerUsage: { requests: 2, input_tokens: 90, output_tokens: 6, total_tokens: 96 },
  error: null,
};

describe('chatUsage', () => {
  it('takes Codex usage, with cached and reasoning tokens as details', () => {
    expect(chatUsage(run)).toEqual({
      prompt_tokens: 100,
      completion_tokens: 7,
      total_tokens: 107,
      prompt_tokens_details: { cached_tokens: 40 },
      completion_tokens_details: { reasoning_tokens: 3 },
    });
  });

  it('falls back to the provider usage, then to zeros', () => {
    expect(chatUsage({ usage: null, providerUsage: run.providerUsage })).toEqual({ prompt_tokens: 90, completion_tokens: 6, total_tokens: 96 });
    expect(chatUsage({ usage: null, providerUsage: null })).toEqual({ prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 });
  });
});

describe('chatCompletion', () => {
  it('is a chat.completion with the final message, the run id and seconds since the epoch', () => {
    const answer = chatCompletion(run, 'codex/standin/m');
    expect(answer).toMatchObject({
      id: 'chatcmpl-run_1',
      object: 'chat.completion',
      created: Date.parse('2026-01-02T03:04:05Z') / 1000,
      model: 'codex/standin/m',
      choices: [{ index: 0, message: { role: 'assistant', content: 'Done.' }, finish_reason: 'stop' }],
      codex_runner: { run_id: 'run_1', status: 'succeeded' },
    });
    expect(answer.usage.total_tokens).toBe(107);
  });
});

describe('chatChunk', () => {
  it('makes content, finish and usage chunks', () => {
    expect(chatChunk(run, 'm', { content: 'hi' }).choices).toEqual([{ index: 0, delta: { content: 'hi' }, finish_reason: null, logprobs: null }]);
    expect(chatChunk(run, 'm', { finish: 'stop' }).choices).toEqual([{ index: 0, delta: {}, finish_reason: 'stop', logprobs: null }]);
    const usage = chatChunk(run, 'm', { usage: chatUsage(run) });
    expect(usage).toMatchObject({ object: 'chat.completion.chunk', choices: [], usage: { prompt_tokens: 100 }, codex_runner: { run_id: 'run_1' } });
  });
});

describe('runFailure', () => {
  it('is 504 for a run that timed out and 502 for one that failed, naming the run and why', () => {
    const timedOut = runFailure({ id: 'run_1', status: 'timed_out', error: { code: 'timeout', message: 'the run exceeded 5 s' } });
    expect([timedOut.code, timedOut.status]).toEqual(['run_timed_out', 504]);
    expect(timedOut.message).toMatch(/run_1 ended timed_out \(timeout: the run exceeded 5 s\)/);
    const failed = runFailure({ id: 'run_2', status: 'failed', error: null });
    expect([failed.code, failed.status]).toEqual(['run_failed', 502]);
  });
});
