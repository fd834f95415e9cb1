import { rm } from 'node:fs/promises';
import type { Context } from 'hono';
import { createRunFromSource } from '../workspace-source.js';
import { followUpLineage } from '../../runs/live-run.js';
import type { RunOptions as PlanOptions } from '../../runs/run-plan.js';
import type { RunService } from '../../runs/run-service.js';
import { isResumable, isTerminal, type Run } from '../../runs/run.js';
import { ApiError, shownId } from '../api-error.js';
import type { AuthEnv } from '../auth.js';
import { discardRestOfBody, requestBody } from '../node-body.js';
import { readRunRequest, type RunRequest, type RunRequestLimits } from '../run-request.js';

/**
 * `POST /v1/runs/{id}/follow-ups`: a new run, in a new sandbox, from the parent's final workspace
 * and Codex session (`codex exec resume`). The body is a run's, without a workspace. Options not
 * given are the parent's provider, model and environment: the conversation's.
 */
export async function createFollowUp(
  c: Context<AuthEnv>,
  service: RunService,
  limits: RunRequestLimits,
  toPlanOptions: (options: RunRequest['options']) => PlanOptions,
): Promise<Run> {
  const tenant = c.get('tenant');
  const body = requestBody(c);
  let parent: Run;
  let request: RunRequest;
  try {
    parent = await resumableParent(service, tenant, c.req.param('id')!);
    service.checkAdmission(tenant);
    request = await readRunRequest(c.req.raw, limits, () => {
      throw new ApiError('bad_request', `a follow-up starts from run ${parent.id}'s final workspace: send no workspace part`);
    }, body.stream);
  } catch (err) {
    // As for POST /v1/runs: the rest of a refused body is read and thrown away, within bounds.
    discardRestOfBody(body.incoming);
    throw err;
  }
  try {
    return await createFollowUpRun(service, limits, { tenant, parent, prompt: request.prompt, options: toPlanOptions(request.options), images: request.images, signal: c.req.raw.signal });
  } finally {
    for (const image of request.images) await rm(image.path, { force: true });
  }
}

/**
 * The follow-up of `parent` (from `resumableParent`), for the route and the facades: its workspace is
 * the parent's, spooled through an upload's checks; options not given are the conversation's.
 */
export function createFollowUpRun(
  service: Pick<RunService, 'checkAdmission' | 'create' | 'get' | 'openArtifact'>,
  limits: Pick<RunRequestLimits, 'uploadDir' | 'owner' | 'workspace'>,
  input: { tenant: string; parent: Run; prompt: string; options: PlanOptions; images?: RunRequest['images']; signal?: AbortSignal },
): Promise<Run> {
  const { parent } = input;
  return createRunFromSource(
    service,
    {
      tenant: input.tenant,
      prompt: input.prompt,
      options: { ...conversationOptions(parent), ...definedOnly(input.options) },
      workspace: { from_run: parent.id },
      images: input.images,
      lineage: followUpLineage(parent),
      signal: input.signal,
    },
    limits,
  );
}

/** The tenant's run `id`, if a follow-up can continue it; otherwise the API error that says why. */
export async function resumableParent(service: Pick<RunService, 'get'>, tenant: string, id: string): Promise<Run> {
  // Another tenant's run is answered as a missing one: its existence is not theirs to learn.
  const parent = await service.get(tenant, id);
  if (!parent) throw new ApiError('not_found', `no run ${shownId(id)}`);
  if (!isTerminal(parent.status)) throw new ApiError('run_not_finished', `run ${id} is ${parent.status}; it can be followed up once it has ended`);
  if (parent.artifactsExpired) throw new ApiError('artifact_expired', `retention has removed run ${id}'s workspace and Codex session`);
  if (!isResumable(parent)) throw new ApiError('not_resumable', `run ${id} ended ${parent.status} ${notResumableBecause(parent)}: it cannot be followed up`);
  return parent;
}

function notResumableBecause(run: Run): string {
  if (!run.hasWorkspace) return 'without a workspace';
  if (run.threadId === null) return 'before Codex started its session';
  return "without Codex's session (it passed limits.session_max_mb or could not be read: the server's log says which)";
}

function conversationOptions(parent: Run): PlanOptions {
  return { provider: parent.provider, model: parent.model, environment: parent.environment };
}

function definedOnly(options: PlanOptions): PlanOptions {
  return Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined)) as PlanOptions;
}
