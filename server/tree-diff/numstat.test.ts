import { describe, expect, it } from 'vitest';
import { parseNumstatZ } from './numstat.js';

describe('parseNumstatZ', () => {
  it('sums text changes and gives binary files null counts', () => {
    const out = Buffer.from('3\t1\tsrc/a.ts\x002\t0\tnew file.txt\x00-\t-\timg.png\x000\t0\tmode-only.sh\x00');
    expect(parseNumstatZ(out)).toEqual({
      files_changed: 4,
      insertions: 5,
      deletions: 1,
      files: [
        { path: 'src/a.ts', insertions: 3, deletions: 1 },
        { path: 'new file.txt', insertions: 2, deletions: 0 },
        { path: 'img.png', insertions: null, deletions: null },
        { path: 'mode-only.sh', insertions: 0, deletions: 0 },
      ],
    });
  });

  it('keeps tabs and newlines in paths and shows bytes that are not UTF-8 as U+FFFD', () => {
    const out = Buffer.concat([Buffer.from('1\t0\ta\tb\nc\x00'), Buffer.from('1\t1\tbad'), Buffer.from([0xff, 0])]);
    expect(parseNumstatZ(out).files.map((f) => f.path)).toEqual(['a\tb\nc', 'bad\ufffd']);
  });

  it('gives an empty summary for no output', () => {
    expect(parseNumstatZ(Buffer.alloc(0))).toEqual({ files_changed: 0, insertions: 0, deletions: 0, files: [] });
  });
});
