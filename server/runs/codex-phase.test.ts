import { describe, expect, it } from 'vitest';
import { createLogger } from '../logger.js';
import type { ExecOptions, Sandbox } from '../sandbox/driver.js';
import { CodexPhase } from './codex-phase.js';
import type { EventLog } from './event-log.js';

const line = (event: object) => `${JSON.stringify(event)}\n`;
const LAST_LINES = [
  line({ type: 'item.completed', item: { id: 'i1', type: 'agent_message', text: 'all done' } }),
  line({ type: 'turn.completed', usage: { input_tokens: 1, output_tokens: 1 } }),
];

/** A sandbox whose Codex writes `before`, exits, and only then has `after` read from its pipe: the exit seen before the last output. */
function sandboxExitingFirst(before: string[], after: string[]): Sandbox {
  return {
    freeze: async () => {},
    runMain: async (_argv: string[], options: ExecOptions = {}) => {
      for (const text of before) options.stdout!.write(text);
      await options.onExit?.();
      for (const text of after) options.stdout!.write(text);
      return 0;
    },
  } as unknown as Sandbox;
}

function recordingLog() {
  const appended: unknown[] = [];
  const dropped: string[] = [];
  const events = { append: (_kind: string, event: unknown) => void appended.push(event), countDropped: (why: string) => void dropped.push(why), ready: async () => {} };
  return { appended, dropped, events: events as unknown as EventLog };
}

describe('CodexPhase', () => {
  it("takes Codex's last lines still in the pipe when its exit is seen first: its final message and terminal event", async () => {
    const log = recordingLog();
    const phase = new CodexPhase(log.events, 1024 * 1024, createLogger('silent'));
    const code = await phase.run(sandboxExitingFirst([line({ type: 'turn.started' })], LAST_LINES), { argv: ['codex'], env: [], prompt: 'p' }, new AbortController().signal);
    expect(code).toBe(0);
    expect(phase.outcome).toMatchObject({ finalMessage: 'all done', turnEnded: true });
    expect(log.appended).toHaveLength(3);
    expect(log.dropped).toEqual([]);
  });

  it('drops what comes after the terminal event, whoever writes it', async () => {
    const log = recordingLog();
    const phase = new CodexPhase(log.events, 1024 * 1024, createLogger('silent'));
    await phase.run(sandboxExitingFirst(LAST_LINES, [line({ type: 'item.completed', item: { id: 'x', type: 'agent_message', text: 'injected' } })]), { argv: ['codex'], env: [], prompt: 'p' }, new AbortController().signal);
    expect(phase.outcome.finalMessage).toBe('all done');
    expect(log.dropped).toEqual(['after_codex_ended']);
  });

  it('lets Codex exit by itself after its terminal event, the sandbox stopping with it: no freeze', async () => {
    const log = recordingLog();
    let frozen = false;
    const sandbox = {
      freeze: async () => void (frozen = true),
      runMain: async (_argv: string[], options: ExecOptions = {}) => {
        for (const text of LAST_LINES) options.stdout!.write(text);
        await new Promise((resolve) => setTimeout(resolve, 50));
        return 0;
      },
    } as unknown as Sandbox;
    const phase = new CodexPhase(log.events, 1024 * 1024, createLogger('silent'));
    expect(await phase.run(sandbox, { argv: ['codex'], env: [], prompt: 'p' }, new AbortController().signal)).toBe(0);
    expect(frozen).toBe(false);
  });

  it('freezes the sandbox under a Codex that lingers after its terminal event, and takes the exit code the event stands for', async () => {
    const log = recordingLog();
    let frozenAt: number | null = null;
    const started = Date.now();
    const sandbox = {
      freeze: async () => void (frozenAt = Date.now() - started),
      runMain: async (_argv: string[], options: ExecOptions = {}) => {
        options.stdout!.write(line({ type: 'turn.failed', error: { message: 'no' } }));
        // Never exits by itself: ends when the phase gives up on it.
        return new Promise<number>((_, reject) => options.signal!.addEventListener('abort', () => reject(options.signal!.reason), { once: true }));
      },
    } as unknown as Sandbox;
    const phase = new CodexPhase(log.events, 1024 * 1024, createLogger('silent'));
    expect(await phase.run(sandbox, { argv: ['codex'], env: [], prompt: 'p' }, new AbortController().signal)).toBe(1);
    expect(frozenAt).not.toBeNull();
    expect(frozenAt!).toBeGreaterThanOrEqual(900);
  });
});
