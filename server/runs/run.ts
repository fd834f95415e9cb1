import type { LeftOut } from '../archive/export-workspace.js';
import type { ProviderUsage } from '../domain/provider-usage.js';
import type { RunError } from '../domain/run-error.js';

export const runStatuses = ['queued', 'running', 'succeeded', 'failed', 'timed_out', 'cancelled'] as const;
export type RunStatus = (typeof runStatuses)[number];

const transitions: Record<RunStatus, readonly RunStatus[]> = {
  queued: ['running', 'cancelled', 'failed'],
  running: ['succeeded', 'failed', 'timed_out', 'cancelled'],
  succeeded: [],
  failed: [],
  timed_out: [],
  cancelled: [],
};

export function canTransition(from: RunStatus, to: RunStatus): boolean {
  return transitions[from].includes(to);
}

export function isTerminal(status: RunStatus): boolean {
  return transitions[status].length === 0;
}

/** Codex's cumulative token counts from `turn.completed`. */
export interface RunUsage {
  input_tokens: number;
  cached_input_tokens: number;
  output_tokens: number;
  reasoning_output_tokens: number;
}

export interface FileChange {
  path: string;
  /** null for binary files */
  insertions: number | null;
  deletions: number | null;
}

export interface ChangeSummary {
  files_changed: number;
  insertions: number;
  deletions: number;
  files: FileChange[];
}

export interface Run {
  id: string;
  tenant: string;
  status: RunStatus;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
  provider: string;
  model: string;
  timeoutS: number;
  exitCode: number | null;
  finalMessage: string | null;
  usage: RunUsage | null;
  error: RunError | null;
  changes: ChangeSummary | null;
  /** What the gateway saw the provider report, summed over the run's requests. */
  providerUsage: ProviderUsage | null;
  /** Artifacts exist only for runs that got as far as collecting them. */
  hasDiff: boolean;
  hasWorkspace: boolean;
  /** Paths of the final tree that are not in the workspace or the diff, and why. */
  leftOut: LeftOut[];
  /** Why the diff or the workspace is missing or incomplete; null when both are whole. */
  artifactProblem: string | null;
  /** Codex events counted but not stored because the run's event log reached a limit. */
  eventsDropped: number;
}

/** The run as the API shows it. */
export function runView(run: Run) {
  return {
    id: run.id,
    status: run.status,
    created_at: run.createdAt.toISOString(),
    started_at: run.startedAt?.toISOString() ?? null,
    finished_at: run.finishedAt?.toISOString() ?? null,
    provider: run.provider,
    model: run.model,
    timeout_s: run.timeoutS,
    exit_code: run.exitCode,
    final_message: run.finalMessage,
    usage: run.usage,
    error: run.error,
    changes: run.changes,
    provider_usage: run.providerUsage,
    left_out: run.leftOut,
    artifact_problem: run.artifactProblem,
    events_truncated: run.eventsDropped > 0,
    events_dropped: run.eventsDropped,
  };
}
