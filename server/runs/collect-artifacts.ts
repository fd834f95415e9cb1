import type { Logger } from 'pino';
import { exportWorkspace, type LeftOut } from '../archive/export-workspace.js';
import { WORKSPACE_DIR } from '../sandbox/container-spec.js';
import type { Sandbox } from '../sandbox/driver.js';
import { diffFinalTree, type BaselineIndex } from '../tree-diff/index.js';
import type { RunFiles } from './run-files.js';
import type { ChangeSummary } from './run.js';

export interface CollectLimits {
  /** The workspace cap: what the export and the diff read of the final tree, in apparent bytes. */
  maxBytes: number;
  maxPatchBytes: number;
  /** Past this the collection is given up: a clear error rather than a run held until its timeout. */
  timeoutMs: number;
}

export interface Collected {
  changes: ChangeSummary | null;
  hasDiff: boolean;
  hasWorkspace: boolean;
  leftOut: LeftOut[];
  /** Why an artifact is missing or incomplete, for the run's record; null when both are whole. */
  problem: string | null;
}

export class CollectTimeoutError extends Error {}

/**
 * Reads the final workspace of a frozen sandbox twice, side by side: once into the exported
 * `.tar.gz`, once into the diff against the baseline, which the server computes itself from what
 * it spooled. Nothing runs in the sandbox any more, so neither read can be fed by the run. The
 * workspace is kept even when the diff cannot be made.
 */
export async function collectArtifacts(
  sandbox: Sandbox,
  baseline: BaselineIndex,
  files: RunFiles,
  limits: CollectLimits,
  signal: AbortSignal,
  log: Logger,
): Promise<Collected> {
  const deadline = AbortSignal.timeout(limits.timeoutMs);
  const both = AbortSignal.any([signal, deadline]);
  const [exported, diffed] = await Promise.allSettled([
    (async () => exportWorkspace(await sandbox.getArchive(WORKSPACE_DIR, both), files.workspace, { stripPrefix: 'workspace/', maxBytes: limits.maxBytes, signal: both }))(),
    (async () =>
      diffFinalTree(baseline, await sandbox.getArchive(WORKSPACE_DIR, both), {
        patchPath: files.diff,
        maxBytes: limits.maxBytes,
        maxPatchBytes: limits.maxPatchBytes,
        stripPrefix: 'workspace/',
        signal: both,
      }))(),
  ]);
  signal.throwIfAborted();
  if (deadline.aborted) throw new CollectTimeoutError(`collecting the workspace and the diff took longer than ${limits.timeoutMs / 1000} s`);
  if (exported.status === 'rejected') throw exported.reason;

  const leftOut = [...exported.value.leftOut];
  const problems: string[] = [];
  if (exported.value.truncated) problems.push(`the workspace stops at ${exported.value.leftOut.at(-1)?.path}, a file that passes the workspace cap`);
  if (diffed.status === 'rejected') {
    log.error({ err: diffed.reason }, 'could not make the diff');
    problems.push('the diff could not be made');
    return { changes: null, hasDiff: false, hasWorkspace: true, leftOut, problem: problems.join('; ') };
  }
  const diff = diffed.value;
  for (const omitted of diff.omitted) if (!leftOut.some((l) => l.path === omitted.path)) leftOut.push({ path: omitted.path, reason: omitted.reason === 'max_bytes' || omitted.reason === 'max_entries' ? 'over_workspace_cap' : omitted.reason });
  if (!diff.patch.written) problems.push(`the diff is larger than ${limits.maxPatchBytes} bytes and was not kept`);
  return { changes: diff.changes, hasDiff: diff.patch.written, hasWorkspace: true, leftOut, problem: problems.length ? problems.join('; ') : null };
}
