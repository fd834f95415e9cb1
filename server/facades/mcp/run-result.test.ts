import { describe, expect, it } from 'vitest';
import { runView } from '../../runs/run.js';
import { sampleRun } from '../../runs/test-runs.js';
import { codexRunOutput, runDiffOutput, runStatusOutput } from './tool-schemas.js';
import { codexRunResult, diffUnavailable, runDiffResult, runStatusResult } from './run-result.js';

const ended = (over = {}) =>
  sampleRun({ id: 'run_1', status: 'succeeded', finishedAt: new Date('2026-01-01T00:00:00Z'), finalMessage: 'Done.', hasDiff: true, hasWorkspace: true, ...over });
const text = (r: { content: unknown[] }) => (r.content[0] as { text: string }).text;

describe('codexRunResult', () => {
  it('gives a succeeded run its final message, a summary and the diff, as text and as output the schema takes', () => {
    const run = ended({ changes: { files_changed: 1, insertions: 1, deletions: 1, files: [{ path: 'a', insertions: 1, deletions: 1 }] } });
    const result = codexRunResult(run, { text: '-x\n+y\n', offset: 0, nextOffset: null });
    expect(result.isError).toBeUndefined();
    expect(codexRunOutput.parse(result.structuredContent)).toMatchObject({ run_id: 'run_1', status: 'succeeded', final_message: 'Done.', diff: '-x\n+y\n', diff_truncated: false, diff_next_offset: null });
    expect(text(result)).toBe('Done.\n\nrun run_1 succeeded: 1 files changed, +1 -1\n\n```diff\n-x\n+y\n```');
  });

  it("makes any other end an error result carrying the run's error, within the output schema still", () => {
    const run = ended({ status: 'timed_out', finalMessage: null, error: { code: 'timeout', message: 'the run passed its 60 s' } });
    const result = codexRunResult(run, null);
    expect(result.isError).toBe(true);
    expect(codexRunOutput.parse(result.structuredContent)).toMatchObject({ status: 'timed_out', error: { code: 'timeout' }, diff: null });
    expect(text(result)).toContain('run run_1 timed_out (timeout: the run passed its 60 s)');
  });

  it('says where a cut diff goes on', () => {
    const result = codexRunResult(ended(), { text: '+a\n', offset: 0, nextOffset: 3 });
    expect(result.structuredContent).toMatchObject({ diff_truncated: true, diff_next_offset: 3 });
    expect(text(result)).toContain('codex_run_diff with run_id run_1 and offset 3');
  });
});

describe('runStatusResult and runDiffResult', () => {
  it("shows a waiting run's place in line", () => {
    const view = { ...runView(sampleRun({ id: 'run_2', status: 'queued' })), queue_position: 2 };
    const result = runStatusResult(view);
    expect(runStatusOutput.parse(result.structuredContent)).toEqual(view);
    expect(text(result)).toBe('run run_2 is queued (place 2 in line)');
  });

  it('gives a page of diff as the text and says when a run changed nothing', () => {
    expect(runDiffOutput.parse(runDiffResult('run_1', { text: '+a\n', offset: 0, nextOffset: null }).structuredContent)).toEqual({ run_id: 'run_1', diff: '+a\n', offset: 0, next_offset: null });
    expect(text(runDiffResult('run_1', { text: '', offset: 0, nextOffset: null }))).toBe('run run_1 changed nothing');
  });
});

describe('diffUnavailable', () => {
  it('answers as GET /v1/runs/{id}/diff does: not ended 409, expired 410, none 404', () => {
    expect(diffUnavailable(sampleRun({ status: 'running' }))?.code).toBe('run_not_finished');
    expect(diffUnavailable(ended({ artifactsExpired: true }))?.code).toBe('artifact_expired');
    expect(diffUnavailable(ended({ hasDiff: false }))?.code).toBe('not_found');
    expect(diffUnavailable(ended())).toBeUndefined();
  });
});
