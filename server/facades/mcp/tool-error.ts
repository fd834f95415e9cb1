import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { Logger } from 'pino';
import { apiErrorFor } from '../../http/domain-errors.js';

/**
 * A failed call as a tool result (`isError`), with the code and message the REST API would answer
 * with; what no room named is logged and shown as `internal`, its text kept off the wire.
 */
export function toolError(err: unknown, log: Pick<Logger, 'error'>, tool: string): CallToolResult {
  const mapped = apiErrorFor(err);
  if (mapped) return errorResult(mapped.code, mapped.message);
  log.error({ err, tool }, 'MCP tool call failed');
  return errorResult('internal', 'internal error');
}

export function errorResult(code: string, message: string): CallToolResult {
  return { content: [{ type: 'text', text: `${code}: ${message}` }], isError: true };
}
