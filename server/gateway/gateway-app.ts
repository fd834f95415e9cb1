import { Hono, type Context } from 'hono';
import type { Logger } from 'pino';
import { RunStop } from '../domain/run-error.js';
import type { Telemetry } from '../telemetry/telemetry.js';
import type { GatewayAdmission, RequestSlot } from './admission.js';
import { CHAT_COMPLETIONS_PATH, chatToResponses, responsesToChatRequest, toolNamespaces } from './chat/index.js';
import { forward, type ForwardInput } from './forward.js';
import { gatewayError, refusalOf } from './gateway-error.js';
import { BodyBudgetError, BodyCutOffError, BodyTooLargeError, drainRefusedBody, readBodyWithin } from './read-body.js';
import type { GatewayGrant, GatewayTokens } from './tokens.js';
import { UpstreamIdleError } from './upstream-deadline.js';
import { endOnUpstreamError, usageTap } from './usage-tap.js';

/** What the listener a request came in on says about it. */
export interface GatewayBindings {
  /** The run whose own socket carried the request: only that run's token is accepted on it. */
  socketRunId: string;
}

// Partial: a request with no bindings (none from a run's listener) is refused like a foreign one.
type GatewayEnv = { Bindings: Partial<GatewayBindings>; Variables: { grant: GatewayGrant } };

export interface GatewayDeps {
  tokens: GatewayTokens;
  /** The server's environment, where provider keys live (`key_env`). */
  env: Record<string, string | undefined>;
  log: Logger;
  fetch?: typeof fetch;
  /** Bounds calls in flight and request bytes buffered, per run and in total. */
  admission: GatewayAdmission;
  telemetry?: Pick<Telemetry, 'gatewayRequest' | 'gatewayRefused'>;
  /** `gateway.upstream_idle_timeout_s` in ms: how long a provider may send nothing. */
  upstreamIdleTimeoutMs: number;
}

// A refusal for load, not for the request itself: Codex (and its retries) may try again shortly.
const RETRY_AFTER = { 'retry-after': '1' };

/**
 * The provider gateway, served on one Unix socket per run that its sandbox reaches through its loopback
 * relay (gateway-server.ts).
 * A sandbox holds only a per-run token; the real key is added here, on the way upstream, and the
 * token buys only what the run needs: Codex's route, the run's model, within the run's budget, and
 * only so much of the server's memory at once.
 */
