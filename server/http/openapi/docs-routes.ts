import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { Hono } from 'hono';
import { ApiError } from '../api-error.js';

/**
 * Everything the page loads comes from this server: no CDN (users may be offline), no inline script
 * (Swagger UI is started by docs-init.js), and calls go only back to this origin ("Try it out").
 */
export const DOCS_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

// validatorUrl null: Swagger UI would otherwise send the document to a public validator for its badge.
const INIT_SCRIPT = `window.addEventListener('load', function () {
  window.ui = SwaggerUIBundle({ url: 'openapi.json', dom_id: '#swagger-ui', deepLinking: true, validatorUrl: null, persistAuthorization: false });
});
`;

/** The page's assets by the name it asks for: a file of swagger-ui-dist, or our own start script. */
const ASSETS: Record<string, { file?: string; text?: string; type: string }> = {
  'swagger-ui.css': { file: 'swagger-ui.css', type: 'text/css; charset=utf-8' },
  'swagger-ui-bundle.js': { file: 'swagger-ui-bundle.js', type: 'text/javascript; charset=utf-8' },
  'favicon-32x32.png': { file: 'favicon-32x32.png', type: 'image/png' },
  'docs-init.js': { text: INIT_SCRIPT, type: 'text/javascript; charset=utf-8' },
};

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>codex-runner API</title>
<link rel="stylesheet" href="docs/assets/swagger-ui.css">
<link rel="icon" type="image/png" href="docs/assets/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="docs/assets/swagger-ui-bundle.js"></script>
<script src="docs/assets/docs-init.js"></script>
</body>
</html>
`;

const securityHeaders = { 'content-security-policy': DOCS_CSP, 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer' };

/** `GET /openapi.json`, `GET /docs` and the page's assets; no token: they hold no tenant's data. */
export function docsRoutes(document: object): Hono {
  const app = new Hono();
  const distDir = path.dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));
  const loaded = new Map<string, Promise<Buffer>>();

  app.get('/openapi.json', (c) => c.json(document));
  app.get('/docs', (c) => c.html(PAGE, 200, securityHeaders));
  app.get('/docs/assets/:file', async (c) => {
    const name = c.req.param('file');
    const asset = Object.hasOwn(ASSETS, name) ? ASSETS[name] : undefined;
    if (!asset) throw new ApiError('not_found', `no docs asset ${JSON.stringify(name).slice(0, 80)}`);
    let body: Promise<Buffer> | undefined = loaded.get(name);
    if (!body) {
      body = asset.text !== undefined ? Promise.resolve(Buffer.from(asset.text)) : readFile(path.join(distDir, asset.file!));
      // A failed read is not kept: the next request tries again.
      body.catch(() => loaded.delete(name));
      loaded.set(name, body);
    }
    return c.body(new Uint8Array(await body), 200, { ...securityHeaders, 'content-type': asset.type, 'cache-control': 'public, max-age=3600' });
  });
  return app;
}
