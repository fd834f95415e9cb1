import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { ApiError } from '../../http/api-error.js';
import type { RunView } from '../../runs/run-wire.js';
import { isTerminal, type Run } from '../../runs/run.js';
import type { DiffPage } from './diff-page.js';
import type { CodexRunOutput, RunDiffOutput } from './tool-schemas.js';

/** An ended run as `codex_run`'s result: an error result unless it succeeded, with the run's own error. */
export function codexRunResult(run: Run, diff: DiffPage | null): CallToolResult {
  const structured: CodexRunOutput = {
    run_id: run.id,
    status: run.status,
    final_message: run.finalMessage,
    error: run.error,
    changes: run.changes,
    diff: diff?.text ?? null,
    diff_truncated: diff?.nextOffset != null,
    diff_next_offset: diff?.nextOffset ?? null,
  };
  const parts = [run.finalMessage ?? '(Codex gave no final message)', summaryLine(run)];
  if (diff?.text) parts.push('```diff\n' + diff.text + (diff.text.endsWith('\n') ? '' : '\n') + '```');
  if (diff?.nextOffset != null) parts.push(cutNote(run.id, diff.nextOffset));
  return { content: [{ type: 'text', text: parts.join('\n\n') }], structuredContent: structured, ...(run.status === 'succeeded' ? {} : { isError: true }) };
}

/** `codex_run_status`: the run as `GET /v1/runs/{id}` shows it. */
export function runStatusResult(view: RunView): CallToolResult {
  const place = view.queue_position ? ` (place ${view.queue_position} in line)` : '';
  const lines = [`run ${view.id} is ${view.status}${place}`];
  if (view.error) lines.push(`error ${view.error.code}: ${view.error.message}`);
  if (view.final_message) lines.push('', view.final_message);
  return { content: [{ type: 'text', text: lines.join('\n') }], structuredContent: view };
}

/** `codex_run_diff`: a page of the diff itself as the text. */
export function runDiffResult(runId: string, page: DiffPage): CallToolResult {
  const structured: RunDiffOutput = { run_id: runId, diff: page.text, offset: page.offset, next_offset: page.nextOffset };
  const empty = page.offset === 0 ? `run ${runId} changed nothing` : `the diff of run ${runId} ends before byte ${page.offset}`;
  const text = page.text ? page.text + (page.nextOffset === null ? '' : `\n${cutNote(runId, page.nextOffset)}`) : empty;
  return { content: [{ type: 'text', text }], structuredContent: structured };
}

/** Why an ended run's diff cannot be read, in the codes `GET /v1/runs/{id}/diff` answers with; undefined when it can. */
export function diffUnavailable(run: Run): ApiError | undefined {
  if (!isTerminal(run.status)) return new ApiError('run_not_finished', `run ${run.id} is ${run.status}; its diff is ready when it ends`);
  if (run.artifactsExpired) return new ApiError('artifact_expired', `run ${run.id} ended ${run.finishedAt?.toISOString()}; retention has removed its diff`);
  if (!run.hasDiff) return new ApiError('not_found', `run ${run.id} ended ${run.status} and has no diff`);
  return undefined;
}

function summaryLine(run: Run): string {
  const changes = run.changes ? `: ${run.changes.files_changed} files changed, +${run.changes.insertions} -${run.changes.deletions}` : '';
  const error = run.error ? ` (${run.error.code}: ${run.error.message})` : '';
  return `run ${run.id} ${run.status}${error}${changes}`;
}

function cutNote(runId: string, nextOffset: number): string {
  return `(the diff goes on: codex_run_diff with run_id ${runId} and offset ${nextOffset} reads the next page; GET /v1/runs/${runId}/diff serves it whole)`;
}
