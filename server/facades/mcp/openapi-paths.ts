// The MCP server's route as the OpenAPI document shows it (joined in server/api-document.ts). Its
// messages are JSON-RPC 2.0 as MCP's Streamable HTTP transport defines them; the SDK reads them, so
// the document gives their envelope only, and the tools are listed by `tools/list` itself.
import { z } from 'zod';
import type { ZodOpenApiPathsObject } from 'zod-openapi';
import { errorResponses } from '../../http/openapi/error-responses.js';

const bearer = [{ bearer: [] }];

const jsonRpcMessage = z.looseObject({
  jsonrpc: z.literal('2.0'),
  id: z.union([z.string(), z.number()]).optional(),
  method: z.string().optional(),
});

const statelessOnly = {
  summary: 'Not served: the MCP server is stateless (no session stream to open or end)',
  tags: ['mcp'],
  security: bearer,
  responses: { ...errorResponses(401, 405) },
};

export const mcpPaths: ZodOpenApiPathsObject = {
  '/mcp': {
    post: {
      summary: 'One MCP JSON-RPC message over Streamable HTTP (tools codex_run, codex_run_status, codex_run_diff, codex_run_cancel)',
      description: '`Accept` must name both `application/json` and `text/event-stream`. A request is answered as SSE (progress notifications, then the result); a notification or a response with 202 and no body.',
      tags: ['mcp'],
      security: bearer,
      requestBody: { required: true, content: { 'application/json': { schema: z.union([jsonRpcMessage, z.array(jsonRpcMessage)]) } } },
      responses: {
        '200': { description: 'The JSON-RPC answer', content: { 'text/event-stream': { schema: z.string() }, 'application/json': { schema: jsonRpcMessage } } },
        '202': { description: 'A notification or response, taken' },
        ...errorResponses(401, 405, 406, 413, 415),
      },
    },
    get: statelessOnly,
    delete: statelessOnly,
  },
};
