import type { Logger } from 'pino';
import type { RunRequestLimits } from '../../http/run-request.js';
import type { RunService } from '../../runs/run-service.js';

/** What the MCP tools are built on: the run service and the checks an upload gets. */
export interface McpToolDeps {
  service: RunService;
  requestLimits: RunRequestLimits;
  /** How much of a diff one tool result carries; codex_run_diff pages through the rest. */
  diffPageBytes: number;
  log: Logger;
}
