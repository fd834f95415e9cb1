// What `run` does once its run has ended: a summary on stderr, the diff (and --out's workspace)
// downloaded, --apply's git apply, the result on stdout, and the exit status.
import path from 'node:path';
import type { ApiClient } from './api-client.js';
import { exitCodeForStatus, type ExitCode } from './exit-codes.js';
import { applyPatch } from './git-apply.js';
import { formatElapsed } from './progress-text.js';
import { downloadArtifact, type DiffBase } from './run-artifacts.js';
import type { RunView } from '../runs/run-wire.js';

export interface ResultFlags {
  apply?: boolean;
  diff?: string;
  out?: string;
  json?: boolean;
  schema?: string;
  base?: DiffBase;
}

/** A final message this long is shown whole on stderr when it did not match the schema; longer, cut. */
const UNMATCHED_SHOWN_CHARS = 2000;

export async function finishRun(client: ApiClient, dir: string, run: RunView, flags: ResultFlags, elapsedMs: number): Promise<ExitCode> {
  const say = (text: string) => process.stderr.write(`${text}\n`);
  const changes = run.changes ? `${run.changes.files_changed} files changed, +${run.changes.insertions} -${run.changes.deletions}` : 'no diff';
  say(`${run.id} ${run.status} in ${formatElapsed(elapsedMs)}: ${changes}`);
  if (run.error) say(`error: ${run.error.code}: ${run.error.message}`);
  if (run.error?.code === 'output_invalid' && run.final_message) {
    const shown = run.final_message.length > UNMATCHED_SHOWN_CHARS ? `${run.final_message.slice(0, UNMATCHED_SHOWN_CHARS)}…` : run.final_message;
    say(`the final message, which is not what the schema asked for:\n${shown}`);
  }

  let diff: { file: string; bytes: number } | null = null;
  if (run.changes && !run.artifacts_expired) {
    const file = path.resolve(flags.diff ?? `codex-runner-${run.id}.patch`);
    const bytes = await downloadArtifact(client, run.id, 'diff', file, { base: flags.base });
    diff = { file, bytes };
    say(`diff: ${file}${flags.base === 'root' ? ` (every turn's changes, since ${run.root_id ?? 'the first run'}'s upload)` : ''}`);
  }
  if (flags.out) {
    await downloadArtifact(client, run.id, 'workspace', path.resolve(flags.out));
    say(`workspace: ${path.resolve(flags.out)}`);
  }
  if (flags.apply) {
    if (run.status !== 'succeeded') say('not applying the diff: the run did not succeed');
    // The file, not run.changes: a cumulative diff can hold changes when this turn made none.
    else if (!diff || diff.bytes === 0) say('nothing to apply');
    else {
      await applyPatch(dir, diff.file);
      say(`applied to ${dir}`);
    }
  }
  const result = resultText(run, flags);
  if (result !== null) process.stdout.write(result);
  return exitCodeForStatus(run.status);
}

/**
 * stdout: the run as JSON with --json; for a run held to a schema, its output as one JSON document,
 * or nothing when there is none (a script reading it gets JSON or nothing); else the final message.
 */
export function resultText(run: RunView, flags: Pick<ResultFlags, 'json' | 'schema'>): string | null {
  if (flags.json) return `${JSON.stringify(run)}\n`;
  const heldToSchema = flags.schema !== undefined || (run.output !== null && run.output !== undefined) || run.error?.code === 'output_invalid';
  if (heldToSchema) return run.status === 'succeeded' && run.output !== undefined && run.output !== null ? `${JSON.stringify(run.output, null, 2)}\n` : null;
  return run.final_message ? `${run.final_message}\n` : null;
}
