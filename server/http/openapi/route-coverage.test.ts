import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { openApiPath, operationsWithoutRoute, routesMissingFromDocument } from './route-coverage.js';

function appWithRoutes() {
  const app = new Hono();
  app.use('*', async (_c, next) => next());
  app.get('/healthz', (c) => c.text('ok'));
  const runs = new Hono();
  runs.get('/', (c) => c.text('list'));
  runs.post('/:id/cancel', (c) => c.text('cancel'));
  app.route('/v1/runs', runs);
  app.all('/mcp', (c) => c.text('mcp'));
  return app;
}

const document = {
  paths: {
    '/healthz': { get: {} },
    '/v1/runs': { get: {} },
    '/v1/runs/{id}/cancel': { post: {} },
    '/mcp': { post: {} },
  },
};

describe('route coverage', () => {
  it('writes Hono path parameters, with or without a pattern, as OpenAPI does', () => {
    expect(openApiPath('/v1/runs/:id/events')).toBe('/v1/runs/{id}/events');
    expect(openApiPath('/files/:name{.+\\.png}')).toBe('/files/{name}');
  });

  it('finds nothing missing when every route of a real Hono app is described, middleware aside', () => {
    const app = appWithRoutes();
    expect(routesMissingFromDocument(app.routes, document)).toEqual([]);
    expect(operationsWithoutRoute(app.routes, document)).toEqual([]);
  });

  it('names a route added without its entry, unless it is listed as undocumented', () => {
    const app = appWithRoutes();
    app.get('/v1/models', (c) => c.json([]));
    app.all('/extra', (c) => c.text('x'));
    expect(routesMissingFromDocument(app.routes, document)).toEqual(['GET /v1/models', 'ALL /extra']);
    expect(routesMissingFromDocument(app.routes, document, [{ method: 'GET', path: '/v1/models' }, { method: 'ALL', path: '/extra' }])).toEqual([]);
  });

  it('names a documented operation no route serves', () => {
    const app = appWithRoutes();
    expect(operationsWithoutRoute(app.routes, { paths: { ...document.paths, '/v1/runs/{id}': { get: {}, delete: {} } } })).toEqual(['GET /v1/runs/{id}', 'DELETE /v1/runs/{id}']);
  });
});
