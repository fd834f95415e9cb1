import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { runView } from '../../runs/run.js';
import { codexRun } from './codex-run-tool.js';
import { readDiffPage } from './diff-page.js';
import { diffUnavailable, runDiffResult, runStatusResult } from './run-result.js';
import { errorResult, toolError } from './tool-error.js';
import type { McpToolDeps } from './tool-deps.js';
import { codexRunInput, codexRunOutput, runDiffInput, runDiffOutput, runStatusInput, runStatusOutput } from './tool-schemas.js';

const SERVER_INFO = { name: 'codex-runner', version: '1' };

/** One tenant's MCP server: its tools see only that tenant's runs (another's is "not found"). */
export function buildMcpServer(tenant: string, deps: McpToolDeps): McpServer {
  const server = new McpServer(SERVER_INFO, { capabilities: { tools: {} } });
  const { service } = deps;
  const guarded = async (tool: string, call: () => Promise<CallToolResult>): Promise<CallToolResult> => {
    try {
      return await call();
    } catch (err) {
      return toolError(err, deps.log, tool);
    }
  };

  server.registerTool(
    'codex_run',
    {
      title: 'Run Codex in a sandbox',
      description:
        'Runs the Codex CLI on a prompt in a fresh sandbox, on the files given (or the final workspace of an earlier run, or as a follow-up turn of one that resumes its conversation: continue_run), and returns ' +
        "Codex's final message, the diff of what it changed and the run id. Sends a progress notification per Codex step when the " +
        'request has a progressToken. Closing the connection during the call cancels the run, and so does codex_run_cancel.',
      inputSchema: codexRunInput,
      outputSchema: codexRunOutput,
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
    },
    (args, extra) => guarded('codex_run', () => codexRun(args, tenant, deps, extra)),
  );

  server.registerTool(
    'codex_run_status',
    {
      title: "A run's status",
      description: "A run's status and record (as GET /v1/runs/{id} shows it): its final message, error, changes and usage once it has ended.",
      inputSchema: runStatusInput,
      outputSchema: runStatusOutput,
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    ({ run_id }) =>
      guarded('codex_run_status', async () => {
        const run = await service.get(tenant, run_id);
        if (!run) return errorResult('not_found', `no run ${run_id}`);
        return runStatusResult({ ...runView(run), queue_position: run.status === 'queued' ? service.queuePosition(run.id) : null });
      }),
  );

  server.registerTool(
    'codex_run_diff',
    {
      title: "An ended run's diff",
      description: `The unified diff of what an ended run changed, in pages of at most ${deps.diffPageBytes} bytes cut at line ends: pass next_offset as offset for the next page.`,
      inputSchema: runDiffInput,
      outputSchema: runDiffOutput,
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    ({ run_id, offset }) =>
      guarded('codex_run_diff', async () => {
        const run = await service.get(tenant, run_id);
        if (!run) return errorResult('not_found', `no run ${run_id}`);
        const unavailable = diffUnavailable(run);
        if (unavailable) return errorResult(unavailable.code, unavailable.message);
        return runDiffResult(run.id, await readDiffPage(await service.openArtifact(run, 'diff'), offset ?? 0, deps.diffPageBytes));
      }),
  );

  server.registerTool(
    'codex_run_cancel',
    {
      title: 'Cancel a run',
      description:
        'Cancels a queued or running run (it ends cancelled); an ended run is left as it is. The run id is in the first progress ' +
        "notification of codex_run. This server is stateless: an MCP cancellation of a codex_run call cannot reach the call it names, but closing the connection does, and so does this tool.",
      inputSchema: runStatusInput,
      outputSchema: runStatusOutput,
      annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
    },
    ({ run_id }) =>
      guarded('codex_run_cancel', async () => {
        const run = await service.cancel(tenant, run_id);
        if (!run) return errorResult('not_found', `no run ${run_id}`);
        return runStatusResult({ ...runView(run), queue_position: null });
      }),
  );

  return server;
}
