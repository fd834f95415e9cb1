import { Hono } from 'hono';
import { proxy } from 'hono/proxy';
import type { Logger } from 'pino';
import { errorBody } from '../http/api-error.js';
import type { GatewayTokens } from './tokens.js';

export interface GatewayDeps {
  tokens: GatewayTokens;
  /** The server's environment, where provider keys live (`key_env`). */
  env: Record<string, string | undefined>;
  log: Logger;
  fetch?: typeof fetch;
}

/** Only what Codex needs; everything else the key could reach (files, fine-tunes, admin) is refused. */
const ALLOWED_ROUTES = new Set(['POST /responses', 'GET /models']);

/**
 * The provider gateway, served on a Unix socket that sandboxes reach through their loopback relay.
 * A sandbox holds only a per-run token; the real key is added here, on the way upstream.
 */
export function createGatewayApp(deps: GatewayDeps): Hono {
  const app = new Hono();

  app.all('/v1/*', async (c) => {
    const auth = c.req.header('authorization') ?? '';
    const grant = auth.startsWith('Bearer ') ? deps.tokens.lookup(auth.slice(7).trim()) : undefined;
    if (!grant) return c.json(errorBody('unauthorized', 'unknown or expired run token'), 401);

    const url = new URL(c.req.url);
    const subpath = url.pathname.slice('/v1'.length);
    if (!ALLOWED_ROUTES.has(`${c.req.method} ${subpath}`)) {
      deps.log.warn({ runId: grant.runId, method: c.req.method, path: subpath }, 'gateway refused a path');
      return c.json(errorBody('forbidden', `${c.req.method} ${subpath} is not available through the gateway`), 403);
    }

    const { provider } = grant;
    const upstream = new URL(provider.baseUrl + subpath);
    url.searchParams.forEach((v, k) => upstream.searchParams.append(k, v));
    for (const [k, v] of Object.entries(provider.queryParams)) upstream.searchParams.set(k, v);

    const key = provider.keyEnv ? deps.env[provider.keyEnv] : undefined;
    const headers: Record<string, string | undefined> = {
      ...c.req.header(),
      host: undefined,
      authorization: key ? `Bearer ${key}` : undefined,
      ...provider.headers,
    };
    try {
      return await proxy(upstream, { raw: c.req.raw, headers, customFetch: deps.fetch });
    } catch (err) {
      deps.log.warn({ runId: grant.runId, provider: provider.name, err: (err as Error).message }, 'provider unreachable');
      return c.json(errorBody('bad_gateway', `provider ${provider.name} is unreachable: ${(err as Error).message}`), 502);
    }
  });

  app.notFound((c) => c.json(errorBody('not_found', 'not found'), 404));
  return app;
}
