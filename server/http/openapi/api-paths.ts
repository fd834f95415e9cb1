// The runs API's routes (and health, metrics, docs) as the OpenAPI document shows them; another
// room's routes have their own table, joined in server/api-document.ts. Schemas are the ones the
// routes validate and answer with; the rest describe what a route builds by hand.
import { z } from 'zod';
import type { ZodOpenApiPathsObject } from 'zod-openapi';
import { runEventSchema, runViewSchema } from '../../runs/run-wire.js';
import { optionsSchema } from '../run-request.js';
import { querySchema as runListQuerySchema } from '../run-list-query.js';
import { errorResponses } from './error-responses.js';

/** Routes of the app left out of the document on purpose, each with its reason. */
export const UNDOCUMENTED_HERE: readonly { method: string; path: string; why: string }[] = [
  { method: 'GET', path: '/docs/assets/{file}', why: "the docs page's own scripts and styles, not part of the API" },
];

const bearer = [{ bearer: [] }];
const json = (schema: z.ZodType) => ({ content: { 'application/json': { schema } } });

const runIdParam = z.object({ id: z.string().meta({ description: 'The run id (`run_` and 20 hex digits)', example: 'run_0123456789abcdef0123' }) });

const runListSchema = z
  .object({
    runs: z.array(runViewSchema),
    next_cursor: z.string().nullable().meta({ description: 'Give it as `cursor` for the next page; null on the last page' }),
  })
  .meta({ id: 'RunList' });

const readySchema = z
  .object({
    status: z.enum(['ready', 'not_ready']),
    problems: z.array(z.string()),
    runs: z.object({ running: z.number().int(), queued: z.number().int() }),
  })
  .meta({ id: 'Readiness' });

const runRequestJson = z
  .object({ prompt: z.string().min(1).meta({ description: "The task for Codex, at most `limits.prompt_max_bytes`" }), options: optionsSchema.optional() })
  .strict();

const runRequestForm = z.object({
  prompt: z.string().min(1),
  workspace: z.string().meta({ format: 'binary', description: 'A tar or tar.gz of the workspace, at most `limits.upload_max_mb` compressed' }).optional(),
  image: z
    .array(z.string().meta({ format: 'binary' }))
    .optional()
    .meta({ description: 'Images for Codex (`--image`), in order: PNG, JPEG, WebP or GIF by their first bytes, at most `limits.image_max_count`, each at most `limits.image_max_mb`' }),
  options: z.string().meta({ description: 'The options as a JSON object (see RunOptions); before `workspace` to have them checked before the upload is read' }).optional(),
});

