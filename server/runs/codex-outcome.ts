import type { RunUsage } from './run.js';

/** What a run's Codex events say about its result; built up one event at a time. */
export interface CodexOutcome {
  /** `thread.started`'s id: the session a follow-up resumes. */
  threadId: string | null;
  finalMessage: string | null;
  usage: RunUsage | null;
  /** Message of `turn.failed`, if Codex gave up. */
  failure: string | null;
  /** Last top-level `error` event (e.g. "Reconnecting... 2/5"), kept to explain a crash. */
  lastError: string | null;
  /**
   * `codex exec` runs one turn: once it completed or failed, Codex only exits. Whatever comes after
   * was written by something else holding its stdout, and changes nothing.
   */
  turnEnded: boolean;
}

export function emptyOutcome(): CodexOutcome {
  return { threadId: null, finalMessage: null, usage: null, failure: null, lastError: null, turnEnded: false };
}

export function applyCodexEvent(outcome: CodexOutcome, event: Record<string, any>): CodexOutcome {
  if (outcome.turnEnded) return outcome;
  switch (event.type) {
    case 'thread.started':
      // The first one is Codex's: a later line claiming another thread is not.
      return outcome.threadId === null && isThreadId(event.thread_id) ? { ...outcome, threadId: event.thread_id } : outcome;
    case 'item.completed':
      if (event.item?.type === 'agent_message' && typeof event.item.text === 'string') {
        return { ...outcome, finalMessage: event.item.text };
      }
      return outcome;
    case 'turn.completed':
      return { ...outcome, usage: toUsage(event.usage), turnEnded: true };
    case 'turn.failed':
      return { ...outcome, failure: String(event.error?.message ?? 'Codex reported turn.failed'), turnEnded: true };
    case 'error':
      return { ...outcome, lastError: String(event.message ?? '') };
    default:
      return outcome;
  }
}

function toUsage(u: Record<string, unknown> | undefined): RunUsage | null {
  if (!u) return null;
  const n = (v: unknown) => (typeof v === 'number' ? v : 0);
  return {
    input_tokens: n(u.input_tokens),
    cached_input_tokens: n(u.cached_input_tokens),
    output_tokens: n(u.output_tokens),
    reasoning_output_tokens: n(u.reasoning_output_tokens),
  };
}

/** Codex's thread ids are UUIDs; anything else is not a session to resume (nor a file name to trust). */
function isThreadId(value: unknown): value is string {
  return typeof value === 'string' && /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value);
}

/** A thread's usage at a run's end: what it had when the run began, and the run's own. */
export function threadUsage(before: RunUsage | null, own: RunUsage | null): RunUsage | null {
  if (!before || !own) return own ?? before;
  const plus = (key: keyof RunUsage) => before[key] + own[key];
  return { input_tokens: plus('input_tokens'), cached_input_tokens: plus('cached_input_tokens'), output_tokens: plus('output_tokens'), reasoning_output_tokens: plus('reasoning_output_tokens') };
}

/**
 * A follow-up's own usage: Codex's counts are its thread's, from the first run on (a resumed
 * session starts from its recorded totals); `before` is what they were when the follow-up began.
 */
export function turnUsage(usage: RunUsage | null, before: RunUsage | null): RunUsage | null {
  if (!usage || !before) return usage;
  const minus = (key: keyof RunUsage) => Math.max(0, usage[key] - before[key]);
  return { input_tokens: minus('input_tokens'), cached_input_tokens: minus('cached_input_tokens'), output_tokens: minus('output_tokens'), reasoning_output_tokens: minus('reasoning_output_tokens') };
}
