import type { RunStreamEvent } from '../runs/run-wire.js';

/** The longest progress line; a command or a thought past it is cut with an ellipsis. */
export const PROGRESS_LINE_MAX_CHARS = 200;

const WORKSPACE_PREFIX = '/workspace/';

type Item = Record<string, unknown> & { type?: unknown };

/**
 * One Codex JSONL event (`codex exec --json`) as a short line for a person watching, or null when
 * it says nothing worth a line. Agent messages are null too: a facade sends the final one itself,
 * and cannot tell an earlier one from the last until the run ends. So are `error` items: Codex's
 * warnings about its own setup (a model without metadata, on every run of one), the operator's to read.
 */
export function progressText(event: Record<string, unknown>): string | null {
  const type = event.type;
  if (type === 'turn.failed') return line(`turn failed: ${messageOf(event.error)}`);
  // Codex also prints "Reconnecting... 1/5" this way: not terminal.
  if (type === 'error') return line(`error: ${messageOf(event)}`);
  if (type !== 'item.started' && type !== 'item.updated' && type !== 'item.completed') return null;
  const item = (isRecord(event.item) ? event.item : {}) as Item;
  switch (item.type) {
    case 'command_execution':
      return commandLine(type, item);
    case 'file_change':
      return type === 'item.completed' ? fileChangeLine(item) : null;
    case 'reasoning':
      return type === 'item.completed' ? reasoningLine(item) : null;
    case 'mcp_tool_call':
      return type === 'item.started' ? line(`tool ${[item.server, item.tool].filter((p) => typeof p === 'string').join('.')}`) : null;
    case 'web_search':
      return type === 'item.completed' && typeof item.query === 'string' ? line(`searched the web: ${item.query}`) : null;
    case 'todo_list':
      return type === 'item.completed' ? null : planLine(item);
    default:
      return null;
  }
}

function commandLine(type: string, item: Item): string | null {
  if (typeof item.command !== 'string') return null;
  const command = unwrapShell(item.command);
  if (type === 'item.started') return line(`$ ${command}`);
  if (type !== 'item.completed') return null;
  if (item.status === 'declined') return line(`declined: ${command}`);
  // A command that succeeded was said when it started; only a failure adds a line.
  if (typeof item.exit_code === 'number' && item.exit_code !== 0) return line(`exit ${item.exit_code}: ${command}`);
  return null;
}

/** Codex runs each command as `/bin/bash -lc '<command>'`: the quoted part is what the model wrote. */
export function unwrapShell(command: string): string {
  const single = /^(?:\S*\/)?(?:ba|z)?sh -l?c '((?:[^']|'\\'')*)'$/s.exec(command);
  if (single) return single[1]!.replaceAll("'\\''", "'");
  const double = /^(?:\S*\/)?(?:ba|z)?sh -l?c "([^"]*)"$/s.exec(command);
  return double ? double[1]! : command;
}

const CHANGE_VERBS: Record<string, string> = { add: 'added', delete: 'deleted', update: 'edited' };

function fileChangeLine(item: Item): string | null {
  if (!Array.isArray(item.changes) || item.status === 'failed') return null;
  const parts = item.changes
    .filter(isRecord)
    .filter((c) => typeof c.path === 'string')
    .map((c) => `${CHANGE_VERBS[String(c.kind)] ?? 'changed'} ${relative(c.path as string)}`);
  return parts.length ? line(parts.join(', ')) : null;
}

function relative(path: string): string {
  return path.startsWith(WORKSPACE_PREFIX) ? path.slice(WORKSPACE_PREFIX.length) : path;
}

/** A reasoning summary opens with a bold title (`**Checking the tests**`): that title is the line. */
function reasoningLine(item: Item): string | null {
  if (typeof item.text !== 'string') return null;
  const first = item.text.trim().split('\n')[0]!.replace(/^\*\*(.*)\*\*$/, '$1').trim();
  return first ? line(`thinking: ${first}`) : null;
}

function planLine(item: Item): string | null {
  if (!Array.isArray(item.items)) return null;
  const steps = item.items.filter(isRecord);
  const done = steps.filter((s) => s.completed === true).length;
  const next = steps.find((s) => s.completed !== true && typeof s.text === 'string');
  return line(`plan: ${done}/${steps.length} done${next ? `; next: ${next.text as string}` : ''}`);
}

function messageOf(value: unknown): string {
  return isRecord(value) && typeof value.message === 'string' ? value.message : 'no message';
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** One line: later lines dropped (marked), then cut to the cap. */
function line(text: string): string {
  const [first = '', ...rest] = text.split('\n');
  const single = rest.length ? `${first} …` : first;
  return single.length <= PROGRESS_LINE_MAX_CHARS ? single : `${single.slice(0, PROGRESS_LINE_MAX_CHARS - 1)}…`;
}

/**
 * A run's stream event (not its own `run` events, which each facade tells its way) as a progress
 * line, or null: Codex's events as `progressText` says them, the environment's setup commands and
 * failures, and the connections the egress proxy refused.
 */
export function streamEventText(event: Exclude<RunStreamEvent, { kind: 'run' }>): string | null {
  if (event.kind === 'codex') return progressText(event.data);
  const data = event.data;
  if (event.kind === 'setup') {
    if (data.type === 'setup.started') return line(`setup $ ${data.command}`);
    if (data.type === 'setup.finished' && data.exit_code !== 0) return line(`setup exit ${data.exit_code}: step ${data.index + 1}`);
    return null;
  }
  if (data.type === 'egress' && !data.allowed) return line(`egress refused: ${data.host}:${data.port}${data.reason ? ` (${data.reason})` : ''}`);
  return null;
}
