import type { Logger } from 'pino';
import { WorkspaceExport, type ExportResult, type LeftOut } from '../archive/export-workspace.js';
import { COLLECT_CODEX_HOME, COLLECT_DIR, COLLECT_WORKSPACE, SandboxTreeError, type BoundedTree, type Sandbox } from '../sandbox/driver.js';
import { diffScanned, scanOptions, type DiffOptions } from '../tree-diff/diff-final-tree.js';
import { FinalTreeScanner } from '../tree-diff/final-tree-scan.js';
import type { BaselineIndex, TreeDiff } from '../tree-diff/index.js';
import { feedTar, withinDir, type Fed, type TarConsumer } from '../tree-diff/tar-consumers.js';
import { TarReader } from '../tree-diff/tar-reader.js';
import { SessionKeeper, sessionKept, type SessionToKeep } from './codex-session.js';
import type { RunFiles } from './run-files.js';
import type { ChangeSummary } from './run.js';

/** Room for a patch: deflated and base85'd binaries grow by a quarter, text gains context lines. */
export const PATCH_BYTES_PER_TREE_BYTE = 4;

export interface CollectLimits {
  /** The workspace cap: what the export and the diff read of the final tree, in apparent bytes. */
  maxBytes: number;
  maxPatchBytes: number;
  /** Past this the collection is given up: a clear error rather than a run held until its timeout. */
  timeoutMs: number;
}

export interface Collected {
  changes: ChangeSummary | null;
  hasDiff: boolean;
  hasWorkspace: boolean;
  leftOut: LeftOut[];
  /** Why an artifact is missing or incomplete, for the run's record; null when both are whole. */
  problem: string | null;
  /** Whether Codex's session was kept (a follow-up resumes it). */
  hasSession: boolean;
}

export class CollectTimeoutError extends Error {}

/**
 * Reads the final workspace of a stopped or frozen sandbox once, into two consumers side by side:
 * the exported tar and the diff against the baseline, which the server computes itself from what
 * it spooled. Nothing runs in the sandbox any more, so neither read can be fed by the run. The
 * workspace is kept even when the diff cannot be made. Codex's session, when there is one to
 * keep, comes in the same tar of `COLLECT_DIR`: one read, not two.
 *
 * The sandbox's tar is read first (its main process's own, or the engine's archive; when its own
 * failed, the engine's is read instead). If it meets a file that passes the workspace cap (a sparse
 * one costs no space in the tmpfs), both reads start again from a reader that leaves such files
 * out: the rest is delivered and the files left out are named.
 */
export async function collectArtifacts(
  sandbox: Sandbox,
  baseline: BaselineIndex,
  files: RunFiles,
  limits: CollectLimits,
  signal: AbortSignal,
  log: Logger,
  session: SessionToKeep | null = null,
): Promise<Collected> {
  const deadline = AbortSignal.timeout(limits.timeoutMs);
  const both = AbortSignal.any([signal, deadline]);
  const fromArchive: TreeSource = async () => ({ tar: await sandbox.getArchive(COLLECT_DIR, both), leftOut: Promise.resolve([]) });
  const withinCap: TreeSource = () => sandbox.readWorkspaceWithin(limits.maxBytes, both);
  const newKeeper = () => session && new SessionKeeper(session.dest, tarName(COLLECT_CODEX_HOME), { ...session.limits, signal: both });
  let keeper = newKeeper();
  try {
    let reads = await readBoth(fromArchive, tarName(COLLECT_WORKSPACE), baseline, files, limits, both, keeper);
    const ownTreeError = [reads.exported, reads.diffed].find((r): r is PromiseRejectedResult => r.status === 'rejected' && r.reason instanceof SandboxTreeError);
    if (ownTreeError) {
      // The sandbox's own tar of its tree failed: the next read goes through the engine.
      log.warn({ err: ownTreeError.reason }, "the sandbox's own tar of its tree failed: reading the tree again through the engine");
      await keeper?.discard();
      keeper = newKeeper();
      reads = await readBoth(fromArchive, tarName(COLLECT_WORKSPACE), baseline, files, limits, both, keeper);
    }
    const hasSession = keeper ? await sessionFrom(keeper, reads.session!, log) : false;
    if (passedCap(reads)) {
      log.info('the workspace has a file past its cap: reading it again without such files');
      reads = await readBoth(withinCap, 'workspace', baseline, files, limits, both, null);
    }
    return { ...summarise(reads, limits, log), hasSession };
  } catch (error) {
    await keeper?.discard();
    signal.throwIfAborted();
    if (deadline.aborted) throw new CollectTimeoutError(`collecting the workspace and the diff took longer than ${limits.timeoutMs / 1000} s`);
    throw error;
  }
}

