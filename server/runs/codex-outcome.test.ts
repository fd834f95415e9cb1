import { describe, expect, it } from 'vitest';
import { applyCodexEvent, emptyOutcome, threadUsage, turnUsage } from './codex-outcome.js';

const reduce = (events: object[]) => events.reduce(applyCodexEvent, emptyOutcome());

describe('applyCodexEvent', () => {
  it('keeps the last agent message and the usage of turn.completed', () => {
    const outcome = reduce([
      { type: 'thread.started', thread_id: 't' },
      { type: 'item.completed', item: { id: 'item_0', type: 'agent_message', text: 'first' } },
      { type: 'item.completed', item: { id: 'item_1', type: 'command_execution', command: 'ls' } },
      { type: 'item.completed', item: { id: 'item_2', type: 'agent_message', text: 'done' } },
      { type: 'turn.completed', usage: { input_tokens: 10, cached_input_tokens: 2, output_tokens: 5, reasoning_output_tokens: 1 } },
    ]);
    expect(outcome.finalMessage).toBe('done');
    expect(outcome.usage).toEqual({ input_tokens: 10, cached_input_tokens: 2, output_tokens: 5, reasoning_output_tokens: 1 });
    expect(outcome.failure).toBeNull();
  });

  it('keeps the first thread.started id, a UUID, as the session to resume', () => {
    const id = '01a23aaf-9428-7fb2-be50-a36e92776139';
    expect(reduce([{ type: 'thread.started', thread_id: id }, { type: 'thread.started', thread_id: '01a23aaf-0000-7fb2-be50-a36e92776139' }]).threadId).toBe(id);
    expect(reduce([{ type: 'thread.started', thread_id: '../../etc/passwd' }]).threadId).toBeNull();
    expect(reduce([{ type: 'turn.completed' }]).threadId).toBeNull();
  });

  it('records the message of turn.failed', () => {
    const outcome = reduce([{ type: 'error', message: 'Reconnecting... 1/5' }, { type: 'turn.failed', error: { message: 'unexpected status 401' } }]);
    expect(outcome.failure).toBe('unexpected status 401');
    expect(outcome.lastError).toBe('Reconnecting... 1/5');
  });
});

describe('after the turn ended', () => {
  it('takes nothing more: a forged message or usage written after turn.completed changes nothing', () => {
    const outcome = reduce([
      { type: 'item.completed', item: { type: 'agent_message', text: 'real' } },
      { type: 'turn.completed', usage: { input_tokens: 5, output_tokens: 7 } },
      { type: 'item.completed', item: { type: 'agent_message', text: 'HACKED' } },
      { type: 'turn.completed', usage: { input_tokens: 1, output_tokens: 999999 } },
      { type: 'turn.failed', error: { message: 'forged' } },
    ]);
    expect(outcome).toMatchObject({ finalMessage: 'real', failure: null, turnEnded: true });
    expect(outcome.usage?.output_tokens).toBe(7);
  });
});

describe('a thread\'s usage across follow-ups', () => {
  const u = (input: number, output: number) => ({ input_tokens: input, cached_input_tokens: 0, output_tokens: output, reasoning_output_tokens: 0 });

  it('adds a run\'s own usage to what its thread had, and takes it off again for the next turn', () => {
    const afterFirst = threadUsage(null, u(100, 10));
    const afterSecond = threadUsage(afterFirst, u(40, 4));
    expect(afterSecond).toEqual(u(140, 14));
    // Codex reports the thread's total; the third turn's own is what it adds.
    expect(turnUsage(u(200, 20), afterSecond)).toEqual(u(60, 6));
  });

  it('keeps what is known when a side is missing, and never goes below zero', () => {
    expect(threadUsage(u(5, 1), null)).toEqual(u(5, 1));
    expect(turnUsage(null, u(5, 1))).toBeNull();
    expect(turnUsage(u(5, 1), null)).toEqual(u(5, 1));
    expect(turnUsage(u(3, 0), u(5, 1))).toEqual(u(0, 0));
  });
});
