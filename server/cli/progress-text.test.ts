import { describe, expect, it } from 'vitest';
import { eventLine, formatElapsed, initialProgress, nextProgress, plainLine, shownCommand, statusLine, type StreamEvent } from './progress-text.js';

const codex = (data: Record<string, unknown>, seq = 1): StreamEvent => ({ seq, kind: 'codex', data });
const run = (data: Record<string, unknown>, seq = 1): StreamEvent => ({ seq, kind: 'run', data });
const command = (type: string, extra: Record<string, unknown> = {}) =>
  codex({ type, item: { id: 'item_1', type: 'command_execution', command: "/bin/bash -lc 'sed -i s/a/b/ README.md'", status: 'in_progress', ...extra } });

describe('event lines', () => {
  it('shows a command as the shell would, without the login shell wrapper', () => {
    expect(eventLine(command('item.started'))).toBe('$ sed -i s/a/b/ README.md');
    expect(eventLine(command('item.completed', { status: 'completed', exit_code: 0 }))).toBe('  exit 0: sed -i s/a/b/ README.md');
    expect(eventLine(command('item.completed', { status: 'declined', exit_code: null }))).toBe('  declined: sed -i s/a/b/ README.md');
    expect(shownCommand(['bash', '-c', 'ls'])).toBe('bash -c ls');
    expect(shownCommand('/bin/bash -lc "echo a\necho b"')).toBe('echo a ⏎ echo b');
  });

  it('names the lifecycle, with the error of a run that did not succeed', () => {
    expect(eventLine(run({ type: 'run.queued', run: { id: 'run_1' } }))).toBe('run run_1 queued');
    expect(eventLine(run({ type: 'run.started', run: { id: 'run_1', error: null } }))).toBe('run starting Codex');
    expect(eventLine(run({ type: 'run.succeeded', run: { error: null } }))).toBe('run succeeded');
    expect(eventLine(run({ type: 'run.timed_out', run: { error: { code: 'timeout', message: 'the run took longer than 2 s' } } }))).toBe(
      'run timed out: timeout: the run took longer than 2 s',
    );
    expect(eventLine(run({ type: 'run.events_truncated', reason: 'max_events' }))).toMatch(/^events truncated \(max_events\)/);
  });

  it('gives messages, reasoning, edits, plans and turns one line each, and skips the rest', () => {
    expect(eventLine(codex({ type: 'item.completed', item: { type: 'agent_message', text: 'Done.\nMore detail' } }))).toBe('message: Done.');
    expect(eventLine(codex({ type: 'item.completed', item: { type: 'reasoning', text: '**Looking** at it' } }))).toBe('thinking: **Looking** at it');
    expect(eventLine(codex({ type: 'item.completed', item: { type: 'file_change', changes: [{ path: '/workspace/a.ts', kind: 'update' }] } }))).toBe(
      'edited /workspace/a.ts (update)',
    );
    expect(eventLine(codex({ type: 'item.completed', item: { type: 'todo_list', items: [{ completed: true }, { completed: false }] } }))).toBe('plan: 1/2 done');
    expect(eventLine(codex({ type: 'turn.completed', usage: { input_tokens: 10, output_tokens: 3 } }))).toBe('turn completed (10 tokens in, 3 out)');
    expect(eventLine(codex({ type: 'turn.failed', error: { message: 'unexpected status 401' } }))).toBe('turn failed: unexpected status 401');
    expect(eventLine(codex({ type: 'turn.started' }))).toBeNull();
    expect(eventLine(codex({ type: 'item.updated', item: { type: 'todo_list', items: [] } }))).toBeNull();
    expect(eventLine(codex({ type: 'something.new' }))).toBeNull();
  });
});

describe('the status line', () => {
  it('follows the step and the running command', () => {
    let state = nextProgress(initialProgress, run({ type: 'run.queued' }));
    expect(state).toEqual({ step: 'queued', command: null });
    state = nextProgress(state, codex({ type: 'thread.started' }));
    state = nextProgress(state, command('item.started'));
    expect(state).toEqual({ step: 'running', command: 'sed -i s/a/b/ README.md' });
    expect(statusLine(state, 12_345, 80, '⠋')).toBe('⠋ 12.3s  running: $ sed -i s/a/b/ README.md');
    state = nextProgress(state, command('item.completed', { exit_code: 0 }));
    expect(state).toEqual({ step: 'thinking', command: null });
    expect(nextProgress(state, codex({ type: 'item.updated' }))).toBe(state);
  });

  it('fits the terminal width', () => {
    const line = statusLine({ step: 'running', command: 'x'.repeat(200) }, 1000, 40);
    expect([...line]).toHaveLength(40);
    expect(line.endsWith('…')).toBe(true);
  });

  it('formats elapsed time and timestamped plain lines', () => {
    expect(formatElapsed(999)).toBe('1.0s');
    expect(formatElapsed(245_000)).toBe('4m05s');
    expect(formatElapsed(3_720_000)).toBe('1h02m');
    expect(plainLine('run succeeded', new Date('2026-01-02T03:04:05.678Z'), 1500)).toBe('2026-01-02T03:04:05.678Z +1.5s run succeeded');
  });
});
