import type { ChangeSummary, FileChange } from './run.js';

/** Parses `git diff --numstat -z` (binary files show "-" for both counts). */
export function parseNumstat(output: string): ChangeSummary {
  const files: FileChange[] = [];
  for (const record of output.split('\0')) {
    if (!record) continue;
    const match = /^(-|\d+)\t(-|\d+)\t([\s\S]+)$/.exec(record);
    if (!match) continue;
    const count = (v: string) => (v === '-' ? null : Number(v));
    files.push({ path: match[3]!, insertions: count(match[1]!), deletions: count(match[2]!) });
  }
  return {
    files_changed: files.length,
    insertions: files.reduce((sum, f) => sum + (f.insertions ?? 0), 0),
    deletions: files.reduce((sum, f) => sum + (f.deletions ?? 0), 0),
    files,
  };
}
