// The two ways `run` makes a run: a new one, with DIR streamed up as its workspace, or a follow-up
// turn of an ended run, which starts from that run's final workspace and Codex session and so
// sends no workspace at all.
import { Readable } from 'node:stream';
import type { RunView } from '../runs/run-wire.js';
import type { ApiClient } from './api-client.js';
import { CliError, EXIT } from './exit-codes.js';
import { multipartBody, multipartContentType, newBoundary } from './multipart-body.js';
import type { RunRequest } from './run-request.js';
import { packWorkspace } from './workspace-tar.js';


export async function uploadRun(client: ApiClient, dir: string, files: string[], request: RunRequest, signal: AbortSignal): Promise<RunView> {
  const boundary = newBoundary();
  const tarball = packWorkspace(dir, files);
  // fetch reports a body that failed as a failed request: keep the cause, a file here, not the server.
  let readError: Error | undefined;
  tarball.once('error', (err) => (readError ??= err));
  // options before the workspace: the server caps the upload at the run's own workspace_mb.
  const fields = [
    { name: 'prompt', value: request.prompt },
    { name: 'options', value: JSON.stringify(request.options) },
  ];
  const body = multipartBody(boundary, fields, { name: 'workspace', filename: 'workspace.tar.gz', contentType: 'application/gzip', content: tarball });
  try {
    return await client.json<RunView>('/v1/runs', {
      method: 'POST',
      headers: { 'content-type': multipartContentType(boundary) },
      body: Readable.toWeb(Readable.from(body)) as ReadableStream,
      // Node's fetch sends a streamed body only half-duplex: the answer is read once the body is sent.
      duplex: 'half',
      signal,
    });
  } catch (err) {
    if (readError) throw new CliError(EXIT.failed, `reading the workspace in ${dir}: ${readError.message}`);
    throw err;
  } finally {
    tarball.destroy();
  }
}

/** POST /v1/runs/{id}/follow-ups: the same body as a new run's, as JSON, since there is no file to send. */
export async function continueRun(client: ApiClient, parentId: string, request: RunRequest, signal: AbortSignal): Promise<RunView> {
  try {
    return await client.json<RunView>(`/v1/runs/${encodeURIComponent(parentId)}/follow-ups`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: request.prompt, options: request.options }),
      signal,
    });
  } catch (err) {
    // A refusal here is about the parent (unknown, still running, nothing kept to resume): say which.
    // An unreachable server or a refused token is not, and reads as for any command.
    if (err instanceof CliError && err.exitCode !== EXIT.unreachable) throw new CliError(err.exitCode, `cannot continue ${parentId}: ${err.message}`);
    throw err;
  }
}
