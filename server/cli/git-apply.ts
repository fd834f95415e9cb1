// Applying a run's diff to the directory it was made from, with git.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { CliError, EXIT } from './exit-codes.js';

const run = promisify(execFile);

interface WorkTree {
  top: string;
  /** `dir` below the top, with a trailing `/`, or '' at the top. */
  prefix: string;
}

async function workTree(dir: string): Promise<WorkTree | null> {
  try {
    const { stdout } = await run('git', ['-C', dir, 'rev-parse', '--show-toplevel', '--show-prefix']);
    const [top, prefix = ''] = stdout.split('\n');
    return { top: top!, prefix };
  } catch {
    return null;
  }
}

/** Tracked files changed and not committed; untracked files do not count (the upload took them as they are). */
export async function uncommittedChanges(dir: string): Promise<string[]> {
  const tree = await workTree(dir);
  if (!tree) return [];
  const { stdout } = await run('git', ['-C', dir, 'status', '--porcelain=v1', '-z', '--untracked-files=no', '--', '.']);
  return stdout
    .split('\0')
    .filter((e) => e !== '')
    .map((e) => e.slice(3));
}

/** Refuses a dirty tree before anything is uploaded, so the diff later applies to what was sent. */
export async function checkCleanTree(dir: string, force: boolean): Promise<void> {
  if (force) return;
  const dirty = await uncommittedChanges(dir);
  if (dirty.length) {
    const shown = dirty.slice(0, 5).join(', ') + (dirty.length > 5 ? `, and ${dirty.length - 5} more` : '');
    throw new CliError(EXIT.usage, `--apply needs a clean work tree, and ${dir} has uncommitted changes (${shown}); commit or stash them, or pass --force`);
  }
}

/** `git apply` of the patch file on `dir`; the diff's paths are relative to `dir`, the upload's root. */
export async function applyPatch(dir: string, patchFile: string): Promise<void> {
  const tree = await workTree(dir);
  // In a work tree git apply reads paths from its top and skips those outside the current directory.
  const [cwd, args] = tree?.prefix ? [tree.top, [`--directory=${tree.prefix.replace(/\/$/, '')}`]] : [dir, []];
  try {
    await run('git', ['apply', '--binary', '--whitespace=nowarn', ...args, patchFile], { cwd });
  } catch (err) {
    const stderr = String((err as { stderr?: string }).stderr ?? '').trim();
    throw new CliError(EXIT.failed, `git apply failed (the diff is kept in ${patchFile}): ${stderr || (err as Error).message}`);
  }
}
