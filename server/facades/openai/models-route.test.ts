import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import type { Config } from '../../config/config.js';
import { ApiError, errorBody } from '../../http/api-error.js';
import type { AuthEnv } from '../../http/auth.js';
import { modelsRoute } from './models-route.js';

const config = { providers: { p: { models: ['m/1'] } }, tenants: [] } as unknown as Pick<Config, 'providers' | 'tenants'>;
const app = new Hono<AuthEnv>()
  .use(async (c, next) => {
    c.set('tenant', 'default');
    await next();
  })
  .route('/v1/models', modelsRoute(config))
  .onError((err, c) => (err instanceof ApiError ? c.json(errorBody(err.code, err.message), err.status) : c.text('unexpected', 500)));

describe('modelsRoute', () => {
  it("lists the tenant's names in OpenAI's list shape", async () => {
    const res = await app.request('/v1/models');
    expect(await res.json()).toEqual({
      object: 'list',
      data: ['codex', 'codex/p', 'codex/p/m/1'].map((id) => ({ id, object: 'model', created: 0, owned_by: 'codex-runner' })),
    });
  });

  it('retrieves one by a name with slashes, escaped or not, and answers 404 for another', async () => {
    expect((await (await app.request('/v1/models/codex/p/m/1')).json()) as object).toMatchObject({ id: 'codex/p/m/1' });
    expect((await (await app.request(`/v1/models/${encodeURIComponent('codex/p/m/1')}`)).json()) as object).toMatchObject({ id: 'codex/p/m/1' });
    const missing = await app.request('/v1/models/gpt-4o');
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: { code: string } }).error.code).toBe('not_found');
  });
});
