import { Hono } from 'hono';
import type { Config } from '../../config/config.js';
import { ApiError } from '../../http/api-error.js';
import type { AuthEnv } from '../../http/auth.js';
import { modelNames } from './model-names.js';

/** `GET /models` and `GET /models/{id}`: the names the tenant may send as `model`, in OpenAI's shapes. */
export function modelsRoute(config: Pick<Config, 'providers' | 'tenants'>): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>();
  const listed = (tenant: string) => modelNames(config, tenant).map((id) => ({ id, object: 'model' as const, created: 0, owned_by: 'codex-runner' }));

  app.get('/', (c) => c.json({ object: 'list', data: listed(c.get('tenant')) }));
  app.get('/:id{.+}', (c) => {
    const found = listed(c.get('tenant')).find((m) => m.id === c.req.param('id'));
    if (!found) throw new ApiError('not_found', `no model ${JSON.stringify(c.req.param('id').slice(0, 200))}; GET /v1/models lists them`);
    return c.json(found);
  });

  return app;
}
