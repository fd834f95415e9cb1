import type { LeftOut } from '../archive/export-workspace.js';
import type { ProviderUsage } from '../domain/provider-usage.js';
import type { RunError } from '../domain/run-error.js';
import type { RunStatus } from './run-status.js';
import type { changeSummarySchema, runWebhookSchema, fileChangeSchema, leftOutSchema, providerUsageSchema, runUsageSchema, RunView } from './run-wire.js';
import type { z } from 'zod';

import { isTerminal } from './run-status.js';

export { canTransition, isTerminal, runStatuses, type RunStatus } from './run-status.js';

/** Codex's cumulative token counts from `turn.completed`, as Codex names them. */
export type RunUsage = z.output<typeof runUsageSchema>;
export type FileChange = z.output<typeof fileChangeSchema>;
export type ChangeSummary = z.output<typeof changeSummarySchema>;
export type RunWebhook = z.output<typeof runWebhookSchema>;

// The run's figures and the wire's schemas must stay one shape.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : never) : never;
const _usageWire: Same<ProviderUsage, z.output<typeof providerUsageSchema>> = true;
const _leftOutWire: Same<LeftOut, z.output<typeof leftOutSchema>> = true;
void _usageWire;
void _leftOutWire;

export interface Run {
  id: string;
  tenant: string;
  status: RunStatus;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
  provider: string;
  model: string;
  /** The run's environment (`default` for records from before environments). */
  environment?: string;
  timeoutS: number;
  exitCode: number | null;
  finalMessage: string | null;
  /** The parsed JSON of the final message of a run given an output schema, which it matched; null otherwise. */
  output: unknown;
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
  /** Retention removed the run's diff, workspace and events; the record stays. */
  artifactsExpired: boolean;
  /** The completion webhook it asked for, and how its delivery went; null when none. */
  webhook: RunWebhook | null;
  /** The run this one follows up, continuing its workspace and Codex session; null for a first run. */
  parentId: string | null;
  /** The first run of the conversation (whose upload is kept for `?base=root`); null for a first run. */
  rootId: string | null;
  /** Codex's thread: the session a follow-up resumes (a follow-up's is its parent's, from its start). */
  threadId: string | null;
  /** Codex's session was kept with the run's artifacts. */
  hasSession: boolean;
  /** A follow-up's: its thread's usage when it began (the parent's), taken off Codex's counts, which are the thread's. */
  usageBefore: RunUsage | null;
}

/** Whether a follow-up can continue the run: ended, with its final workspace and Codex's session still kept. */
export function isResumable(run: Run): boolean {
  return isTerminal(run.status) && run.hasSession && run.hasWorkspace && run.threadId !== null && !run.artifactsExpired;
}

/** The run as the API shows it. */
export function runView(run: Run): RunView {
  return {
    id: run.id,
    status: run.status,
    created_at: run.createdAt.toISOString(),
    started_at: run.startedAt?.toISOString() ?? null,
    finished_at: run.finishedAt?.toISOString() ?? null,
    provider: run.provider,
    model: run.model,
    environment: run.environment ?? 'default',
    timeout_s: run.timeoutS,
    exit_code: run.exitCode,
    final_message: run.finalMessage,
    output: run.output ?? null,
    usage: run.usage,
    error: run.error,
    changes: run.changes,
    provider_usage: run.providerUsage,
    left_out: run.leftOut,
    artifact_problem: run.artifactProblem,
    events_truncated: run.eventsDropped > 0,
    events_dropped: run.eventsDropped,
    artifacts_expired: run.artifactsExpired,
    webhook: run.webhook,
    parent_id: run.parentId ?? null,
    root_id: run.rootId ?? null,
    resumable: isResumable(run),
  };
}