export function createGatewayApp(deps: GatewayDeps): Hono<GatewayEnv> {
  const app = new Hono<GatewayEnv>();
  const { admission } = deps;

  app.use('*', async (c, next) => {
    await next();
    const refused = refusalOf(c.res);
    if (!refused) return;
    deps.telemetry?.gatewayRefused(refused);
    // Whatever was refused (413, 429, 401…), the client should read why rather than a reset. The
    // call's place and bytes were given back before this: draining holds nothing of the run's.
    await drainRefusedBody(c.req.raw);
  });

  app.use('/v1/*', async (c, next) => {
    const auth = c.req.header('authorization') ?? '';
    const grant = auth.startsWith('Bearer ') ? deps.tokens.lookup(auth.slice(7).trim()) : undefined;
    if (!grant) return gatewayError('unauthorized', 'unknown or expired run token');
    // A token is bound to the sandbox it was issued to: one that reached another sandbox is refused
    // there, with the same answer as an unknown token so the refusal does not confirm it is live.
    const socketRunId = c.env?.socketRunId;
    if (grant.runId !== socketRunId) {
      deps.log.warn({ socketRunId, tokenRunId: grant.runId }, "gateway refused a run token presented on another run's socket");
      return gatewayError('unauthorized', 'unknown or expired run token');
    }
    c.set('grant', grant);
    await next();
    deps.telemetry?.gatewayRequest(grant.provider.name, c.res.status);
  });

  app.post('/v1/responses', async (c) => {
    const grant = c.get('grant');
    const log = deps.log.child({ runId: grant.runId, provider: grant.provider.name });
    const spent = budgetSpent(grant);
    if (spent) return endForBudget(grant, spent);

    const slot = admission.enter(grant.runId);
    if (!slot) {
      log.warn('gateway refused a call: too many in flight');
      return gatewayError('rate_limited', `this run already has ${admission.limits.maxInflightPerRun} provider calls in flight`, RETRY_AFTER);
    }
    // The slot stays taken while an upstream answer streams; a refusal made here frees it at once.
    let streaming = false;
    const holdWhileStreaming = (upstream: Response) => {
      streaming = true;
      return releaseWhenDone(upstream, slot.close);
    };
    try {
      return await respond(c, slot, log, holdWhileStreaming);
    } finally {
      if (!streaming) slot.close();
    }
  });

  async function respond(c: Context<GatewayEnv>, slot: RequestSlot, log: Logger, hold: (upstream: Response) => Response): Promise<Response> {
    const grant = c.get('grant');
    try {
      let text: string;
      try {
        text = await readBodyWithin(c.req.raw, slot, admission.limits.maxRequestBytes);
      } catch (err) {
        return bodyRefusal(err, log);
      }
      let body: { model?: unknown };
      try {
        body = JSON.parse(text);
      } catch {
        return gatewayError('bad_request', 'body is not JSON');
      }
      if (body?.model !== grant.model) {
        log.warn({ asked: String(body?.model).slice(0, 100) }, 'gateway refused another model');
        return gatewayError('forbidden', `this run may only use model ${grant.model}`);
      }
      // Checked again here, with no await before the count: calls admitted side by side cannot overspend.
      const spent = budgetSpent(grant);
      if (spent) return endForBudget(grant, spent);
      grant.usage.requests++;

      const addUsage = (u: { input_tokens: number; output_tokens: number; total_tokens: number }) => {
        // A completed answer: whatever broke before was retried successfully.
        grant.lastFault = null;
        grant.usage.input_tokens += u.input_tokens;
        grant.usage.output_tokens += u.output_tokens;
        grant.usage.total_tokens += u.total_tokens;
      };
      const call: ForwardInput = {
        grant,
        env: deps.env,
        fetch: deps.fetch,
        log,
        headers: c.req.raw.headers,
        signal: c.req.raw.signal,
        idleTimeoutMs: deps.upstreamIdleTimeoutMs,
      };

      if (grant.provider.wireApi === 'chat') {
        // The upstream speaks only Chat Completions: translate the request, and the streamed answer back.
        const upstream = hold(await forward(call, CHAT_COMPLETIONS_PATH, JSON.stringify(responsesToChatRequest(body))));
        if (!upstream.ok || !upstream.body) return upstream;
        const translated = chatToResponses(upstream.body, {
          toolNamespaces: toolNamespaces(body),
          onUsage: addUsage,
          onFailure: (failure) => {
            log.warn(failure, 'chat upstream failed mid-answer');
            // Codex is told in the chat upstream's words; if it gives up, the run says which provider failed.
            if (!call.signal.aborted) grant.lastFault = { code: 'provider_error', message: `provider ${grant.provider.name}: ${failure.message}` };
          },
        });
        return new Response(translated, { status: 200, headers: { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' } });
      }

      const upstream = hold(await forward(call, '/responses', text));
      if (!upstream.ok || !upstream.body) return upstream;
      const answer = endOnUpstreamError(upstream.body, (err) => {
        if (err instanceof UpstreamIdleError) return { code: 'provider_timeout', message: err.message };
        // The sandbox hung up, which cut the upstream call: not the provider's failure, and nobody reads this.
        if (call.signal.aborted) return { code: 'client_closed', message: 'the client closed the request' };
        const message = `provider ${grant.provider.name} broke off its answer mid-stream: ${describeCause(err)}`;
        log.warn(message);
        // Codex retries a broken stream; if it gives up, this is why the run failed.
        grant.lastFault = { code: 'provider_error', message };
        return { code: 'provider_stream_broken', message };
      });
      return new Response(answer.pipeThrough(usageTap(addUsage)), upstream);
    } finally {
      // The body has been handed upstream (or refused): its bytes are free, the call stays in flight.
      slot.releaseBytes();
    }
  }

  // Codex 0.169 never asks a custom provider for /models (captured in a real run); answering here keeps
  // the key from listing all it can reach, and costs the provider nothing.
  app.get('/v1/models', (c) => {
    const grant = c.get('grant');
    return c.json({ object: 'list', data: [{ id: grant.model, object: 'model', created: 0, owned_by: grant.provider.name }] });
  });

  app.all('/v1/*', (c) => {
    deps.log.warn({ method: c.req.method, path: c.req.path }, 'gateway refused a path');
    return gatewayError('forbidden', `${c.req.method} ${c.req.path} is not available through the gateway`);
  });
  app.notFound(() => gatewayError('not_found', 'not found'));
  return app;
}

function describeCause(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } } | null)?.cause;
  const message = cause?.message ?? (err instanceof Error ? err.message : String(err));
  return cause?.code ? `${message} (${cause.code})` : message;
}

function budgetSpent(grant: GatewayGrant): string | null {
  const { usage, budget } = grant;
  if (usage.requests >= budget.maxRequests) return `run budget spent: ${usage.requests} of ${budget.maxRequests} provider requests used`;
  if (usage.total_tokens >= budget.maxTokens) return `run budget spent: ${usage.total_tokens} of ${budget.maxTokens} tokens used`;
  return null;
}

function endForBudget(grant: GatewayGrant, spent: string): Response {
  grant.stopRun(new RunStop('failed', { code: 'budget_exceeded', message: spent }));
  return gatewayError('forbidden', spent);
}

function bodyRefusal(err: unknown, log: Logger): Response {
  if (err instanceof BodyTooLargeError) {
    log.warn(err.message);
    return gatewayError('payload_too_large', err.message);
  }
  if (err instanceof BodyBudgetError) {
    log.warn(err.message);
    return gatewayError('rate_limited', err.message, RETRY_AFTER);
  }
  if (err instanceof BodyCutOffError) {
    // Not the client's fault to report as 413: it hung up, and no one reads this answer.
    log.info(err.message);
    return gatewayError('bad_request', err.message);
  }
  throw err;
}

/** Calls `release` once the response body has been read to its end, has failed, or was cancelled. */
function releaseWhenDone(response: Response, release: () => void): Response {
  if (!response.body) {
    release();
    return response;
  }
  const reader = response.body.getReader();
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { value, done } = await reader.read();
        if (done) {
          release();
          controller.close();
        } else controller.enqueue(value);
      } catch (err) {
        release();
        controller.error(err);
      }
    },
    cancel(reason) {
      release();
      return reader.cancel(reason);
    },
  });
  return new Response(body, response);
}
