import path from 'node:path';

/** Where one run's files live under the data dir. */
export interface RunFiles {
  dir: string;
  /** The validated upload, re-packed; deleted once the run has started. */
  inputTar: string;
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
}

export function runFiles(dataDir: string, runId: string): RunFiles {
  const dir = path.join(dataDir, 'runs', runId);
  return {
    dir,
    inputTar: path.join(dir, 'input.tar'),
    events: path.join(dir, 'events.jsonl'),
    diff: path.join(dir, 'diff.patch'),
    workspace: path.join(dir, 'workspace.tar'),
    legacyWorkspaceGz: path.join(dir, 'workspace.tar.gz'),
    baselineDir: path.join(dir, 'baseline'),
    imagesDir: path.join(dir, 'images'),
  };
}
