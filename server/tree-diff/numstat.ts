/** The shape of a run's `ChangeSummary` (server/runs/run.ts), kept here so this room needs nothing from runs/. */
export interface DiffSummary {
  files_changed: number;
  insertions: number;
  deletions: number;
  files: { path: string; insertions: number | null; deletions: number | null }[];
}

/**
 * Parses `git diff-tree --numstat -z` (no renames): `<added>\t<deleted>\t<path>\0` per file,
 * `-` for both counts of a binary file. Paths are raw bytes; they are shown as UTF-8.
 */
export function parseNumstatZ(output: Buffer): DiffSummary {
  const files: DiffSummary['files'] = [];
  let at = 0;
  while (at < output.length) {
    let end = output.indexOf(0, at);
    if (end === -1) end = output.length;
    const record = output.subarray(at, end);
    at = end + 1;
    const tab1 = record.indexOf(0x09);
    const tab2 = tab1 === -1 ? -1 : record.indexOf(0x09, tab1 + 1);
    if (tab2 === -1) continue;
    const count = (field: Buffer) => {
      const text = field.toString('latin1');
      return /^\d+$/.test(text) ? Number(text) : null;
    };
    files.push({ path: record.subarray(tab2 + 1).toString('utf8'), insertions: count(record.subarray(0, tab1)), deletions: count(record.subarray(tab1 + 1, tab2)) });
  }
  return {
    files_changed: files.length,
    insertions: files.reduce((sum, f) => sum + (f.insertions ?? 0), 0),
    deletions: files.reduce((sum, f) => sum + (f.deletions ?? 0), 0),
    files,
  };
}