export const apiPaths: ZodOpenApiPathsObject = {
  '/healthz': {
    get: {
      summary: 'Liveness: the process answers',
      tags: ['health'],
      responses: { '200': { description: 'Alive', ...json(z.object({ status: z.literal('ok') })) }, ...errorResponses() },
    },
  },
  '/readyz': {
    get: {
      summary: 'Readiness: Docker, the sandbox image, the providers and the data_dir can serve runs',
      tags: ['health'],
      responses: { '200': { description: 'Ready', ...json(readySchema) }, '503': { description: 'Not ready, with the problems', ...json(readySchema) }, ...errorResponses() },
    },
  },
  '/metrics': {
    get: {
      summary: 'Prometheus metrics',
      description: '`metrics.token_sha256` when configured, else any tenant token. Absent (404) when metrics are off.',
      tags: ['health'],
      security: bearer,
      responses: { '200': { description: 'Prometheus text format', content: { 'text/plain': { schema: z.string() } } }, ...errorResponses(401) },
    },
  },
  '/openapi.json': {
    get: {
      summary: 'This document',
      tags: ['docs'],
      responses: { '200': { description: 'OpenAPI 3.1', ...json(z.record(z.string(), z.unknown())) }, ...errorResponses() },
    },
  },
  '/docs': {
    get: {
      summary: 'Interactive API docs (Swagger UI, served from this server)',
      tags: ['docs'],
      responses: { '200': { description: 'An HTML page', content: { 'text/html': { schema: z.string() } } }, ...errorResponses() },
    },
  },
  '/v1/runs': {
    get: {
      summary: "The tenant's runs, newest first",
      tags: ['runs'],
      security: bearer,
      requestParams: { query: runListQuerySchema },
      responses: { '200': { description: 'A page of runs', ...json(runListSchema) }, ...errorResponses(401) },
    },
    post: {
      summary: 'Start a run',
      description:
        'JSON for a run with an empty workspace, multipart/form-data to upload one. Refused before the upload is read when the queue is full or the server cannot take runs.',
      tags: ['runs'],
      security: bearer,
      requestParams: { query: z.object({ wait: z.string().optional().meta({ description: 'Any value but `0` or `false`: answer when the run has ended (200)' }) }) },
      requestBody: {
        required: true,
        content: {
          'application/json': { schema: runRequestJson },
          'multipart/form-data': { schema: runRequestForm, encoding: { options: { contentType: 'application/json' } } },
        },
      },
      responses: {
        '202': { description: 'Queued', ...json(runViewSchema) },
        '200': { description: 'Ended (`?wait=1`)', ...json(runViewSchema) },
        ...errorResponses(401, 413, 415, 429, 503),
      },
    },
  },
  '/v1/runs/{id}': {
    get: {
      summary: 'One run, with its place in line while it waits',
      tags: ['runs'],
      security: bearer,
      requestParams: { path: runIdParam },
      responses: { '200': { description: 'The run', ...json(runViewSchema) }, ...errorResponses(401, 404) },
    },
  },
  '/v1/runs/{id}/cancel': {
    post: {
      summary: 'Cancel a run (an ended run is answered as it is)',
      tags: ['runs'],
      security: bearer,
      requestParams: { path: runIdParam },
      responses: { '200': { description: 'The run', ...json(runViewSchema) }, ...errorResponses(401, 404) },
    },
  },
  '/v1/runs/{id}/events': {
    get: {
      summary: "The run's events as Server-Sent Events, from the start or after a sequence number",
      description: 'Each event: `id` its seq, `event` its kind (`run` or `codex`), `data` the JSON of a RunEvent\'s `data`. The stream ends when the run has ended.',
      tags: ['runs'],
      security: bearer,
      requestParams: {
        path: runIdParam,
        query: z.object({ after: z.string().optional().meta({ description: 'Only events with a greater seq' }) }),
        header: z.object({ 'last-event-id': z.string().optional().meta({ description: 'As `after`, sent by an EventSource that reconnects' }) }),
      },
      responses: { '200': { description: 'An SSE stream', content: { 'text/event-stream': { schema: z.string() } } }, ...errorResponses(401, 404, 410, 429) },
    },
  },
  '/v1/runs/{id}/follow-ups': {
    post: {
      summary: 'Continue an ended run: a new run from its final workspace and Codex session',
      description:
        "The body is a run's (JSON, or multipart/form-data with `prompt`, `options` and `image` parts) without a workspace. The new run resumes the parent's Codex session (`codex exec resume`), so Codex sees the earlier conversation; its `parent_id` is the parent, its diff is against the parent's final tree. Options not given are the parent's provider, model and environment.",
      tags: ['runs'],
      security: bearer,
      requestParams: { path: runIdParam, query: z.object({ wait: z.string().optional().meta({ description: 'Any value but `0` or `false`: answer when the run has ended (200)' }) }) },
      requestBody: {
        required: true,
        content: {
          'application/json': { schema: runRequestJson },
          'multipart/form-data': { schema: runRequestForm.omit({ workspace: true }), encoding: { options: { contentType: 'application/json' } } },
        },
      },
      responses: {
        '202': { description: 'Queued', ...json(runViewSchema) },
        '200': { description: 'Ended (`?wait=1`)', ...json(runViewSchema) },
        ...errorResponses(401, 404, 409, 410, 413, 415, 429, 503),
      },
    },
  },
  '/v1/runs/{id}/diff': {
    get: {
      summary: "The ended run's changes as a unified git diff",
      description: "A follow-up's is against its parent's final tree; `?base=root` gives the changes of the whole conversation, against its first run's upload.",
      tags: ['runs'],
      security: bearer,
      requestParams: { path: runIdParam, query: z.object({ base: z.enum(['parent', 'root']).optional() }) },
      responses: { '200': { description: 'The diff', content: { 'text/x-diff': { schema: z.string() } } }, ...errorResponses(401, 404, 409, 410) },
    },
  },
  '/v1/runs/{id}/workspace': {
    get: {
      summary: "The ended run's workspace as a tarball",
      tags: ['runs'],
      security: bearer,
      requestParams: { path: runIdParam, query: z.object({ format: z.enum(['tar.gz', 'tar']).optional() }) },
      responses: {
        '200': {
          description: 'The workspace, as an attachment',
          content: { 'application/gzip': { schema: z.string().meta({ format: 'binary' }) }, 'application/x-tar': { schema: z.string().meta({ format: 'binary' }) } },
        },
        ...errorResponses(401, 404, 409, 410),
      },
    },
  },
};

/** Named in the document's components so that clients see them once. */
export const namedSchemas = { Run: runViewSchema, RunOptions: optionsSchema };

/** Components no operation's body names: what an SSE `data` line of `/v1/runs/{id}/events` carries. */
export const eventSchemas = { RunEvent: runEventSchema };
