import { describe, expect, it } from 'vitest';
import { PROGRESS_LINE_MAX_CHARS, progressText, streamEventText } from './progress-text.js';

const item = (type: string, body: Record<string, unknown>, event = 'item.completed') => ({ type: event, item: { id: 'item_1', type, ...body } });

describe('progressText', () => {
  it('shows a started command as the model wrote it, without the bash -lc wrapper', () => {
    expect(progressText(item('command_execution', { command: "/bin/bash -lc 'npm test'", status: 'in_progress' }, 'item.started'))).toBe('$ npm test');
    expect(progressText(item('command_execution', { command: `/bin/bash -lc 'echo '\\''hi'\\'''` }, 'item.started'))).toBe("$ echo 'hi'");
    expect(progressText(item('command_execution', { command: 'ls -la' }, 'item.started'))).toBe('$ ls -la');
  });

  it('adds a line for a completed command only when it failed or was declined', () => {
    const done = (body: Record<string, unknown>) => progressText(item('command_execution', { command: "bash -lc 'make'", ...body }));
    expect(done({ exit_code: 0, status: 'completed' })).toBeNull();
    expect(done({ exit_code: 2, status: 'failed' })).toBe('exit 2: make');
    expect(done({ exit_code: null, status: 'declined' })).toBe('declined: make');
  });

  it('names file changes relative to the workspace', () => {
    const changes = [
      { path: '/workspace/src/a.ts', kind: 'update' },
      { path: '/workspace/b.ts', kind: 'add' },
      { path: '/workspace/old.txt', kind: 'delete' },
    ];
    expect(progressText(item('file_change', { changes, status: 'completed' }))).toBe('edited src/a.ts, added b.ts, deleted old.txt');
    expect(progressText(item('file_change', { changes, status: 'in_progress' }, 'item.started'))).toBeNull();
  });

  it('shows a reasoning summary by its bold title', () => {
    expect(progressText(item('reasoning', { text: '**Checking the tests**\n\nI will run them.' }))).toBe('thinking: Checking the tests');
  });

  it('says nothing of agent messages, which the facade sends itself', () => {
    expect(progressText(item('agent_message', { text: 'Done.' }))).toBeNull();
  });

  it('says nothing of thread and turn bookkeeping', () => {
    expect(progressText({ type: 'thread.started', thread_id: 't' })).toBeNull();
    expect(progressText({ type: 'turn.started' })).toBeNull();
    expect(progressText({ type: 'turn.completed', usage: { input_tokens: 1 } })).toBeNull();
  });

  it('reports failures and errors, not Codex warnings about its setup', () => {
    expect(progressText({ type: 'turn.failed', error: { message: 'stream disconnected' } })).toBe('turn failed: stream disconnected');
    expect(progressText({ type: 'error', message: 'Reconnecting... 1/5' })).toBe('error: Reconnecting... 1/5');
    expect(progressText(item('error', { message: 'Model metadata for `m` not found.' }))).toBeNull();
  });

  it('shows tool calls, web searches and the plan', () => {
    expect(progressText(item('mcp_tool_call', { server: 'docs', tool: 'search' }, 'item.started'))).toBe('tool docs.search');
    expect(progressText(item('web_search', { query: 'vitest config' }))).toBe('searched the web: vitest config');
    const items = [{ text: 'read', completed: true }, { text: 'fix', completed: false }];
    expect(progressText(item('todo_list', { items }, 'item.updated'))).toBe('plan: 1/2 done; next: fix');
  });

  it('keeps to one line within the cap', () => {
    expect(progressText(item('command_execution', { command: 'echo a\necho b' }, 'item.started'))).toBe('$ echo a …');
    const long = progressText(item('command_execution', { command: 'x'.repeat(500) }, 'item.started'))!;
    expect(long).toHaveLength(PROGRESS_LINE_MAX_CHARS);
    expect(long.endsWith('…')).toBe(true);
  });

  it('ignores events of an unexpected shape', () => {
    expect(progressText({ type: 'item.completed' })).toBeNull();
    expect(progressText({ type: 'item.started', item: { type: 'command_execution', command: 42 } })).toBeNull();
    expect(progressText(item('file_change', { changes: 'nope' }))).toBeNull();
  });
});

describe('streamEventText', () => {
  it("says the setup's commands and failures and the refused connections; Codex's events as progressText does", () => {
    expect(streamEventText({ seq: 1, kind: 'setup', data: { type: 'setup.started', index: 0, command: 'npm ci' } })).toBe('setup $ npm ci');
    expect(streamEventText({ seq: 2, kind: 'setup', data: { type: 'setup.output', index: 0, stream: 'stdout', text: 'added 3 packages' } })).toBeNull();
    expect(streamEventText({ seq: 3, kind: 'setup', data: { type: 'setup.finished', index: 0, exit_code: 0, ms: 900 } })).toBeNull();
    expect(streamEventText({ seq: 4, kind: 'setup', data: { type: 'setup.finished', index: 1, exit_code: 2, ms: 10 } })).toBe('setup exit 2: step 2');
    const egress = { type: 'egress' as const, host: 'registry.npmjs.org', port: 443, address: null, bytes_up: 0, bytes_down: 0, ms: 1 };
    expect(streamEventText({ seq: 5, kind: 'egress', data: { ...egress, allowed: false, reason: 'not in the allow-list' } })).toBe('egress refused: registry.npmjs.org:443 (not in the allow-list)');
    expect(streamEventText({ seq: 6, kind: 'egress', data: { ...egress, allowed: true } })).toBeNull();
    expect(streamEventText({ seq: 7, kind: 'codex', data: { type: 'item.started', item: { type: 'command_execution', command: "/bin/bash -lc 'make'" } } })).toBe('$ make');
  });
});
