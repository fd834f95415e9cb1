// The one list of route tables the OpenAPI document is built from: a route added to the app needs
// its entry in one of them (or in UNDOCUMENTED, with the reason), or test/openapi.test.ts fails.
import { mcpPaths } from './facades/mcp/openapi-paths.js';
import { openaiPaths } from './facades/openai/openapi-paths.js';
import { apiPaths, UNDOCUMENTED_HERE } from './http/openapi/api-paths.js';
import { buildApiDocument, type ApiDocument } from './http/openapi/document.js';

/** Routes of the app left out of the document on purpose, each with its reason. */
export const UNDOCUMENTED: readonly { method: string; path: string; why: string }[] = [...UNDOCUMENTED_HERE];

let built: ApiDocument | undefined;

/** Built once: the schemas do not change while the process runs. */
export function openApiDocument(): ApiDocument {
  built ??= buildApiDocument({ ...apiPaths, ...openaiPaths, ...mcpPaths });
  return built;
}
