import { describe, expect, it } from 'vitest';
import { parseConfig } from '../config/config.js';
import { newRunRecord } from './live-run.js';
import { planRun } from './run-plan.js';
import { eventsTruncatedEventSchema, runEventSchema, runViewSchema } from './run-wire.js';
import { runView } from './run.js';

const config = parseConfig({});
const plan = planRun({ ...config, providerProblems: {} }, 'ci', {});

describe('the run on the wire', () => {
  it('is what the schema says for a queued run and for an ended one with every figure set', () => {
    const queued = newRunRecord('run_1', 'ci', plan);
    expect(runViewSchema.parse(runView(queued))).toEqual(runView(queued));
    const ended = {
      ...queued,
      status: 'succeeded' as const,
      startedAt: new Date(),
      finishedAt: new Date(),
      exitCode: 0,
      finalMessage: 'done',
      usage: { input_tokens: 10, cached_input_tokens: 2, output_tokens: 3, reasoning_output_tokens: 0 },
      changes: { files_changed: 1, insertions: 1, deletions: 0, files: [{ path: 'a.bin', insertions: null, deletions: null }] },
      providerUsage: { requests: 2, input_tokens: 10, output_tokens: 3, total_tokens: 13 },
      leftOut: [{ path: 'sparse', reason: 'over_workspace_cap' as const }],
      artifactProblem: 'files that pass the workspace cap were left out of the workspace and the diff',
      eventsDropped: 4,
    };
    const view = runView(ended);
    expect(runViewSchema.parse(view)).toEqual(view);
    expect(view.events_truncated).toBe(true);
  });

  it('refuses what is not a run event: an unknown kind, a status event without its run', () => {
    expect(runEventSchema.safeParse({ seq: 1, kind: 'other', data: {} }).success).toBe(false);
    expect(runEventSchema.safeParse({ seq: 1, kind: 'run', data: { type: 'run.queued' } }).success).toBe(false);
    expect(runEventSchema.safeParse({ seq: 2, kind: 'codex', data: { type: 'turn.started' } }).success).toBe(true);
    expect(eventsTruncatedEventSchema.safeParse({ type: 'run.events_truncated', reason: 'max_bytes', max_events: 1, max_bytes: 2, max_line_bytes: 3 }).success).toBe(true);
  });
});
