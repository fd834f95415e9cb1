// The OpenAI facade's routes as the OpenAPI document shows them (joined in server/api-document.ts).
// The request is the schema the route validates with; the answers are what chat-response.ts and
// models-route.ts build, in OpenAI's shapes.
import { z } from 'zod';
import type { ZodOpenApiPathsObject } from 'zod-openapi';
import { errorResponses } from '../../http/openapi/error-responses.js';
import { runStatuses } from '../../runs/run-status.js';
import { chatRequestSchema } from './chat-request.js';
import { RUN_ID_HEADER } from './chat-completions-route.js';

const bearer = [{ bearer: [] }];

const chatUsageSchema = z.object({
  prompt_tokens: z.number().int(),
  completion_tokens: z.number().int(),
  total_tokens: z.number().int(),
  prompt_tokens_details: z.object({ cached_tokens: z.number().int() }).optional(),
  completion_tokens_details: z.object({ reasoning_tokens: z.number().int() }).optional(),
});

const chatCompletionSchema = z
  .object({
    id: z.string(),
    object: z.literal('chat.completion'),
    created: z.number().int(),
    model: z.string(),
    choices: z.array(
      z.object({
        index: z.number().int(),
        message: z.object({ role: z.literal('assistant'), content: z.string(), refusal: z.null() }),
        finish_reason: z.literal('stop'),
        logprobs: z.null(),
      }),
    ),
    usage: chatUsageSchema,
    codex_runner: z.object({ run_id: z.string(), status: z.enum(runStatuses) }),
  })
  .meta({ id: 'ChatCompletion' });

const modelSchema = z.object({ id: z.string(), object: z.literal('model'), created: z.number().int(), owned_by: z.string() }).meta({ id: 'Model' });

const runIdHeader = z.object({ [RUN_ID_HEADER]: z.string().meta({ description: 'The run this completion is' }) });

export const openaiPaths: ZodOpenApiPathsObject = {
  '/v1/chat/completions': {
    post: {
      summary: 'A chat completion in OpenAI’s shape: the last user message is the prompt of one run',
      description:
        'With `stream: true`, `chat.completion.chunk` events (progress lines as content, then the answer), a `data: {"error": …}` event when the run does not succeed, then `[DONE]`. The `codex_runner` field takes a workspace (inline `files` or `from_run`) and `timeout_s`.',
      tags: ['openai'],
      security: bearer,
      requestBody: { required: true, content: { 'application/json': { schema: chatRequestSchema } } },
      responses: {
        '200': {
          description: 'The run succeeded (or, streamed, has started)',
          headers: runIdHeader,
          content: { 'application/json': { schema: chatCompletionSchema }, 'text/event-stream': { schema: z.string() } },
        },
        ...errorResponses(401, 404, 409, 410, 413, 429, 502, 503, 504),
      },
    },
  },
  '/v1/models': {
    get: {
      summary: 'The model names this tenant may send as `model`',
      tags: ['openai'],
      security: bearer,
      responses: { '200': { description: 'The models', content: { 'application/json': { schema: z.object({ object: z.literal('list'), data: z.array(modelSchema) }) } } }, ...errorResponses(401) },
    },
  },
  '/v1/models/{id}': {
    get: {
      summary: 'One model name (it may hold a `/`)',
      tags: ['openai'],
      security: bearer,
      requestParams: { path: z.object({ id: z.string() }) },
      responses: { '200': { description: 'The model', content: { 'application/json': { schema: modelSchema } } }, ...errorResponses(401, 404) },
    },
  },
};
