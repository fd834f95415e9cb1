export { indexBaseline, type BaselineEntry, type BaselineIndex, type Omission, type Skipped } from './baseline-index.js';
export { diffFinalTree, type DiffOptions, type TreeDiff } from './diff-final-tree.js';
export type { DiffSummary } from './numstat.js';
export { TreeDiffError, type TreeDiffErrorCode } from './tree-diff-error.js';
