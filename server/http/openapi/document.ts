import { createDocument, createSchema, type oas31, type ZodOpenApiPathsObject } from 'zod-openapi';
import { eventSchemas, namedSchemas } from './api-paths.js';

export type ApiDocument = oas31.OpenAPIObject;

/** The API's OpenAPI 3.1 document from route tables' zod schemas (`server/api-document.ts` gives them all). */
export function buildApiDocument(paths: ZodOpenApiPathsObject): ApiDocument {
  const document = createDocument({
    openapi: '3.1.0',
    info: {
      title: 'codex-runner',
      version: '1',
      description: 'Runs the OpenAI Codex CLI in a fresh, hardened Docker sandbox per request. Errors are `{"error":{"code","message","request_id"}}`.',
    },
    components: {
      schemas: namedSchemas,
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: "A tenant's token (`[[tenants]]`, or CODEX_RUNNER_TOKEN)" } },
    },
    paths,
  });
  // Rendered apart, as responses are: a component no operation uses is otherwise rendered as a
  // request's, which would give the run it holds a second, input-side component.
  const schemas = (document.components!.schemas ??= {});
  for (const [id, zodSchema] of Object.entries(eventSchemas)) {
    const { schema, components } = createSchema(zodSchema, { io: 'output', schemaComponents: namedSchemas });
    Object.assign(schemas, components, { [id]: schema });
  }
  return document;
}
