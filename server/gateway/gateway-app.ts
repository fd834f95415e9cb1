import { Hono, type Context } from 'hono';
import { proxy } from 'hono/proxy';
import type { Logger } from 'pino';
import { errorBody } from '../http/api-error.js';
import { readTextCapped } from '../http/read-capped.js';
import { CHAT_COMPLETIONS_PATH, chatToResponses, responsesToChatRequest, toolNamespaces } from './chat/index.js';
import type { GatewayGrant, GatewayTokens } from './tokens.js';
import { endOnUpstreamError, usageTap } from './usage-tap.js';

type GatewayEnv = { Variables: { grant: GatewayGrant } };

export interface GatewayDeps {
  tokens: GatewayTokens;
  /** The server's environment, where provider keys live (`key_env`). */
  env: Record<string, string | undefined>;
  log: Logger;
  fetch?: typeof fetch;
  /** Codex's requests carry the whole history; a body past this is not one of them. */
  maxRequestBytes?: number;
}

const DEFAULT_MAX_REQUEST_BYTES = 64 * 1024 * 1024;

/**
 * The provider gateway, served on a Unix socket that sandboxes reach through their loopback relay.
 * A sandbox holds only a per-run token; the real key is added here, on the way upstream, and the
 * token buys only what the run needs: Codex's two routes, the run's model, within the run's budget.
 */
export function createGatewayApp(deps: GatewayDeps): Hono<GatewayEnv> {
  const app = new Hono<GatewayEnv>();

  app.use('/v1/*', async (c, next) => {
    const auth = c.req.header('authorization') ?? '';
    const grant = auth.startsWith('Bearer ') ? deps.tokens.lookup(auth.slice(7).trim()) : undefined;
    if (!grant) return c.json(errorBody('unauthorized', 'unknown or expired run token'), 401);
    c.set('grant', grant);
    await next();
  });

  app.post('/v1/responses', async (c) => {
    const grant = c.get('grant');
    const log = deps.log.child({ runId: grant.runId, provider: grant.provider.name });

    const spent = budgetSpent(grant);
    if (spent) {
      grant.endRun({ code: 'budget_exceeded', message: spent });
      return c.json(errorBody('forbidden', spent), 403);
    }
    // The sandbox is untrusted: a body is refused as it passes the cap, not after it was read whole.
    const maxBytes = deps.maxRequestBytes ?? DEFAULT_MAX_REQUEST_BYTES;
    const text = await readTextCapped(c.req.raw, maxBytes).catch(() => null);
    if (text === null) return c.json(errorBody('payload_too_large', `request larger than ${maxBytes} bytes`), 413);
    let body: { model?: unknown };
    try {
      body = JSON.parse(text);
    } catch {
      return c.json(errorBody('bad_request', 'body is not JSON'), 400);
    }
    if (body.model !== grant.model) {
      log.warn({ asked: String(body.model).slice(0, 100) }, 'gateway refused another model');
      return c.json(errorBody('forbidden', `this run may only use model ${grant.model}`), 403);
    }

    grant.usage.requests++;
    const addUsage = (u: { input_tokens: number; output_tokens: number; total_tokens: number }) => {
      grant.usage.input_tokens += u.input_tokens;
      grant.usage.output_tokens += u.output_tokens;
      grant.usage.total_tokens += u.total_tokens;
    };

    if (grant.provider.wireApi === 'chat') {
      // The upstream speaks only Chat Completions: translate the request, and the streamed answer back.
      const upstream = await forward(c, deps, grant, CHAT_COMPLETIONS_PATH, JSON.stringify(responsesToChatRequest(body)), log);
      if (!upstream.ok || !upstream.body) return upstream;
      const translated = chatToResponses(upstream.body, {
        toolNamespaces: toolNamespaces(body),
        onUsage: addUsage,
        onFailure: (failure) => log.warn(failure, 'chat upstream failed mid-answer'),
      });
      return new Response(translated, { status: 200, headers: { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' } });
    }

    const upstream = await forward(c, deps, grant, '/responses', text, log);
    if (!upstream.ok || !upstream.body) return upstream;
    const answer = endOnUpstreamError(upstream.body, (err) => log.warn({ err: (err as Error).message }, 'provider stream broke off'));
    return new Response(answer.pipeThrough(usageTap(addUsage)), upstream);
  });

  app.get('/v1/models', (c) => {
    const grant = c.get('grant');
    return forward(c, deps, grant, '/models', undefined, deps.log.child({ runId: grant.runId }));
  });

  app.all('/v1/*', (c) => {
    deps.log.warn({ method: c.req.method, path: c.req.path }, 'gateway refused a path');
    return c.json(errorBody('forbidden', `${c.req.method} ${c.req.path} is not available through the gateway`), 403);
  });
  app.notFound((c) => c.json(errorBody('not_found', 'not found'), 404));
  return app;
}

function budgetSpent(grant: GatewayGrant): string | null {
  const { usage, budget } = grant;
  if (usage.requests >= budget.maxRequests) return `run budget spent: ${usage.requests} of ${budget.maxRequests} provider requests used`;
  if (usage.total_tokens >= budget.maxTokens) return `run budget spent: ${usage.total_tokens} of ${budget.maxTokens} tokens used`;
  return null;
}

/** Sends the request upstream with the real key and maps failures Codex would only retry to the end of the run. */
async function forward(c: Context<GatewayEnv>, deps: GatewayDeps, grant: GatewayGrant, subpath: string, body: string | undefined, log: Logger): Promise<Response> {
  const { provider } = grant;
  const url = new URL(provider.baseUrl + subpath);
  new URL(c.req.url).searchParams.forEach((v, k) => url.searchParams.append(k, v));
  for (const [k, v] of Object.entries(provider.queryParams)) url.searchParams.set(k, v);

  const key = provider.keyEnv ? deps.env[provider.keyEnv] : undefined;
  const headers: Record<string, string | undefined> = {
    ...c.req.header(),
    host: undefined,
    'content-length': undefined,
    authorization: key ? `Bearer ${key}` : undefined,
    ...provider.headers,
  };
  let response: Response;
  try {
    response = await proxy(url, { raw: c.req.raw, ...(body !== undefined ? { body } : {}), headers, customFetch: deps.fetch });
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    const message = `provider ${provider.name} is unreachable at ${url.origin}: ${cause?.code ?? cause?.message ?? (err as Error).message}`;
    log.warn({ err: (err as Error).message }, message);
    grant.endRun({ code: 'provider_unreachable', message });
    return c.json(errorBody('bad_gateway', message), 502);
  }
  if (response.status === 401 || response.status === 403) {
    const detail = (await response.text()).slice(0, 2000);
    const message = `provider ${provider.name} rejected the key (HTTP ${response.status})${upstreamMessage(detail)}`;
    log.warn({ status: response.status }, message);
    grant.endRun({ code: 'provider_auth', message });
    return new Response(detail, response);
  }
  if (!response.ok) log.warn({ status: response.status, retryAfter: response.headers.get('retry-after') }, 'provider answered an error');
  return response;
}

function upstreamMessage(body: string): string {
  try {
    const message = JSON.parse(body)?.error?.message;
    return typeof message === 'string' && message ? `: ${message.slice(0, 300)}` : '';
  } catch {
    return '';
  }
}
