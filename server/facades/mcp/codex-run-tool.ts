import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import type { CallToolResult, ServerNotification, ServerRequest } from '@modelcontextprotocol/sdk/types.js';
import { checkPrompt } from '../../http/run-request.js';
import type { RunOptions } from '../../runs/run-plan.js';
import type { Run } from '../../runs/run.js';
import { TooManyStreamsError } from '../../runs/stream-slots.js';
import { streamEventText } from '../progress-text.js';
import { ApiError } from '../../http/api-error.js';
import { createFollowUpRun, resumableParent } from '../../http/routes/follow-ups.js';
import { createRunFromSource, type WorkspaceSource } from '../../http/workspace-source.js';
import { readDiffPage } from './diff-page.js';
import { followProgress } from './follow-progress.js';
import { codexRunResult } from './run-result.js';
import { errorResult } from './tool-error.js';
import type { McpToolDeps } from './tool-deps.js';


export type ToolExtra = RequestHandlerExtra<ServerRequest, ServerNotification>;

export interface CodexRunArgs {
  prompt: string;
  workspace?: WorkspaceSource;
  continue_run?: string;
  provider?: string;
  model?: string;
  timeout_s?: number;
}

/**
 * `codex_run`: one run from its creation to its end. The call owns the run while it waits: when the
 * call is aborted (its client's connection closed, which closes the request's MCP server) the run is
 * cancelled.
 */
export async function codexRun(args: CodexRunArgs, tenant: string, deps: McpToolDeps, extra: ToolExtra): Promise<CallToolResult> {
  const { service } = deps;
  const prompt = checkPrompt(args.prompt, deps.requestLimits);
  const options: RunOptions = { provider: args.provider, model: args.model, timeoutS: args.timeout_s };
  const run = args.continue_run === undefined
    ? await createRunFromSource(service, { tenant, prompt, options, workspace: args.workspace, signal: extra.signal }, deps.requestLimits)
    : await continueRun(args, args.continue_run, { tenant, prompt, options }, deps, extra);
  try {
    await follow(run, tenant, deps, extra);
  } finally {
    if (extra.signal.aborted) await service.cancel(tenant, run.id);
  }
  // Nobody is left to read a result.
  if (extra.signal.aborted) return errorResult('cancelled', `the call was cancelled, and run ${run.id} with it`);
  const ended = (await service.get(tenant, run.id)) ?? run;
  const diff = ended.hasDiff && !ended.artifactsExpired ? await readDiffPage(await service.openArtifact(ended, 'diff'), 0, deps.diffPageBytes) : null;
  return codexRunResult(ended, diff);
}

/** A follow-up turn of the tenant's ended run `parentId`, from its final workspace and Codex session. */
async function continueRun(args: CodexRunArgs, parentId: string, run: { tenant: string; prompt: string; options: RunOptions }, deps: McpToolDeps, extra: ToolExtra): Promise<Run> {
  if (args.workspace) throw new ApiError('bad_request', "continue_run starts from that run's final workspace: give no workspace with it");
  const parent = await resumableParent(deps.service, run.tenant, parentId);
  return createFollowUpRun(deps.service, deps.requestLimits, { ...run, parent, signal: extra.signal });
}

/** Until the run ends: its steps as progress notifications when the client asked for them (a progressToken). */
async function follow(run: Run, tenant: string, deps: McpToolDeps, extra: ToolExtra): Promise<void> {
  const progressToken = extra._meta?.progressToken;
  if (progressToken !== undefined) {
    let events;
    try {
      events = deps.service.events({ id: run.id, tenant }, 0, extra.signal);
    } catch (err) {
      if (!(err instanceof TooManyStreamsError)) throw err;
      // The tenant's event streams are all taken: the run goes on, only without progress.
      deps.log.warn({ runId: run.id, tenant }, `codex_run without progress notifications: ${err.message}`);
    }
    if (events) {
      try {
        await followProgress(events, streamEventText, (progress, message) =>
          extra.sendNotification({ method: 'notifications/progress', params: { progressToken, progress, message } }),
        );
      } finally {
        await events.return();
      }
    }
  }
  await deps.service.waitForEnd(run.id, extra.signal);
}
