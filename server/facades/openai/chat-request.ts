import { z } from 'zod';
import { ApiError } from '../../http/api-error.js';
import type { RunOptions } from '../../runs/run-plan.js';
import { workspaceSourceSchema, type WorkspaceSource } from '../../http/workspace-source.js';
import { parseModelName } from './model-names.js';

const textPart = z.object({ type: z.literal('text'), text: z.string() });
// Clients send what their own type allows (names, tool calls, refusals): only role and content are read.
const message = z.looseObject({
  role: z.enum(['system', 'developer', 'user', 'assistant', 'tool', 'function']),
  content: z.union([z.string(), z.array(z.looseObject({ type: z.string() })), z.null()]).optional(),
});

/** The extension field: what OpenAI's shape has no place for. */
const extension = z
  .object({
    workspace: workspaceSourceSchema.optional(),
    timeout_s: z.number().int().positive().optional(),
  })
  .strict();

// Sampling and tool fields a client may send (temperature, max_tokens, tools...) are accepted and
// ignored: Codex chooses its own. Fields that would change the answer's shape are refused.
export const chatRequestSchema = z.looseObject({
  model: z.string().min(1).max(300),
  messages: z.array(message).min(1),
  stream: z.boolean().nullish(),
  stream_options: z.object({ include_usage: z.boolean().optional() }).loose().nullish(),
  n: z.literal(1).nullish(),
  codex_runner: extension.optional(),
});

export interface ChatRequest {
  /** The name asked for, echoed in the answer only when the run's own is not known. */
  model: string;
  prompt: string;
  options: RunOptions;
  workspace: WorkspaceSource | undefined;
  stream: boolean;
  includeUsage: boolean;
}

/**
 * A chat-completions body as a run: the last user message is the prompt (its text parts joined by
 * newlines); earlier messages, system ones included, are not sent to Codex.
 */
export function parseChatRequest(body: unknown, limits: { promptMaxBytes: number }): ChatRequest {
  const parsed = chatRequestSchema.safeParse(body);
  if (!parsed.success) throw new ApiError('bad_request', `body: ${describeIssues(parsed.error)}`);
  const data = parsed.data;
  const last = data.messages.findLast((m) => m.role === 'user');
  if (!last) throw new ApiError('bad_request', 'messages: no user message; the last one is the prompt');
  const prompt = promptOf(last.content);
  if (!prompt.trim()) throw new ApiError('bad_request', 'messages: the last user message has no text');
  if (Buffer.byteLength(prompt) > limits.promptMaxBytes) throw new ApiError('bad_request', `messages: the last user message is longer than ${limits.promptMaxBytes} bytes`);
  if (prompt.includes('\0')) throw new ApiError('bad_request', 'messages: the last user message contains a NUL byte');
  const ext = data.codex_runner;
  return {
    model: data.model,
    prompt,
    options: { ...parseModelName(data.model), ...(ext?.timeout_s !== undefined ? { timeoutS: ext.timeout_s } : {}) },
    workspace: ext?.workspace,
    stream: data.stream === true,
    includeUsage: data.stream_options?.include_usage === true,
  };
}

function promptOf(content: z.output<typeof message>['content']): string {
  if (typeof content === 'string') return content;
  if (!content) return '';
  const texts = content.map((part) => {
    const text = textPart.safeParse(part);
    if (!text.success) throw new ApiError('bad_request', `messages: a content part of type ${JSON.stringify(part.type).slice(0, 40)}; only text parts are taken`);
    return text.data.text;
  });
  return texts.join('\n');
}

function describeIssues(error: z.ZodError): string {
  return error.issues.map((i) => (i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message)).join('; ');
}
