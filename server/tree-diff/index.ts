/**
 * The run's diff, computed on the server where the run cannot reach it: from the spooled upload
 * (`indexBaseline`, which may run while Codex does) and from Docker's archive of /workspace once
 * the sandbox is frozen (`diffFinalTree`). Scope: every file and symlink, `.gitignore` ignored;
 * not the contents of any `.git` directory nor a `.git` gitlink file (git cannot track a path
 * named `.git`, so no patch could carry one); empty directories do not show (git semantics);
 * FIFOs and devices are skipped and named. Sockets never reach the tar: Docker drops them.
 */
export { indexBaseline, type BaselineEntry, type BaselineIndex, type Omission, type Skipped } from './baseline-index.js';
export { diffFinalTree, type DiffOptions, type TreeDiff } from './diff-final-tree.js';
export type { DiffSummary } from './numstat.js';
export { TreeDiffError, type TreeDiffErrorCode } from './tree-diff-error.js';
