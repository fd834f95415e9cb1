import path from 'node:path';

/** Where one run's files live under the data dir. */
export interface RunFiles {
  dir: string;
  /** The validated upload, re-packed; deleted once the run has ended, but a first run's with a session (`?base=root`). */
  inputTar: string;
  /** The spooler's scan of the upload (`writeScanFile`), kept and removed with it. */
  inputScan: string;
  events: string;
  diff: string;
  /** The final workspace as a plain tar: compressed when it is downloaded, not when the run ends. */
  workspace: string;
  /** Where servers before the plain tar kept it, gzipped; served as it is. */
  legacyWorkspaceGz: string;
  /** The uploaded tree's index and blobs for the server-side diff; removed once the diff is made. */
  baselineDir: string;
  /** The form's images (runImageName), kept until the run has ended. */
  imagesDir: string;
  /** Codex's session as the run ended (its rollout files, a tar), which a follow-up resumes. */
  session: string;
  /** A follow-up's: its parent's session, taken when it was accepted; put in its sandbox before Codex. */
  parentSession: string;
  /** A follow-up's diff against its conversation's first upload, made when first asked for. */
  rootDiff: string;
}

export function runFiles(dataDir: string, runId: string): RunFiles {
  const dir = path.join(dataDir, 'runs', runId);
  return {
    dir,
    inputTar: path.join(dir, 'input.tar'),
    inputScan: path.join(dir, 'input.scan.json'),
    events: path.join(dir, 'events.jsonl'),
    diff: path.join(dir, 'diff.patch'),
    workspace: path.join(dir, 'workspace.tar'),
    legacyWorkspaceGz: path.join(dir, 'workspace.tar.gz'),
    baselineDir: path.join(dir, 'baseline'),
    imagesDir: path.join(dir, 'images'),
    session: path.join(dir, 'session.tar'),
    parentSession: path.join(dir, 'parent-session.tar'),
    rootDiff: path.join(dir, 'root-diff.patch'),
  };
}
