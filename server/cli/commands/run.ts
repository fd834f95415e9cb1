// `codex-runner run [DIR] -p PROMPT`: upload DIR, follow the run, print its final message, keep its
// diff (and with --apply, apply it), exit with its outcome.
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import type { RunView } from '../../runs/run-wire.js';
import { ApiClient, type ApiTarget } from '../api-client.js';
import { followEvents, isTerminal } from '../event-follow.js';
import { CliError, EXIT, exitCodeForStatus, type ExitCode } from '../exit-codes.js';
import { applyPatch, checkCleanTree } from '../git-apply.js';
import { multipartBody, multipartContentType, newBoundary } from '../multipart-body.js';
import { createProgressDisplay } from '../progress-display.js';
import { formatElapsed } from '../progress-text.js';
import { downloadArtifact } from '../run-artifacts.js';
import { selectWorkspaceFiles } from '../workspace-files.js';
import { packWorkspace } from '../workspace-tar.js';

export interface RunFlags {
  prompt: string;
  provider?: string;
  model?: string;
  timeout?: number;
  apply?: boolean;
  force?: boolean;
  out?: string;
  diff?: string;
  withGit?: boolean;
  json?: boolean;
}

export async function runCommand(dirArg: string, flags: RunFlags, target: ApiTarget): Promise<ExitCode> {
  const dir = path.resolve(dirArg);
  const kind = await stat(dir).catch(() => null);
  if (!kind?.isDirectory()) throw new CliError(EXIT.usage, `${dirArg} is not a directory`);
  if (flags.apply) await checkCleanTree(dir, flags.force ?? false);
  const client = new ApiClient(target);
  const startedAt = Date.now();
  const progress = createProgressDisplay(process.stderr, startedAt);
  const interrupt = new Interrupt();
  try {
    const files = await selectWorkspaceFiles(dir, { withGit: flags.withGit ?? false });
    progress.note(`uploading ${files.length} ${files.length === 1 ? 'file' : 'files'} from ${dir}`);
    const created = await createRun(client, dir, files, flags, interrupt.signal);
    interrupt.onCancel(() => {
      progress.note(`cancelling ${created.id} (Ctrl-C again to stop waiting)`);
      return client.request(`/v1/runs/${created.id}/cancel`, { method: 'POST' }).then(
        () => {},
        (err: Error) => progress.note(`cancel failed: ${err.message}`),
      );
    });
    let run: RunView | undefined;
    for await (const event of followEvents(client, created.id, { signal: interrupt.signal })) {
      progress.event(event);
      if (isTerminal(event)) run = event.data.run as RunView;
    }
    run ??= await client.json<RunView>(`/v1/runs/${created.id}`);
    progress.stop();
    return await finish(client, dir, run, flags, Date.now() - startedAt);
  } catch (err) {
    progress.stop();
    if (interrupt.signal.aborted) {
      await interrupt.sent();
      throw new CliError(EXIT.cancelled, 'interrupted: stopped waiting for the run');
    }
    throw err;
  } finally {
    interrupt.close();
  }
}

async function createRun(client: ApiClient, dir: string, files: string[], flags: RunFlags, signal: AbortSignal): Promise<RunView> {
  const options = Object.fromEntries(
    Object.entries({ provider: flags.provider, model: flags.model, timeout_s: flags.timeout }).filter(([, v]) => v !== undefined),
  );
  const boundary = newBoundary();
  const tarball = packWorkspace(dir, files);
  // fetch reports a body that failed as a failed request: keep the cause, a file here, not the server.
  let readError: Error | undefined;
  tarball.once('error', (err) => (readError ??= err));
  const body = multipartBody(boundary, [{ name: 'prompt', value: flags.prompt }, { name: 'options', value: JSON.stringify(options) }], {
    name: 'workspace',
    filename: 'workspace.tar.gz',
    contentType: 'application/gzip',
    content: tarball,
  });
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

async function finish(client: ApiClient, dir: string, run: RunView, flags: RunFlags, elapsedMs: number): Promise<ExitCode> {
  const say = (text: string) => process.stderr.write(`${text}\n`);
  const changes = run.changes ? `${run.changes.files_changed} files changed, +${run.changes.insertions} -${run.changes.deletions}` : 'no diff';
  say(`${run.id} ${run.status} in ${formatElapsed(elapsedMs)}: ${changes}`);
  if (run.error) say(`error: ${run.error.code}: ${run.error.message}`);

  let diffFile: string | null = null;
  if (run.changes && !run.artifacts_expired) {
    diffFile = path.resolve(flags.diff ?? `codex-runner-${run.id}.patch`);
    await downloadArtifact(client, run.id, 'diff', diffFile);
    say(`diff: ${diffFile}`);
  }
  if (flags.out) {
    await downloadArtifact(client, run.id, 'workspace', path.resolve(flags.out));
    say(`workspace: ${path.resolve(flags.out)}`);
  }
  if (flags.apply) {
    if (run.status !== 'succeeded') say('not applying the diff: the run did not succeed');
    else if (!diffFile || !run.changes?.files_changed) say('nothing to apply');
    else {
      await applyPatch(dir, diffFile);
      say(`applied to ${dir}`);
    }
  }
  if (flags.json) process.stdout.write(`${JSON.stringify(run)}\n`);
  else if (run.final_message) process.stdout.write(`${run.final_message}\n`);
  return exitCodeForStatus(run.status);
}

/**
 * Ctrl-C: during the upload, stops it; once the run exists, asks the server to cancel it and keeps
 * following until the run says cancelled; a second Ctrl-C stops waiting.
 */
class Interrupt {
  private readonly abort = new AbortController();
  private cancel: (() => Promise<void>) | null = null;
  private presses = 0;
  private cancelling: Promise<void> | null = null;
  private readonly handler = () => {
    this.presses++;
    if (this.cancel && this.presses === 1) this.cancelling = this.cancel();
    else this.abort.abort();
  };

  /** The cancel request a first Ctrl-C sent, so that stopping to wait does not cut it off. */
  async sent(): Promise<void> {
    await this.cancelling;
  }

  constructor() {
    process.on('SIGINT', this.handler);
  }

  get signal(): AbortSignal {
    return this.abort.signal;
  }

  onCancel(cancel: () => Promise<void>): void {
    this.cancel = cancel;
  }

  close(): void {
    process.off('SIGINT', this.handler);
  }
}
