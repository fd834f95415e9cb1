import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import { Hono } from 'hono';
import type { Logger } from 'pino';
import type { Config } from '../../config/config.js';
import { ApiError } from '../../http/api-error.js';
import type { AuthEnv } from '../../http/auth.js';
import { runRequestLimits } from '../../http/run-request.js';
import type { RunService } from '../../runs/run-service.js';
import { buildMcpServer } from './mcp-server.js';
import type { McpToolDeps } from './tool-deps.js';
import { transportRefusal } from './transport-errors.js';

const MiB = 1024 * 1024;
/** Room for the JSON-RPC envelope and the arguments around an inline workspace. */
const BODY_OVERHEAD_BYTES = 256 * 1024;
/** A tool result is read by a model: a page of diff it can take in, the rest a codex_run_diff away. */
export const MCP_DIFF_PAGE_BYTES = 256 * 1024;

/**
 * `POST /mcp`: MCP's Streamable HTTP transport, stateless. Each request gets its own server and
 * transport (the SDK's stateless pattern), bound to the request's tenant, and closed when its
 * answer has been sent or the client has gone: closing aborts the tool calls it was running.
 */
export function mcpRoutes(config: Config, service: RunService, log: Logger): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>();
  // The body is held in memory until it is parsed: its own cap, far under an upload's (streamed to disk).
  const bodyMaxBytes = config.limits.inlineWorkspaceMaxMb * MiB + config.limits.promptMaxBytes + BODY_OVERHEAD_BYTES;
  const deps: McpToolDeps = { service, requestLimits: runRequestLimits(config), diffPageBytes: MCP_DIFF_PAGE_BYTES, log: log.child({ facade: 'mcp' }) };

  app.post('/', async (c) => {
    const server = buildMcpServer(c.get('tenant'), deps);
    const transport = new WebStandardStreamableHTTPServerTransport({ sessionIdGenerator: undefined, maxRequestBodySize: bodyMaxBytes });
    let closed = false;
    const close = () => {
      if (closed) return;
      closed = true;
      server.close().catch((err: unknown) => deps.log.warn({ err }, 'closing an MCP server failed'));
    };
    const signal = c.req.raw.signal;
    signal.addEventListener('abort', close, { once: true });
    try {
      await server.connect(transport);
      const response = await transport.handleRequest(c.req.raw);
      const refusal = await transportRefusal(response);
      if (refusal) throw refusal;
      if (!response.body) {
        close();
        return response;
      }
      return new Response(closedAtEnd(response.body, close), { status: response.status, headers: response.headers });
    } catch (err) {
      close();
      throw err;
    }
  });

  // Stateless: no session to hold a stream of server-initiated messages open for, or to end.
  app.on(['GET', 'DELETE'], '/', (c) => {
    c.header('Allow', 'POST');
    throw new ApiError('method_not_allowed', `${c.req.method} /mcp: this server is stateless; send each JSON-RPC message as a POST`);
  });

  return app;
}

/** The body as it is, calling `done` once it has been read to its end, failed or been cancelled. */
function closedAtEnd(body: ReadableStream<Uint8Array>, done: () => void): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { value, done: ended } = await reader.read();
        if (ended) {
          controller.close();
          done();
        } else {
          controller.enqueue(value);
        }
      } catch (err) {
        controller.error(err);
        done();
      }
    },
    async cancel(reason) {
      done();
      await reader.cancel(reason);
    },
  });
}
