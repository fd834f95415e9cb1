// `codex-runner run [DIR] -p PROMPT`: upload DIR (or, with --continue ID, send a follow-up turn of
// run ID), follow the run, print its result, keep its diff (and with --apply, apply it), exit with
// its outcome.
import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { ApiClient } from '../api-client.js';
import { followEvents, isTerminal } from '../event-follow.js';
import { CliError, EXIT, type ExitCode } from '../exit-codes.js';
import { checkCleanTree } from '../git-apply.js';
import { Interrupt } from '../interrupt.js';
import { createProgressDisplay, type ProgressDisplay } from '../progress-display.js';
import { continueRun, uploadRun } from '../run-create.js';
import type { RunView } from '../../runs/run-wire.js';
import { buildRunRequest, type RunRequest, type RunRequestFlags } from '../run-request.js';
import { finishRun, type ResultFlags } from '../run-result.js';
import { selectWorkspaceFiles } from '../workspace-files.js';

export interface RunFlags extends RunRequestFlags, ResultFlags {
  force?: boolean;
  withGit?: boolean;
  /** The ended run this one continues; then DIR is only where --apply applies. */
  continue?: string;
}

/** Flags that contradict each other, refused before anything is read or sent. */
export function checkRunFlags(flags: RunFlags): void {
  if (flags.continue !== undefined) {
    if (!flags.continue.trim()) throw new CliError(EXIT.usage, '--continue needs the id of the run to continue');
    if (flags.withGit) throw new CliError(EXIT.usage, '--with-git sends .git with the workspace, and --continue sends no workspace (the run goes on from its parent\'s)');
  } else if (flags.base !== undefined) {
    throw new CliError(EXIT.usage, "--base chooses a follow-up's diff: it needs --continue (a new run's diff is against its upload)");
  }
}

export async function runCommand(dirArg: string, flags: RunFlags, client: ApiClient): Promise<ExitCode> {
  checkRunFlags(flags);
  const dir = path.resolve(dirArg);
  const kind = await stat(dir).catch(() => null);
  if (!kind?.isDirectory()) throw new CliError(EXIT.usage, `${dirArg} is not a directory`);
  const request = await buildRunRequest(flags);
  if (flags.apply) await checkCleanTree(dir, flags.force ?? false);
  const startedAt = Date.now();
  const progress = createProgressDisplay(process.stderr, startedAt);
  const interrupt = new Interrupt();
  try {
    const created = await create(client, dir, request, flags, progress, interrupt.signal);
    interrupt.onCancel(() => {
      progress.note(`cancelling ${created.id} (Ctrl-C again to stop waiting)`);
      return client.request(`/v1/runs/${encodeURIComponent(created.id)}/cancel`, { method: 'POST' }).then(
        () => {},
        (err: Error) => progress.note(`cancel failed: ${err.message}`),
      );
    });
    let run: RunView | undefined;
    for await (const event of followEvents(client, created.id, { signal: interrupt.signal })) {
      progress.event(event);
      if (isTerminal(event)) run = event.data.run as RunView;
    }
    run ??= await client.json<RunView>(`/v1/runs/${encodeURIComponent(created.id)}`);
    progress.stop();
    return await finishRun(client, dir, run, flags, Date.now() - startedAt);
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

async function create(client: ApiClient, dir: string, request: RunRequest, flags: RunFlags, progress: ProgressDisplay, signal: AbortSignal): Promise<RunView> {
  if (flags.continue !== undefined) {
    progress.note(`continuing ${flags.continue}`);
    return continueRun(client, flags.continue, request, signal);
  }
  const files = await selectWorkspaceFiles(dir, { withGit: flags.withGit ?? false });
  progress.note(`uploading ${files.length} ${files.length === 1 ? 'file' : 'files'} from ${dir}`);
  return uploadRun(client, dir, files, request, signal);
}
