import { Hono, type Context } from 'hono';
import { streamSSE, type SSEStreamingApi } from 'hono/streaming';
import type { Config } from '../../config/config.js';
import { ApiError } from '../../http/api-error.js';
import type { AuthEnv } from '../../http/auth.js';
import { readTextCapped } from '../../http/read-capped.js';
import { ClientGoneError, runRequestLimits } from '../../http/run-request.js';
import type { RunService } from '../../runs/run-service.js';
import type { Run } from '../../runs/run.js';
import { streamEventText } from '../progress-text.js';
import { createRunFromSource } from '../../http/workspace-source.js';
import { parseChatRequest, type ChatRequest } from './chat-request.js';
import { chatChunk, chatCompletion, chatUsage, runFailure } from './chat-response.js';
import { modelName } from './model-names.js';

const MiB = 1024 * 1024;
export const RUN_ID_HEADER = 'x-codex-runner-run-id';
/** Room for the messages and fields around an inline workspace. */
const BODY_OVERHEAD_BYTES = 256 * 1024;

/** `POST /chat/completions` in OpenAI's shape, each completion one run. */
export function chatCompletionsRoute(config: Config, service: RunService): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>();
  const limits = runRequestLimits(config);
  // The body is held in memory until it is parsed: its own cap, far under an upload's (streamed to disk).
  const bodyMaxBytes = config.limits.inlineWorkspaceMaxMb * MiB + config.limits.promptMaxBytes + BODY_OVERHEAD_BYTES;
  app.post('/', async (c) => {
    const tenant = c.get('tenant');
    service.checkAdmission(tenant);
    const request = parseChatRequest(parseJson(await readBody(c.req.raw, bodyMaxBytes)), limits);
    const run = await createRunFromSource(service, { tenant, prompt: request.prompt, options: request.options, workspace: request.workspace, signal: c.req.raw.signal }, limits);
    c.header(RUN_ID_HEADER, run.id);
    return request.stream ? streamed(c, service, run, request) : answered(c, service, run);
  });

  return app;
}

async function readBody(request: Request, maxBytes: number): Promise<string> {
  try {
    return await readTextCapped(request, maxBytes);
  } catch (err) {
    // A client that hung up mid-body is nobody's error to log.
    if (request.signal.aborted || (err as NodeJS.ErrnoException | undefined)?.code === 'ECONNRESET') throw new ClientGoneError();
    throw err;
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new ApiError('bad_request', 'body is not valid JSON');
  }
}

/** Waits for the run's end; a client that goes away first cancels it (nobody is left for its answer). */
async function answered(c: Context<AuthEnv>, service: RunService, run: Run): Promise<Response> {
  const signal = c.req.raw.signal;
  await service.waitForEnd(run.id, signal);
  if (signal.aborted) {
    await service.cancel(run.tenant, run.id);
    // nginx's "client closed request": only the request log sees it.
    return new Response(null, { status: 499 });
  }
  const ended = (await service.get(run.tenant, run.id))!;
  if (ended.status !== 'succeeded') throw noRetry(c, runFailure(ended));
  return c.json(chatCompletion(ended, modelName(ended.provider, ended.model)));
}

/**
 * Progress lines as content deltas, then the final message, the finish chunk, usage when asked and
 * `[DONE]`. A run that does not succeed ends with a `data: {"error": ...}` event instead of the
 * finish. A client that goes away cancels the run.
 */
async function streamed(c: Context<AuthEnv>, service: RunService, run: Run, request: ChatRequest): Promise<Response> {
  const abort = new AbortController();
  let events;
  try {
    events = service.events(run, 0, abort.signal);
  } catch (err) {
    // No reader, no answer: the run must not go on for nobody (too_many_streams is the client's to retry).
    await service.cancel(run.tenant, run.id);
    throw err;
  }
  const model = modelName(run.provider, run.model);
  const send = (stream: SSEStreamingApi, data: unknown) => stream.writeSSE({ data: JSON.stringify(data) });
  return streamSSE(c, async (stream) => {
    stream.onAbort(() => abort.abort());
    // Gone before the stream began: no abort event is coming.
    if (c.req.raw.signal.aborted) abort.abort();
    let lines = 0;
    try {
      await send(stream, chatChunk(run, model, { role: 'assistant', content: '' }));
      for await (const event of events) {
        if (abort.signal.aborted) break;
        if (event.kind === 'run') {
          if (event.data.type !== 'run.queued' && event.data.type !== 'run.started' && event.data.type !== 'run.events_truncated') break;
          continue;
        }
        const line = streamEventText(event);
        if (line === null) continue;
        lines++;
        await send(stream, chatChunk(run, model, { content: `${line}\n` }));
      }
    } finally {
      await events.return();
    }
    if (abort.signal.aborted) {
      await service.cancel(run.tenant, run.id);
      return;
    }
    await service.waitForEnd(run.id);
    const ended = (await service.get(run.tenant, run.id))!;
    if (ended.status !== 'succeeded') {
      const failure = runFailure(ended);
      await send(stream, { error: { code: failure.code, message: failure.message }, codex_runner: { run_id: run.id, status: ended.status } });
    } else {
      // A blank line parts the progress from the answer, which is the last thing the client reads.
      await send(stream, chatChunk(run, model, { content: `${lines ? '\n' : ''}${ended.finalMessage ?? ''}` }));
      await send(stream, chatChunk(run, model, { finish: 'stop' }));
      if (request.includeUsage) await send(stream, chatChunk(run, model, { usage: chatUsage(ended) }));
    }
    await stream.writeSSE({ data: '[DONE]' });
  });
}

/** OpenAI's clients retry a 5xx (two more runs) unless told not to: a run that failed would fail again at the same cost. */
function noRetry(c: Context, err: ApiError): ApiError {
  c.header('x-should-retry', 'false');
  return err;
}
