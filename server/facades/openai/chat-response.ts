import { ApiError } from '../../http/api-error.js';
import type { ProviderUsage } from '../../domain/provider-usage.js';
import type { RunError } from '../../domain/run-error.js';
import type { RunStatus, RunUsage } from '../../runs/run.js';

/** What the answer is made of: a run's record (or its wire view) reduced to the fields read here. */
export interface RunOutcome {
  id: string;
  status: RunStatus;
  createdAt: Date;
  finalMessage: string | null;
  usage: RunUsage | null;
  providerUsage: ProviderUsage | null;
  error: RunError | null;
}

export interface ChatUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details?: { cached_tokens: number };
  completion_tokens_details?: { reasoning_tokens: number };
}

/** Codex's own count of the thread when it reported one, else what the gateway saw the provider report. */
export function chatUsage(run: Pick<RunOutcome, 'usage' | 'providerUsage'>): ChatUsage {
  if (run.usage) {
    const { input_tokens, cached_input_tokens, output_tokens, reasoning_output_tokens } = run.usage;
    return {
      prompt_tokens: input_tokens,
      completion_tokens: output_tokens,
      total_tokens: input_tokens + output_tokens,
      prompt_tokens_details: { cached_tokens: cached_input_tokens },
      completion_tokens_details: { reasoning_tokens: reasoning_output_tokens },
    };
  }
  const p = run.providerUsage;
  return { prompt_tokens: p?.input_tokens ?? 0, completion_tokens: p?.output_tokens ?? 0, total_tokens: p?.total_tokens ?? 0 };
}

export const completionId = (runId: string) => `chatcmpl-${runId}`;
const createdS = (run: Pick<RunOutcome, 'createdAt'>) => Math.floor(run.createdAt.getTime() / 1000);

/** A succeeded run as OpenAI's `chat.completion`. */
export function chatCompletion(run: RunOutcome, model: string) {
  return {
    id: completionId(run.id),
    object: 'chat.completion' as const,
    created: createdS(run),
    model,
    choices: [{ index: 0, message: { role: 'assistant' as const, content: run.finalMessage ?? '', refusal: null }, finish_reason: 'stop' as const, logprobs: null }],
    usage: chatUsage(run),
    codex_runner: { run_id: run.id, status: run.status },
  };
}

/** One `chat.completion.chunk`: a content delta, or the end (finish_reason), or usage alone (no choices). */
export function chatChunk(
  run: Pick<RunOutcome, 'id' | 'createdAt'>,
  model: string,
  part: { role?: 'assistant'; content?: string } | { finish: 'stop' } | { usage: ChatUsage },
) {
  const base = { id: completionId(run.id), object: 'chat.completion.chunk' as const, created: createdS(run), model, codex_runner: { run_id: run.id } };
  if ('usage' in part) return { ...base, choices: [], usage: part.usage };
  const choice = 'finish' in part ? { index: 0, delta: {}, finish_reason: part.finish, logprobs: null } : { index: 0, delta: part, finish_reason: null, logprobs: null };
  return { ...base, choices: [choice] };
}

/** Why a run that ended otherwise than succeeded has no completion: our envelope, a status that says which way. */
export function runFailure(run: Pick<RunOutcome, 'id' | 'status' | 'error'>): ApiError {
  const why = run.error ? `${run.error.code}: ${run.error.message}` : 'no reason recorded';
  const message = `run ${run.id} ended ${run.status} (${why}); GET /v1/runs/${run.id} and its events say more`;
  return new ApiError(run.status === 'timed_out' ? 'run_timed_out' : 'run_failed', message);
}
