import { createDocument, createSchema, type oas31 } from 'zod-openapi';
import { apiPaths, eventSchemas, namedSchemas } from './api-paths.js';

let built: oas31.OpenAPIObject | undefined;

/** The API's OpenAPI 3.1 document, built once from the route table's zod schemas. */
export function openApiDocument(): oas31.OpenAPIObject {
  built ??= build();
  return built;
}

function build(): oas31.OpenAPIObject {
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
    paths: apiPaths,
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
