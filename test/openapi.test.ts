// The OpenAPI document against the real server: every route of the real app is in it, it is valid
// OpenAPI 3.1, and /openapi.json and /docs (with every asset the page loads) are served without a
// token over real HTTP. That the integration tests' answers agree with it is harness.ts's check.
import { Validator } from '@seriousme/openapi-schema-validator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DOCS_CSP } from '../server/http/openapi/docs-routes.js';
import { openApiDocument, UNDOCUMENTED } from '../server/api-document.js';
import { operationsWithoutRoute, routesMissingFromDocument } from '../server/http/openapi/route-coverage.js';
import { startHarness, type Harness } from './fixtures/harness.js';

describe('the OpenAPI document', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    await h?.close();
  });

  it('describes every route of the real app, and no operation the app does not serve', () => {
    const routes = h.server.app.routes;
    expect(routes.some((r) => r.path === '/v1/runs/:id/events')).toBe(true);
    // A route added without its entry in server/http/openapi/api-paths.ts (or in UNDOCUMENTED, with a reason) fails here.
    expect(routesMissingFromDocument(routes, openApiDocument(), UNDOCUMENTED)).toEqual([]);
    expect(operationsWithoutRoute(routes, openApiDocument())).toEqual([]);
  });

  it('is valid OpenAPI 3.1', async () => {
    const validator = new Validator();
    const result = await validator.validate(openApiDocument() as unknown as Record<string, unknown>);
    expect(result.errors).toBeUndefined();
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
  });

  it('is served at GET /openapi.json without a token', async () => {
    const res = await h.api('/openapi.json', { token: null });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await res.json()).toEqual(JSON.parse(JSON.stringify(openApiDocument())));
  });

  it('serves /docs without a token, under a strict CSP, with every script and style it loads from this server', async () => {
    const page = await h.api('/docs', { token: null });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(page.headers.get('content-security-policy')).toBe(DOCS_CSP);
    expect(DOCS_CSP).toMatch(/script-src 'self'(;|$)/);
    const html = await page.text();
    // Offline: nothing from another origin, and no inline script the CSP would block.
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//);
    expect(html).not.toMatch(/<script>/);
    const refs = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    expect(refs).toEqual(expect.arrayContaining(['docs/assets/swagger-ui-bundle.js', 'docs/assets/docs-init.js', 'docs/assets/swagger-ui.css']));
    const types: Record<string, RegExp> = { js: /^text\/javascript/, css: /^text\/css/, png: /^image\/png/ };
    for (const ref of refs) {
      const url = new URL(ref, page.url);
      const res = await fetch(url);
      expect(res.status, ref).toBe(200);
      expect(res.headers.get('content-type'), ref).toMatch(types[ref.split('.').pop()!]!);
      expect(res.headers.get('x-content-type-options'), ref).toBe('nosniff');
      const body = await res.text();
      expect(body.length, ref).toBeGreaterThan(0);
      if (ref.endsWith('swagger-ui-bundle.js')) expect(body).toContain('SwaggerUIBundle');
      if (ref.endsWith('docs-init.js')) expect(body).toMatch(/url: 'openapi\.json'.*validatorUrl: null/);
    }
  });

  it('answers 404 in the error envelope for an asset it does not have, however the name is written', async () => {
    for (const name of ['nope.js', '..%2Fpackage.json', 'index.html', 'constructor']) {
      const res = await h.api(`/docs/assets/${name}`, { token: null });
      expect(res.status, name).toBe(404);
      expect(await res.json()).toMatchObject({ error: { code: 'not_found' } });
    }
  });
});
