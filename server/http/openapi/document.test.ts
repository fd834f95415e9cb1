import { describe, expect, it } from 'vitest';
import { errorStatus } from '../api-error.js';
import { optionsSchema } from '../run-request.js';
import { runEventSchema, runViewSchema } from '../../runs/run-wire.js';
import { openApiDocument } from '../../api-document.js';

const doc = openApiDocument();
const operations = Object.entries(doc.paths ?? {}).flatMap(([path, item]) =>
  Object.entries(item as Record<string, any>).map(([method, operation]) => ({ path, method, operation })),
);
const schemas = doc.components!.schemas as Record<string, any>;

describe('the OpenAPI document', () => {
  it('is OpenAPI 3.1 with a bearer scheme that every /v1, /mcp and /metrics operation asks for, and each of those lists 401', () => {
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.components!.securitySchemes).toEqual({ bearer: expect.objectContaining({ type: 'http', scheme: 'bearer' }) });
    for (const { path, method, operation } of operations) {
      const needsToken = path.startsWith('/v1/') || path === '/mcp' || path === '/metrics';
      expect(Boolean(operation.security), `${method} ${path}`).toBe(needsToken);
      expect(Object.hasOwn(operation.responses, '401'), `${method} ${path}`).toBe(needsToken);
    }
  });

  it('declares each path template parameter as a required path parameter', () => {
    for (const { path, method, operation } of operations) {
      const names = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
      const declared = (operation.parameters ?? []).filter((p: any) => p.in === 'path');
      expect(declared.map((p: any) => p.name), `${method} ${path}`).toEqual(names);
      for (const p of declared) expect(p.required, `${method} ${path} ${p.name}`).toBe(true);
    }
  });

  it('gives each error status the envelope with exactly the codes of that status', () => {
    for (const [code, status] of Object.entries(errorStatus)) {
      const schema = schemas[`Error${status}`];
      if (!schema) continue;
      expect(schema.properties.error.properties.code.enum, code).toContain(code);
    }
    expect(schemas.Error429.properties.error.properties.code.enum).toEqual(['queue_full', 'too_many_streams']);
    expect(schemas.Error503.properties.error.properties.code.enum).toEqual(['not_ready', 'shutting_down', 'storage_full']);
  });

  it("shows the run and its options with the wire schemas' own fields, and no others", () => {
    expect(Object.keys(schemas.Run.properties)).toEqual(Object.keys(runViewSchema.shape));
    expect(schemas.Run.additionalProperties).toBe(false);
    expect(Object.keys(schemas.RunOptions.properties)).toEqual(Object.keys(optionsSchema.shape));
    expect(schemas.RunOptions.additionalProperties).toBe(false);
    // run, codex, setup, egress.
    expect(schemas.RunEvent.oneOf).toHaveLength(runEventSchema.options.length);
  });

  it('takes a run request as JSON or as a multipart form', () => {
    const body = (doc.paths!['/v1/runs'] as any).post.requestBody;
    expect(Object.keys(body.content)).toEqual(['application/json', 'multipart/form-data']);
    expect(body.content['multipart/form-data'].schema.properties.workspace.format).toBe('binary');
  });
});
