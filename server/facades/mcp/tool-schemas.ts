// The MCP tools' arguments and results. The SDK turns these zod schemas into the JSON Schemas that
// `tools/list` shows, checks each call's arguments against them, and the SDK's client checks each
// result's `structuredContent` against the output schema.
import { z } from 'zod';
import { changeSummarySchema, runErrorSchema, runViewSchema } from '../../runs/run-wire.js';
import { runStatuses } from '../../runs/run.js';
import { workspaceSourceSchema } from '../../http/workspace-source.js';

const runId = z.string().min(1).max(100).describe('A run id as codex_run returned it (run_...)');

export const codexRunInput = {
  prompt: z.string().min(1).describe('The task for Codex'),
  workspace: workspaceSourceSchema
    .optional()
    .describe('The files Codex starts from: {"files": {"relative/path": "UTF-8 content"}}, or {"from_run": "<run id>"} to start from the final workspace of an earlier run; an empty workspace when absent'),
  continue_run: runId
    .optional()
    .describe("A follow-up turn of this ended run instead of a new one: Codex resumes its session (it sees the earlier turns) in its final workspace; the run's provider and model unless given. Not with workspace"),
  provider: z.string().min(1).max(64).optional().describe("One of the server's configured providers; the server's default when absent"),
  model: z.string().min(1).max(200).optional().describe("The provider's model; the server's default when absent"),
  timeout_s: z.number().int().positive().optional().describe("The run's time limit in seconds, up to the server's maximum"),
};

export const runStatusInput = { run_id: runId };

export const runDiffInput = {
  run_id: runId,
  offset: z.number().int().min(0).optional().describe("Where to start reading, in bytes: the previous page's next_offset; 0 when absent"),
};

export const codexRunOutput = z.object({
  run_id: z.string(),
  status: z.enum(runStatuses),
  final_message: z.string().nullable(),
  error: runErrorSchema.nullable(),
  changes: changeSummarySchema.nullable(),
  /** The unified diff (git's format, binary patches included) of what Codex changed; null when the run has none. */
  diff: z.string().nullable(),
  /** The diff passed the size a tool result carries: codex_run_diff pages on from diff_next_offset. */
  diff_truncated: z.boolean(),
  diff_next_offset: z.number().int().nullable(),
});

export type CodexRunOutput = z.output<typeof codexRunOutput>;

export const runStatusOutput = runViewSchema;

export const runDiffOutput = z.object({
  run_id: z.string(),
  /** Whole lines of the diff from `offset`, as many as a page holds. */
  diff: z.string(),
  offset: z.number().int(),
  /** Where the next page starts; null on the last. */
  next_offset: z.number().int().nullable(),
});

export type RunDiffOutput = z.output<typeof runDiffOutput>;
