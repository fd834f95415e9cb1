import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { ApiError, errorBody } from '../api-error.js';
import { docsRoutes, DOCS_CSP } from './docs-routes.js';
import { openApiDocument } from '../../api-document.js';

describe('docs routes', () => {
  // As app.ts mounts them, an ApiError answered as its one onError does.
  const app = new Hono().route('/', docsRoutes(openApiDocument()));
  app.onError((err, c) => (err instanceof ApiError ? c.json(errorBody(err.code, err.message), err.status) : c.text('unexpected', 500)));

  it('serves the document as JSON', async () => {
    const res = await app.request('/openapi.json');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual(JSON.parse(JSON.stringify(openApiDocument())));
  });

  it('serves the page under the CSP, loading only its own assets and no inline script', async () => {
    const res = await app.request('/docs');
    expect(res.headers.get('content-security-policy')).toBe(DOCS_CSP);
    const html = await res.text();
    expect([...html.matchAll(/<script[^>]*>/g)].map((m) => m[0])).toEqual(['<script src="docs/assets/swagger-ui-bundle.js">', '<script src="docs/assets/docs-init.js">']);
    expect(DOCS_CSP).not.toMatch(/unsafe|\*|https?:/);
  });

  it("serves swagger-ui-dist's files from node_modules with their types", async () => {
    const css = await app.request('/docs/assets/swagger-ui.css');
    expect(css.headers.get('content-type')).toBe('text/css; charset=utf-8');
    expect((await css.text()).length).toBeGreaterThan(10_000);
    // Twice: the second answer comes from the kept copy.
    for (let i = 0; i < 2; i++) {
      const js = await app.request('/docs/assets/swagger-ui-bundle.js');
      expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
      expect(await js.text()).toContain('SwaggerUIBundle');
    }
  });

  it('refuses any other asset name with a 404 ApiError', async () => {
    for (const name of ['package.json', 'index.html', '__proto__', 'toString', '..%2F..%2Fpackage.json']) {
      const res = await app.request(`/docs/assets/${name}`);
      expect(res.status, name).toBe(404);
      expect(await res.json()).toMatchObject({ error: { code: 'not_found' } });
    }
  });
});
