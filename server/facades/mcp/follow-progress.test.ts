import { describe, expect, it } from 'vitest';
import type { RunStreamEvent } from '../../runs/run-wire.js';
import { followProgress } from './follow-progress.js';

const view = (status: string) => ({ id: 'run_1', status }) as never;

async function* events(): AsyncGenerator<RunStreamEvent> {
  yield { seq: 1, kind: 'run', data: { type: 'run.queued', run: view('queued') } };
  yield { seq: 2, kind: 'run', data: { type: 'run.started', run: view('running') } };
  yield { seq: 3, kind: 'codex', data: { type: 'thread.started', thread_id: 't' } };
  yield { seq: 4, kind: 'codex', data: { type: 'item.completed', item: { type: 'command_execution', command: 'npm test' } } };
  yield { seq: 5, kind: 'run', data: { type: 'run.succeeded', run: view('succeeded') } };
}

describe('followProgress', () => {
  it("reports the run's queued and started events and each Codex event the describer makes a line of, numbered from 1", async () => {
    const reported: [number, string][] = [];
    const describe = (e: { data: Record<string, unknown> }) => (e.data.type === 'item.completed' ? `$ ${(e.data.item as { command: string }).command}` : null);
    const steps = await followProgress(events(), describe, async (step, message) => {
      reported.push([step, message]);
    });
    expect(reported).toEqual([
      [1, 'run run_1 queued'],
      [2, 'run run_1 started'],
      [3, '$ npm test'],
    ]);
    expect(steps).toBe(3);
  });

  it('waits for each report before reading on', async () => {
    const order: string[] = [];
    async function* two(): AsyncGenerator<RunStreamEvent> {
      order.push('read 1');
      yield { seq: 1, kind: 'codex', data: { type: 'a' } };
      order.push('read 2');
      yield { seq: 2, kind: 'codex', data: { type: 'b' } };
    }
    await followProgress(two(), (e) => String(e.data.type), async (_, message) => {
      await new Promise((r) => setTimeout(r, 5));
      order.push(`reported ${message}`);
    });
    expect(order).toEqual(['read 1', 'reported a', 'read 2', 'reported b']);
  });
});
