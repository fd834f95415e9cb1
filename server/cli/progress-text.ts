// Pure: what a run's events look like to a person. One short line per event worth showing, and the
// status line a terminal keeps redrawing (the current step, the command it runs, the time so far).
import { unwrapShell } from '../facades/progress-text.js';

export interface StreamEvent {
  seq: number;
  kind: 'run' | 'codex';
  data: Record<string, any>;
}

export interface ProgressState {
  /** What the run is doing now, in a few words. */
  step: string;
  /** The command Codex runs now, if one is running. */
  command: string | null;
}

export const initialProgress: ProgressState = { step: 'uploading', command: null };

const RUN_STEPS: Record<string, string> = {
  'run.queued': 'queued',
  'run.started': 'starting Codex',
  'run.succeeded': 'succeeded',
  'run.failed': 'failed',
  'run.timed_out': 'timed out',
  'run.cancelled': 'cancelled',
};

/** Codex runs each command through a login shell: `/bin/bash -lc 'cmd'` reads better as `cmd`. */
export function shownCommand(command: unknown): string {
  return oneLine(unwrapShell(Array.isArray(command) ? command.join(' ') : String(command ?? '')));
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ⏎ ').trim();
}

function firstLine(text: unknown): string {
  return String(text ?? '').trim().split('\n')[0] ?? '';
}

/** The line an event prints in a log, or null for one not worth a line. */
export function eventLine(event: StreamEvent): string | null {
  const d = event.data;
  if (event.kind === 'run') {
    if (d.type === 'run.events_truncated') return `events truncated (${d.reason}): later Codex events are not kept`;
    const step = RUN_STEPS[d.type];
    if (!step) return null;
    if (d.type === 'run.queued') return d.run?.id ? `run ${d.run.id} queued` : 'run queued';
    const error = d.run?.error;
    return error && d.type !== 'run.started' ? `run ${step}: ${error.code}: ${error.message}` : `run ${step}`;
  }
  switch (d.type) {
    case 'thread.started':
      return 'Codex started';
    case 'turn.completed': {
      const u = d.usage ?? {};
      return `turn completed (${u.input_tokens ?? 0} tokens in, ${u.output_tokens ?? 0} out)`;
    }
    case 'turn.failed':
      return `turn failed: ${firstLine(d.error?.message)}`;
    case 'error':
      return `warning: ${firstLine(d.message)}`;
    case 'item.started':
      return d.item?.type === 'command_execution' ? `$ ${shownCommand(d.item.command)}` : null;
    case 'item.completed':
      return itemLine(d.item ?? {});
    default:
      return null;
  }
}

function itemLine(item: Record<string, any>): string | null {
  switch (item.type) {
    case 'command_execution': {
      const how = item.status === 'declined' ? 'declined' : `exit ${item.exit_code ?? '?'}`;
      return `  ${how}: ${shownCommand(item.command)}`;
    }
    case 'agent_message':
      return `message: ${firstLine(item.text)}`;
    case 'reasoning':
      return `thinking: ${firstLine(item.text)}`;
    case 'file_change':
      return `edited ${(item.changes ?? []).map((c: any) => `${c.path} (${c.kind})`).join(', ')}`;
    case 'web_search':
      return `web search: ${firstLine(item.query)}`;
    case 'mcp_tool_call':
      return `tool ${item.server ?? ''}${item.server ? '.' : ''}${item.tool ?? ''}`;
    case 'todo_list': {
      const items: any[] = item.items ?? [];
      return `plan: ${items.filter((i) => i.completed).length}/${items.length} done`;
    }
    case 'error':
      return `warning: ${firstLine(item.message)}`;
    default:
      return null;
  }
}

/** The state after an event: what the status line shows next. */
export function nextProgress(state: ProgressState, event: StreamEvent): ProgressState {
  const d = event.data;
  if (event.kind === 'run') {
    const step = RUN_STEPS[d.type];
    return step ? { step, command: null } : state;
  }
  const item = d.item ?? {};
  if (d.type === 'item.started' && item.type === 'command_execution') return { step: 'running', command: shownCommand(item.command) };
  if (d.type === 'item.completed' && item.type === 'command_execution') return { step: 'thinking', command: null };
  if (d.type === 'item.completed' && item.type === 'agent_message') return { step: 'writing', command: null };
  if (d.type === 'item.completed' && item.type === 'file_change') return { step: 'editing files', command: null };
  if (d.type === 'thread.started' || d.type === 'turn.started') return { step: 'thinking', command: null };
  if (d.type === 'turn.completed') return { step: 'collecting the result', command: null };
  return state;
}

/** `12.3s`, `4m05s`, `1h02m`. */
export function formatElapsed(ms: number): string {
  const s = Math.max(0, ms) / 1000;
  if (s < 60) return `${s.toFixed(1)}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(Math.floor(s % 60)).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

/** The terminal's status line, cut to its width. */
export function statusLine(state: ProgressState, elapsedMs: number, width: number, spinner = ''): string {
  const head = `${spinner ? `${spinner} ` : ''}${formatElapsed(elapsedMs)}  ${state.step}`;
  const line = state.command ? `${head}: $ ${state.command}` : head;
  return truncate(line, width);
}

/** A log line for CI: the time, the time since the start, the text. */
export function plainLine(text: string, at: Date, elapsedMs: number): string {
  return `${at.toISOString()} +${formatElapsed(elapsedMs)} ${text}`;
}

export function truncate(text: string, width: number): string {
  const chars = [...text];
  if (width <= 1 || chars.length <= width) return chars.slice(0, Math.max(width, 1)).join('');
  return `${chars.slice(0, width - 1).join('')}…`;
}
