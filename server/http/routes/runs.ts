import { rm } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { Hono, type Context } from 'hono';
import { streamSSE } from 'hono/streaming';
import type { Config } from '../../config/config.js';
import type { WorkspaceFormat } from '../../runs/run-artifacts.js';
import type { RunService } from '../../runs/run-service.js';
import type { WorkspacePreload } from '../../runs/workspace-preload.js';
import type { RunOptions as PlanOptions } from '../../runs/run-plan.js';
import type { RunStreamEvent } from '../../runs/run-wire.js';
import type { HeldStream } from '../../runs/stream-slots.js';
import { tenantCeilings } from '../../runs/tenant-quota.js';
import { isTerminal, runView, type Run } from '../../runs/run.js';
import { ApiError, shownId } from '../api-error.js';
import type { AuthEnv } from '../auth.js';
import { discardRestOfBody, requestBody } from '../node-body.js';
import { encodeCursor, parseRunListQuery } from '../run-list-query.js';
import { readRunRequest, runRequestLimits, type RunOptions, type RunRequest } from '../run-request.js';
import { createFollowUp } from './follow-ups.js';

const MiB = 1024 * 1024;

export function runRoutes(config: Config, service: RunService): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>();
  const limits = runRequestLimits(config);

  const findRun = async (tenant: string, id: string): Promise<Run> => {
    const run = await service.get(tenant, id);
    if (!run) throw new ApiError('not_found', `no run ${shownId(id)}`);
    return run;
  };
  /** The run as a GET shows it: with its place in line while it waits. */
  const view = (run: Run) => ({ ...runView(run), queue_position: run.status === 'queued' ? service.queuePosition(run.id) : null });
  /** A new run's answer: 202 at once, or with `?wait=1` 200 once it has ended. */
  const created = async (c: Context<AuthEnv>, run: Run) => {
    if (!isWaitRequested(c.req.query('wait'))) return c.json(view(run), 202);
    await service.waitForEnd(run.id, c.req.raw.signal);
    return c.json(view(await findRun(c.get('tenant'), run.id)), 200);
  };

  app.get('/', async (c) => {
    const { runs, next } = await service.list(c.get('tenant'), parseRunListQuery(c.req.query()));
    return c.json({ runs: runs.map(view), next_cursor: next && encodeCursor(next) });
  });

  app.post('/', async (c) => {
    const tenant = c.get('tenant');
    // Refused before a byte of the upload is read: a full queue is not worth a 256 MiB spool. The
    // upload may then be as large as the run's workspace, or, its options not known yet, the tenant's ceiling.
    const admit = (options: RunOptions | undefined) => {
      const plan = service.checkAdmission(tenant, options && runOptions(options));
      return (plan?.limits.workspaceMb ?? tenantCeilings(config, tenant).workspaceMb) * MiB;
    };
    // A sandbox from the pool takes the workspace as it is spooled, when the run would start at once.
    let preload: WorkspacePreload | null = null;
    const copyTo = (options: RunOptions | undefined) => (preload = service.preloadWorkspace(tenant, options && runOptions(options)));
    const body = requestBody(c);
    let request: RunRequest;
    try {
      admit(undefined);
      request = await readRunRequest(c.req.raw, limits, admit, body.stream, copyTo);
    } catch (err) {
      // Refused before the upload was read to its end: the rest is read and thrown away, within
      // bounds, so the connection is not reset under the answer (no `Connection: close` either:
      // Node would then close the socket with the body still arriving, which is that reset).
      discardRestOfBody(body.incoming);
      // Its removal is the service's to await at shutdown, not the answer's.
      void (preload as WorkspacePreload | null)?.discard();
      throw err;
    }
    let run: Run;
    try {
      run = await service.create({
        tenant,
        prompt: request.prompt,
        options: runOptions(request.options),
        workspaceTar: request.workspaceTar,
        workspaceBytes: request.workspaceBytes,
        workspaceScan: request.workspaceScan,
        images: request.images,
        preload,
      });
    } finally {
      if (request.workspaceTar) await rm(request.workspaceTar, { force: true });
      for (const image of request.images) await rm(image.path, { force: true });
    }
    return created(c, run);
  });

  app.get('/:id', async (c) => c.json(view(await findRun(c.get('tenant'), c.req.param('id')))));

  app.post('/:id/cancel', async (c) => {
    const run = await service.cancel(c.get('tenant'), c.req.param('id'));
    if (!run) throw new ApiError('not_found', `no run ${shownId(c.req.param('id'))}`);
    return c.json(runView(run));
  });

  app.get('/:id/events', async (c) => {
    const run = await findRun(c.get('tenant'), c.req.param('id'));
    if (run.artifactsExpired) throw expired(run, 'events');
    const after = Number(c.req.header('last-event-id') ?? c.req.query('after') ?? 0) || 0;
    const abort = new AbortController();
    const events: HeldStream<RunStreamEvent> = service.events(run, after, abort.signal);
    return streamSSE(c, async (stream) => {
      // A client that disconnects cancels the response: the read stops and its slot is given back.
      stream.onAbort(() => abort.abort());
      try {
        for await (const event of events) {
          // Resolves only once the client has taken the previous bytes: the backpressure for the file read.
          await stream.writeSSE({ id: String(event.seq), event: event.kind, data: JSON.stringify(event.data) });
          if (abort.signal.aborted) break;
        }
      } finally {
        await events.return();
      }
    });
  });

  app.post('/:id/follow-ups', async (c) => {
    const run = await createFollowUp(c, service, limits, runOptions);
    return created(c, run);
  });

  app.get('/:id/diff', async (c) => {
    const base = c.req.query('base') ?? 'parent';
    if (base !== 'parent' && base !== 'root') throw new ApiError('bad_request', `base ${JSON.stringify(base).slice(0, 40)}: "parent" (the default) or "root"`);
    const run = await findRun(c.get('tenant'), c.req.param('id'));
    // A first run's diff is against its own upload, the conversation's first.
    if (base === 'parent' || run.rootId === null) return artifact(run, 'diff', service);
    return rootDiff(run, service);
  });
  app.get('/:id/workspace', async (c) => {
    const format = c.req.query('format') ?? 'tar.gz';
    if (format !== 'tar.gz' && format !== 'tar') throw new ApiError('bad_request', `format ${JSON.stringify(format).slice(0, 40)}: "tar.gz" (the default) or "tar"`);
    return artifact(await findRun(c.get('tenant'), c.req.param('id')), 'workspace', service, format);
  });

  return app;
}

