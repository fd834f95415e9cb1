import { randomUUID } from 'node:crypto';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import tar from 'tar-stream';
import { z } from 'zod';
import { spoolWorkspace } from '../archive/spool-workspace.js';
import { ApiError, shownId } from './api-error.js';
import type { RunRequestLimits } from './run-request.js';
import type { RunOptions } from '../runs/run-plan.js';
import type { CreateRunInput, RunService } from '../runs/run-service.js';
import { isTerminal, type Run } from '../runs/run.js';
import type { BaselineScan } from '../tree-diff/baseline-scan.js';

const MiB = 1024 * 1024;

/**
 * A facade's workspace: files given inline (relative path -> UTF-8 content) or the final workspace
 * of an earlier run of the same tenant.
 */
export const workspaceSourceSchema = z.union([
  z.object({ files: z.record(z.string().min(1), z.string()) }).strict(),
  z.object({ from_run: z.string().min(1).max(100) }).strict(),
]);

export type WorkspaceSource = z.output<typeof workspaceSourceSchema>;

export interface SpooledWorkspace {
  /** A checked plain tar; the caller owns it and must hand it to `RunService.create` or delete it. */
  workspaceTar: string;
  workspaceBytes: number;
  workspaceScan: BaselineScan;
}

export interface WorkspaceSourceDeps {
  runs: Pick<RunService, 'get' | 'openArtifact'>;
  limits: Pick<RunRequestLimits, 'uploadDir' | 'owner' | 'workspace'>;
}

export interface SpoolSourceOptions {
  tenant: string;
  /** The run's workspace cap in bytes; the server's (`limits.workspace.maxBytes`) when not given. */
  maxBytes?: number;
  signal?: AbortSignal;
}

/**
 * Spools the source into a checked tar through the same policy as an upload (escaping paths,
 * links, entry and byte caps). On any failure nothing is left behind and the error is one the
 * API maps (`ApiError`, `WorkspaceRejectedError`).
 */
export async function spoolWorkspaceSource(source: WorkspaceSource, opts: SpoolSourceOptions, deps: WorkspaceSourceDeps): Promise<SpooledWorkspace> {
  const input = 'files' in source ? filesTar(source.files) : await previousWorkspace(source.from_run, opts.tenant, deps.runs);
  const dest = path.join(deps.limits.uploadDir, `${randomUUID()}.tar`);
  const limits = { ...deps.limits.workspace, maxBytes: opts.maxBytes ?? deps.limits.workspace.maxBytes };
  try {
    const spooled = await spoolWorkspace(input, dest, limits, { ...deps.limits.owner, signal: opts.signal });
    return { workspaceTar: dest, workspaceBytes: spooled.bytes, workspaceScan: spooled.scan };
  } catch (err) {
    input.destroy();
    await rm(dest, { force: true });
    throw err;
  }
}

/**
 * Creates the tenant's run from a facade's request: admitted and planned first, its workspace (none:
 * an empty one) spooled under the run's own workspace_mb, then handed to the run service, which
 * moves the spool into the run; whatever happens, no spool is left.
 */
export async function createRunFromSource(
  runs: Pick<RunService, 'checkAdmission' | 'create' | 'get' | 'openArtifact'>,
  input: { tenant: string; prompt: string; options: RunOptions; workspace?: WorkspaceSource; signal?: AbortSignal } & Pick<CreateRunInput, 'images' | 'lineage'>,
  limits: WorkspaceSourceDeps['limits'],
): Promise<Run> {
  const { tenant, prompt, options, images, lineage } = input;
  const plan = runs.checkAdmission(tenant, options)!;
  const spooled = input.workspace
    ? await spoolWorkspaceSource(input.workspace, { tenant, maxBytes: plan.limits.workspaceMb * MiB, signal: input.signal }, { runs, limits })
    : undefined;
  try {
    return await runs.create({ tenant, prompt, options, workspaceTar: spooled?.workspaceTar ?? null, workspaceBytes: spooled?.workspaceBytes, workspaceScan: spooled?.workspaceScan, images, lineage });
  } finally {
    if (spooled) await rm(spooled.workspaceTar, { force: true });
  }
}

async function previousWorkspace(id: string, tenant: string, runs: WorkspaceSourceDeps['runs']): Promise<Readable> {
  // Another tenant's run is answered as a missing one: its existence is not theirs to learn.
  const run = await runs.get(tenant, id);
  if (!run) throw new ApiError('not_found', `workspace.from_run: no run ${shownId(id)}`);
  if (!isTerminal(run.status)) throw new ApiError('run_not_finished', `workspace.from_run: run ${id} is ${run.status}; its workspace is ready when it ends`);
  if (run.artifactsExpired) throw new ApiError('artifact_expired', `workspace.from_run: retention has removed run ${id}'s workspace`);
  if (!run.hasWorkspace) throw new ApiError('not_found', `workspace.from_run: run ${id} ended ${run.status} and has no workspace`);
  return runs.openArtifact(run, 'workspace', 'tar');
}

/** The map as a tar stream of regular files; the policy then judges each name like an upload's. */
function filesTar(files: Record<string, string>): Readable {
  const pack = tar.pack();
  const mtime = new Date();
  // tar-stream queues each entry's body: the map is in memory already (a parsed JSON body).
  for (const [name, content] of Object.entries(files)) pack.entry({ name, type: 'file', mode: 0o644, mtime }, content);
  pack.finalize();
  return Readable.from(pack);
}