/** How Docker's archive of COLLECT_DIR names a path under it: `/.cr/ws` → `.cr/ws`. */
function tarName(path: string): string {
  return path.slice(1);
}

/** Whether the keeper kept the session it was fed; why not, in the log (the run itself is not failed for it). */
async function sessionFrom(keeper: SessionKeeper, fed: Fed, log: Logger): Promise<boolean> {
  try {
    return sessionKept(await keeper.settle(fed), log);
  } catch (err) {
    log.warn({ err }, 'could not read Codex\'s session: the run has no follow-ups');
    return false;
  }
}

type TreeSource = () => Promise<BoundedTree>;
interface Reads {
  exported: PromiseSettledResult<ExportResult>;
  diffed: PromiseSettledResult<TreeDiff>;
  /** The session keeper's part of the read, when it had one. */
  session?: Fed;
}

/**
 * One read of the tree, parsed once for the export and the diff (`feedTar`), and the session when
 * `keeper` is given: each byte crosses the engine's API once and is parsed once. A diff that fails
 * drops out and the export reads on; an export that fails ends the read.
 */
async function readBoth(
  source: TreeSource,
  workspaceName: string,
  baseline: BaselineIndex,
  files: RunFiles,
  limits: CollectLimits,
  signal: AbortSignal,
  keeper: SessionKeeper | null,
): Promise<Reads> {
  const { tar, leftOut } = await source();
  const stopReading = () => tar.destroy(signal.reason);
  signal.addEventListener('abort', stopReading, { once: true });
  const stripPrefix = `${workspaceName}/`;
  const diffOptions: DiffOptions = { patchPath: files.diff, maxBytes: limits.maxBytes, maxPatchBytes: limits.maxPatchBytes, stripPrefix, leftOut, signal };
  const exporter = new WorkspaceExport(files.workspace, { stripPrefix, maxBytes: limits.maxBytes, signal });
  let scanner: FinalTreeScanner | undefined;
  try {
    scanner = await FinalTreeScanner.open(baseline, scanOptions(diffOptions));
    const consumers: { consumer: TarConsumer; essential?: boolean }[] = [
      { consumer: withinDir(workspaceName, exporter), essential: true },
      { consumer: withinDir(workspaceName, scanner) },
      ...(keeper ? [{ consumer: keeper }] : []),
    ];
    const [exported, scanned, session] = await feedTar(new TarReader(tar), consumers);
    signal.throwIfAborted();
    const names = await leftOut;
    const [exportedResult, diffedResult] = await Promise.allSettled([
      exported!.ok ? exporter.finish(names) : Promise.reject(exported!.error),
      scanned!.ok ? diffScanned(baseline, scanner.scan, diffOptions) : Promise.reject(scanned!.error),
    ]);
    if (exportedResult.status === 'rejected') await exporter.discard();
    signal.throwIfAborted();
    return { exported: exportedResult, diffed: diffedResult, ...(session ? { session } : {}) };
  } catch (error) {
    await exporter.discard();
    throw error;
  } finally {
    signal.removeEventListener('abort', stopReading);
    tar.destroy();
    await scanner?.close();
  }
}

function passedCap({ exported, diffed }: Reads): boolean {
  if (exported.status === 'fulfilled' && exported.value.truncated) return true;
  return diffed.status === 'fulfilled' && diffed.value.truncated && diffed.value.omitted.some((o) => o.reason === 'max_bytes');
}

function summarise({ exported, diffed }: Reads, limits: CollectLimits, log: Logger): Omit<Collected, 'hasSession'> {
  if (exported.status === 'rejected') throw exported.reason;
  const leftOut = [...exported.value.leftOut];
  const problems: string[] = [];
  if (exported.value.truncated) problems.push(`the workspace stops at ${exported.value.leftOut.at(-1)?.path}, a file that passes the workspace cap`);
  if (diffed.status === 'rejected') {
    log.error({ err: diffed.reason }, 'could not make the diff');
    problems.push('the diff could not be made');
    return { changes: null, hasDiff: false, hasWorkspace: true, leftOut, problem: problems.join('; ') };
  }
  const diff = diffed.value;
  for (const omitted of diff.omitted) if (!leftOut.some((l) => l.path === omitted.path)) leftOut.push({ path: omitted.path, reason: omitted.reason === 'max_bytes' || omitted.reason === 'max_entries' ? 'over_workspace_cap' : omitted.reason });
  if (leftOut.some((l) => l.reason === 'over_workspace_cap') && !exported.value.truncated) problems.push('files that pass the workspace cap were left out of the workspace and the diff');
  if (!diff.patch.written) problems.push(`the diff is larger than ${limits.maxPatchBytes} bytes and was not kept`);
  return { changes: diff.changes, hasDiff: diff.patch.written, hasWorkspace: true, leftOut, problem: problems.length ? problems.join('; ') : null };
}
