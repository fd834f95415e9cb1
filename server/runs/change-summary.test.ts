import { describe, expect, it } from 'vitest';
import { parseNumstat } from './change-summary.js';

describe('parseNumstat', () => {
  it('sums text changes and counts binary files without line counts', () => {
    const summary = parseNumstat('3\t1\tsrc/a.ts\x002\t0\tnew file.txt\x00-\t-\timg.png\x00');
    expect(summary).toEqual({
      files_changed: 3,
      insertions: 5,
      deletions: 1,
      files: [
        { path: 'src/a.ts', insertions: 3, deletions: 1 },
        { path: 'new file.txt', insertions: 2, deletions: 0 },
        { path: 'img.png', insertions: null, deletions: null },
      ],
    });
  });

  it('gives an empty summary for no changes', () => {
    expect(parseNumstat('')).toEqual({ files_changed: 0, insertions: 0, deletions: 0, files: [] });
  });
});
