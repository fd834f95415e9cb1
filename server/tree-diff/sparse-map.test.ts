import { describe, expect, it } from 'vitest';
import { addOldGnuSegments, checkLayout, MAX_SPARSE_SEGMENTS, paxSparse, SparseMapError, SparseMapText } from './sparse-map.js';

const records = (...pairs: [string, string][]): [string, Buffer][] => pairs.map(([k, v]) => [k, Buffer.from(v)]);

describe('paxSparse', () => {
  it('is null for an entry with no sparse records', () => {
    expect(paxSparse(records(['path', 'a'], ['mtime', '1']))).toBeNull();
  });

  it('reads format 0.0 from repeated offset and numbytes records, in order', () => {
    const pax = records(['GNU.sparse.size', '100'], ['GNU.sparse.numblocks', '2'], ['GNU.sparse.offset', '10'], ['GNU.sparse.numbytes', '5'], ['GNU.sparse.offset', '50'], ['GNU.sparse.numbytes', '7']);
    expect(paxSparse(pax)).toEqual({ version: '0.0', layout: { realSize: 100, segments: [{ offset: 10, size: 5 }, { offset: 50, size: 7 }] } });
  });

  it('reads format 0.1 from GNU.sparse.map', () => {
    expect(paxSparse(records(['GNU.sparse.size', '100'], ['GNU.sparse.map', '0,4,96,4']))).toEqual({
      version: '0.1',
      layout: { realSize: 100, segments: [{ offset: 0, size: 4 }, { offset: 96, size: 4 }] },
    });
  });

  it('reads format 1.0 as a real size, its map being in the body', () => {
    expect(paxSparse(records(['GNU.sparse.major', '1'], ['GNU.sparse.minor', '0'], ['GNU.sparse.realsize', '4096']))).toEqual({ version: '1.0', realSize: 4096 });
  });

  it.each([
    [records(['GNU.sparse.major', '2'], ['GNU.sparse.minor', '0']), /format 2\.0, which is not known/],
    [records(['GNU.sparse.map', '0,4']), /no GNU\.sparse\.size/],
    [records(['GNU.sparse.size', '9'], ['GNU.sparse.map', '0,4,8']), /an offset but no size/],
    [records(['GNU.sparse.size', '9'], ['GNU.sparse.numbytes', '4']), /numbytes with no offset/],
  ])('refuses a malformed description (%#)', (pax, message) => {
    expect(() => paxSparse(pax)).toThrow(message);
  });
});

describe('SparseMapText', () => {
  it('reads the count and the pairs, across blocks', () => {
    const text = Buffer.from(`2\n${'0'.repeat(10)}1\n2\n300\n4\n`);
    const map = new SparseMapText();
    expect(map.push(text.subarray(0, 7))).toBe(false);
    expect(map.push(Buffer.concat([text.subarray(7), Buffer.alloc(30)]))).toBe(true);
    expect(map.segments()).toEqual([{ offset: 1, size: 2 }, { offset: 300, size: 4 }]);
  });

  it('refuses more segments than it will hold, and bytes that are not the map', () => {
    expect(() => new SparseMapText().push(Buffer.from(`${MAX_SPARSE_SEGMENTS + 1}\n`))).toThrow(SparseMapError);
    expect(() => new SparseMapText().push(Buffer.from('1\n2x\n'))).toThrow(/malformed/);
  });
});

describe('checkLayout and old GNU maps', () => {
  it('takes the final empty segment GNU tar writes at the real size', () => {
    expect(() => checkLayout({ realSize: 10, segments: [{ offset: 2, size: 3 }, { offset: 10, size: 0 }] }, 3)).not.toThrow();
  });

  it('stops an old GNU map at the first empty entry', () => {
    const block = Buffer.alloc(512);
    block.write('00000000010\0' + '00000000003\0', 386, 'latin1');
    const segments: { offset: number; size: number }[] = [];
    addOldGnuSegments(block, 386, 4, segments);
    expect(segments).toEqual([{ offset: 8, size: 3 }]);
  });
});
