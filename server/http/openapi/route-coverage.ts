/** A route as Hono lists it (`app.routes`): `ALL` for middleware (`app.use`) and for `app.all`. */
export interface AppRoute {
  method: string;
  path: string;
}

/** An OpenAPI document, as far as its operations go. */
export interface DocumentedPaths {
  paths?: object;
}

type PathItems = Record<string, Record<string, unknown> | undefined>;

const OPERATION_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

/** Hono's `/v1/runs/:id` (or `:id{[0-9]+}`) as OpenAPI writes it, `/v1/runs/{id}`. */
export function openApiPath(honoPath: string): string {
  return honoPath.replace(/:([A-Za-z0-9_]+)(\{[^}]*\})?/g, '{$1}');
}

/**
 * The app's routes the document does not describe, as `METHOD /path`, less those listed as left out
 * on purpose. Middleware (`ALL` on a path ending in `*`) is not a route; an `app.all` route counts
 * as described when its path has any operation.
 */
export function routesMissingFromDocument(routes: readonly AppRoute[], document: DocumentedPaths, undocumented: readonly AppRoute[] = []): string[] {
  const missing = new Set<string>();
  const skip = new Set(undocumented.map((r) => `${r.method.toUpperCase()} ${r.path}`));
  for (const route of routes) {
    const method = route.method.toUpperCase();
    if (method === 'ALL' && route.path.endsWith('*')) continue;
    const path = openApiPath(route.path);
    if (skip.has(`${method} ${path}`)) continue;
    const item = (document.paths as PathItems | undefined)?.[path];
    const described = method === 'ALL' ? OPERATION_METHODS.some((m) => item?.[m]) : Boolean(item?.[method.toLowerCase()]);
    if (!described) missing.add(`${method} ${path}`);
  }
  return [...missing];
}

/** The document's operations no route of the app serves: an entry left behind when a route went. */
export function operationsWithoutRoute(routes: readonly AppRoute[], document: DocumentedPaths): string[] {
  const served = new Set(routes.map((r) => `${r.method.toUpperCase()} ${openApiPath(r.path)}`));
  const stale: string[] = [];
  for (const [path, item] of Object.entries((document.paths ?? {}) as PathItems)) {
    for (const method of OPERATION_METHODS) {
      if (item?.[method] && !served.has(`${method.toUpperCase()} ${path}`) && !served.has(`ALL ${path}`)) stale.push(`${method.toUpperCase()} ${path}`);
    }
  }
  return stale;
}
