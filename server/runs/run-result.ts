import type { RunError } from '../domain/run-error.js';
import { isStorageFull, STORAGE_FULL_MESSAGE } from '../domain/storage-full.js';
import { SandboxError } from '../sandbox/driver.js';
import { CollectTimeoutError } from './collect-artifacts.js';
import type { CodexOutcome } from './codex-outcome.js';
import { NetworkPolicyError } from './phase-network.js';
import type { Run, RunStatus } from './run.js';
import { SetupFailedError } from './setup-phase.js';

/** How a run ended: the fields of the run that its execution decides. */
export type RunResult = Pick<Run, 'exitCode' | 'finalMessage' | 'output' | 'usage' | 'error' | 'changes' | 'providerUsage' | 'hasDiff' | 'hasWorkspace' | 'leftOut' | 'artifactProblem' | 'threadId' | 'hasSession'> & {
  status: Exclude<RunStatus, 'queued' | 'running'>;
};

/** The result of a run whose Codex exited: what its exit, its events and the sandbox's state say. */
export function codexResult(
  exitCode: number,
  outcome: CodexOutcome,
  stderrTail: string,
  outOfMemoryMb: number | null,
  providerFault: RunError | null,
): Omit<RunResult, 'output' | 'changes' | 'providerUsage' | 'hasDiff' | 'hasWorkspace' | 'leftOut' | 'artifactProblem' | 'threadId' | 'hasSession'> {
  const base = { exitCode, finalMessage: outcome.finalMessage, usage: outcome.usage };
  if (outOfMemoryMb !== null) {
    return { ...base, status: 'failed', error: { code: 'out_of_memory', message: `the sandbox ran out of memory (${outOfMemoryMb} MB): codex exited with code ${exitCode}` } };
  }
  // Codex gave up after the gateway saw the provider fail (a stream broken off): that is the cause, and it names the provider.
  if (outcome.failure && providerFault) return { ...base, status: 'failed', error: providerFault };
  if (outcome.failure) return { ...base, status: 'failed', error: { code: 'codex_failed', message: outcome.failure } };
  if (exitCode !== 0) {
    const detail = lastLines(stderrTail) || outcome.lastError || 'no output';
    return { ...base, status: 'failed', error: { code: 'codex_failed', message: `codex exited with code ${exitCode}: ${detail}` } };
  }
  return { ...base, status: 'succeeded', error: null };
}

/** A run that ended before its artifacts were collected, with what Codex had said by then. */
export function ended(status: RunResult['status'], error: RunError, exitCode: number | null, outcome: CodexOutcome): RunResult {
  return { status, error, exitCode, finalMessage: outcome.finalMessage, output: null, usage: outcome.usage, changes: null, providerUsage: null, hasDiff: false, hasWorkspace: false, leftOut: [], artifactProblem: null, threadId: outcome.threadId, hasSession: false };
}

/**
 * The error a run's execution ends with for what it threw (not a stop: that is the stop's own),
 * and the log line it deserves when the operator should hear of it.
 */
export function failureOf(err: unknown): { error: RunError; logAs: string | null } {
  // The baseline, the diff or the workspace export found no room in the data_dir.
  if (isStorageFull(err)) return { error: { code: 'storage_full', message: `${STORAGE_FULL_MESSAGE}: the run's diff and workspace could not be kept` }, logAs: "the run's files found no room" };
  if (err instanceof SetupFailedError) return { error: { code: 'setup_failed', message: err.message }, logAs: null };
  if (err instanceof NetworkPolicyError) return { error: { code: 'network_policy_failed', message: err.message }, logAs: 'could not apply a network policy' };
  if (err instanceof CollectTimeoutError) return { error: { code: 'collect_timeout', message: err.message }, logAs: null };
  if (err instanceof SandboxError) return { error: { code: err.code, message: err.message }, logAs: 'sandbox failed' };
  return { error: { code: 'internal', message: 'internal error while running' }, logAs: 'run failed unexpectedly' };
}

function lastLines(text: string, count = 5): string {
  return text.trim().split('\n').slice(-count).join('\n');
}