/** The follow-up's final workspace against the conversation's first upload, made on the first ask. */
async function rootDiff(run: Run, service: RunService): Promise<Response> {
  if (!isTerminal(run.status)) throw new ApiError('run_not_finished', `run ${run.id} is ${run.status}; its diff is ready when it ends`);
  if (run.artifactsExpired) throw expired(run, 'diff');
  if (!run.hasWorkspace) throw new ApiError('not_found', `run ${run.id} ended ${run.status} without a workspace, which its diff against the first upload is made from`);
  const body = Readable.toWeb(await service.openRootDiff(run)) as ReadableStream;
  return new Response(body, { headers: { 'content-type': 'text/x-diff; charset=utf-8' } });
}

function expired(run: Run, what: string): ApiError {
  return new ApiError('artifact_expired', `run ${run.id} ended ${run.finishedAt?.toISOString()}; retention has removed its ${what}`);
}

async function artifact(run: Run, kind: 'diff' | 'workspace', service: RunService, format: WorkspaceFormat = 'tar.gz'): Promise<Response> {
  if (!isTerminal(run.status)) throw new ApiError('run_not_finished', `run ${run.id} is ${run.status}; its ${kind} is ready when it ends`);
  if (run.artifactsExpired) throw expired(run, kind);
  const present = kind === 'diff' ? run.hasDiff : run.hasWorkspace;
  if (!present) throw new ApiError('not_found', `run ${run.id} ended ${run.status} and has no ${kind}`);
  const body = Readable.toWeb(await service.openArtifact(run, kind, format)) as ReadableStream;
  const headers: Record<string, string> =
    kind === 'diff'
      ? { 'content-type': 'text/x-diff; charset=utf-8' }
      : { 'content-type': format === 'tar' ? 'application/x-tar' : 'application/gzip', 'content-disposition': `attachment; filename="${run.id}-workspace.${format}"` };
  return new Response(body, { headers });
}

/** The wire's options (snake_case) as the planner takes them. */
function runOptions(options: RunOptions): PlanOptions {
  return {
    provider: options.provider,
    model: options.model,
    timeoutS: options.timeout_s,
    memoryMb: options.memory_mb,
    cpus: options.cpus,
    workspaceMb: options.workspace_mb,
    webhookUrl: options.webhook_url,
    outputSchema: options.output_schema,
    environment: options.environment,
  };
}

function isWaitRequested(value: string | undefined): boolean {
  return value !== undefined && value !== '0' && value !== 'false';
}
