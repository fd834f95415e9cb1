import { Hono } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { requestId, type RequestIdVariables } from 'hono/request-id';
import type { Logger } from 'pino';
import type { Config } from './config/config.js';
import { errorBody, shownId } from './http/api-error.js';
import { apiErrorFor } from './http/domain-errors.js';
import { requireMetricsToken, requireTenant, type AuthEnv, type TokenAuthenticator } from './http/auth.js';
import { openApiDocument } from './api-document.js';
import { docsRoutes } from './http/openapi/docs-routes.js';
import { runRoutes } from './http/routes/runs.js';
import { openaiRoutes } from './facades/openai/routes.js';
import { mcpRoutes } from './facades/mcp/mcp-routes.js';
import { ClientGoneError } from './http/run-request.js';
import type { RunService } from './runs/run-service.js';
import type { SandboxDriver } from './sandbox/driver.js';

export interface AppDeps {
  config: Config;
  service: RunService;
  driver: SandboxDriver;
  auth: TokenAuthenticator;
  log: Logger;
  /** Providers that cannot serve runs, with the reason (e.g. their key variable is unset). */
  providerProblems?: Record<string, string>;
  /** Why the data_dir cannot take new runs (it is full), or null. */
  storageProblem?: () => string | null;
  /** What `GET /metrics` serves (Prometheus text format); the route is absent without it. */
  metrics?: { metrics(): Promise<string>; contentType: string };
}

type Env = { Variables: RequestIdVariables & AuthEnv['Variables'] };

export function createApp(deps: AppDeps): Hono<Env> {
  const app = new Hono<Env>();
  app.use(requestId());
  // One debug line per request when it is answered: what an operator (or a hung test) needs to see.
  app.use(async (c, next) => {
    const started = performance.now();
    deps.log.debug({ requestId: c.get('requestId'), method: c.req.method, path: c.req.path }, 'request');
    await next();
    deps.log.debug({ requestId: c.get('requestId'), status: c.res.status, ms: Math.round(performance.now() - started) }, 'answered');
  });

  app.get('/healthz', (c) => c.json({ status: 'ok' }));
  app.get('/readyz', async (c) => {
    const problems = Object.entries(deps.providerProblems ?? {}).map(([name, why]) => `provider ${name}: ${why}`);
    const storage = deps.storageProblem?.();
    if (storage) problems.push(storage);
    try {
      await deps.driver.ping(AbortSignal.timeout(3000));
      if (!(await deps.driver.hasImage(deps.config.sandbox.image))) {
        problems.push(`sandbox image ${deps.config.sandbox.image} is missing (npm run sandbox:build)`);
      }
    } catch (err) {
      problems.push(`docker is not reachable: ${(err as Error).message}`);
    }
    return c.json({ status: problems.length ? 'not_ready' : 'ready', problems, runs: deps.service.stats }, problems.length ? 503 : 200);
  });

  if (deps.metrics) {
    const { metrics } = deps;
    app.get('/metrics', requireMetricsToken(deps.auth, deps.config.metrics.tokenSha256), async (c) =>
      c.body(await metrics.metrics(), 200, { 'content-type': metrics.contentType }),
    );
  }

  app.route('/', docsRoutes(openApiDocument()));
  app.use('/v1/*', requireTenant(deps.auth));
  app.route('/v1/runs', runRoutes(deps.config, deps.service));
  app.route('/v1', openaiRoutes(deps.config, deps.service));
  app.use('/mcp', requireTenant(deps.auth));
  app.route('/mcp', mcpRoutes(deps.config, deps.service, deps.log));

  app.notFound((c) => c.json(errorBody('not_found', `no route ${c.req.method} ${shownId(c.req.path)}`, c.get('requestId')), 404));
  app.onError((err, c) => {
    const id = c.get('requestId');
    const mapped = apiErrorFor(err);
    if (mapped) {
      if (mapped.retryAfterS !== undefined) c.header('Retry-After', String(mapped.retryAfterS));
      return c.json(errorBody(mapped.code, mapped.message, id), mapped.status);
    }
    if (err instanceof ClientGoneError) {
      deps.log.debug({ requestId: id, path: c.req.path }, err.message);
      return c.json(errorBody('bad_request', err.message, id), 400);
    }
    if (err instanceof HTTPException && err.status === 413) return c.json(errorBody('payload_too_large', err.message, id), 413);
    if (err instanceof HTTPException && err.status < 500) return c.json(errorBody('bad_request', err.message, id), 400);
    deps.log.error({ err, requestId: id, path: c.req.path }, 'request failed');
    return c.json(errorBody('internal', 'internal error', id), 500);
  });
  return app;
}
