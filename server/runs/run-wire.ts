// The run as the API shows it: zod schemas are the one source of the wire's types (an OpenAPI
// document can be generated from them), and the run record keeps the figures it passes through
// (Codex's usage, the diff's summary, the gateway's usage) in their wire shape.
import { z } from 'zod';
import { runStatuses } from './run-status.js';

export const runUsageSchema = z.object({
  input_tokens: z.number().int(),
  cached_input_tokens: z.number().int(),
  output_tokens: z.number().int(),
  reasoning_output_tokens: z.number().int(),
});

export const fileChangeSchema = z.object({
  path: z.string(),
  /** null for binary files */
  insertions: z.number().int().nullable(),
  deletions: z.number().int().nullable(),
});

export const changeSummarySchema = z.object({
  files_changed: z.number().int(),
  insertions: z.number().int(),
  deletions: z.number().int(),
  files: z.array(fileChangeSchema),
});

export const providerUsageSchema = z.object({
  requests: z.number().int(),
  input_tokens: z.number().int(),
  output_tokens: z.number().int(),
  total_tokens: z.number().int(),
});

export const runErrorSchema = z.object({ code: z.string(), message: z.string() });

export const leftOutSchema = z.object({
  path: z.string(),
  reason: z.enum(['over_workspace_cap', 'fifo', 'character-device', 'block-device', 'unknown_type', 'unrepresentable', 'link_target_missing']),
});

/** A run's completion webhook and how its delivery went. */
export const runWebhookSchema = z.object({
  url: z.string(),
  state: z.enum(['pending', 'delivered', 'failed']),
  attempts: z.number().int(),
  last_error: z.string().nullable(),
});

export const runViewSchema = z.object({
  id: z.string(),
  status: z.enum(runStatuses),
  created_at: z.iso.datetime(),
  started_at: z.iso.datetime().nullable(),
  finished_at: z.iso.datetime().nullable(),
  provider: z.string(),
  model: z.string(),
  /** The [environments.NAME] the run runs in. */
  environment: z.string(),
  timeout_s: z.number().int(),
  exit_code: z.number().int().nullable(),
  final_message: z.string().nullable(),
  /** The final message's JSON, for a run given an output_schema that it matched; null otherwise. */
  output: z.unknown(),
  usage: runUsageSchema.nullable(),
  error: runErrorSchema.nullable(),
  changes: changeSummarySchema.nullable(),
  provider_usage: providerUsageSchema.nullable(),
  left_out: z.array(leftOutSchema),
  artifact_problem: z.string().nullable(),
  events_truncated: z.boolean(),
  events_dropped: z.number().int(),
  artifacts_expired: z.boolean(),
  webhook: runWebhookSchema.nullable(),
  /** The run this one follows up (POST /v1/runs/{id}/follow-ups): it began from that run's final workspace and Codex session. */
  parent_id: z.string().nullable(),
  /** The first run of the conversation, whose upload `GET …/diff?base=root` diffs against; null on that first run. */
  root_id: z.string().nullable(),
  /** Whether a follow-up can continue this run: it ended with its workspace and Codex's session kept. */
  resumable: z.boolean(),
  /** A waiting run's place in line (1 starts next), on GET and list answers; null once it is not waiting. */
  queue_position: z.number().int().min(1).nullable().optional(),
});

export type RunView = z.output<typeof runViewSchema>;

/** A `run` event at each change of status, carrying the run's record as it then was. */
export const runStatusEventSchema = z.object({
  type: z.enum(['run.queued', 'run.started', 'run.succeeded', 'run.failed', 'run.timed_out', 'run.cancelled']),
  run: runViewSchema,
});

/** The `run` event that marks the first Codex event not stored: the run's event log reached a limit. */
export const eventsTruncatedEventSchema = z.object({
  type: z.literal('run.events_truncated'),
  reason: z.enum(['max_events', 'max_bytes', 'line_too_long']),
  max_events: z.number().int(),
  max_bytes: z.number().int(),
  max_line_bytes: z.number().int(),
});

/** The environment's setup, before Codex starts: each command's start, its output a line at a time (setup secrets redacted), its end. */
export const setupEventSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('setup.started'), index: z.number().int(), command: z.string() }),
  z.object({ type: z.literal('setup.output'), index: z.number().int(), stream: z.enum(['stdout', 'stderr']), text: z.string() }),
  z.object({ type: z.literal('setup.output_truncated'), max_bytes: z.number().int() }),
  z.object({ type: z.literal('setup.finished'), index: z.number().int(), exit_code: z.number().int(), ms: z.number().int() }),
]);

/** A connection the sandbox asked the run's egress proxy for (an "allowlist" phase, or a refused try outside one). */
export const egressEventSchema = z.discriminatedUnion('type', [
  // egress/egress-event.ts makes it.
  z.object({
    type: z.literal('egress'),
    host: z.string(),
    port: z.number().int(),
    address: z.string().nullable(),
    allowed: z.boolean(),
    reason: z.string().optional(),
    bytes_up: z.number().int(),
    bytes_down: z.number().int(),
    ms: z.number(),
  }),
  z.object({ type: z.literal('egress.events_truncated'), max_events: z.number().int() }),
]);

/** One event of a run's stream: the run's own (`run`), its environment's setup (`setup`), its egress (`egress`), or a line of Codex's JSONL as Codex wrote it (`codex`). */
export const runEventSchema = z.discriminatedUnion('kind', [
  z.object({ seq: z.number().int(), kind: z.literal('egress'), data: egressEventSchema }),
  z.object({ seq: z.number().int(), kind: z.literal('setup'), data: setupEventSchema }),
  z.object({ seq: z.number().int(), kind: z.literal('run'), data: z.union([runStatusEventSchema, eventsTruncatedEventSchema]) }),
  z.object({ seq: z.number().int(), kind: z.literal('codex'), data: z.record(z.string(), z.unknown()) }),
]);

export type RunStatusEvent = z.output<typeof runStatusEventSchema>;
/** An event of a run's stream as a reader gets it. */
export type RunStreamEvent = z.output<typeof runEventSchema>;
