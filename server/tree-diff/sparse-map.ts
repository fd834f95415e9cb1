import { parseDecimal, parseNumber } from './tar-header.js';

// GNU tar's sparse files: which parts of a file a tar stores, the rest being holes (zeros). Four
// encodings: old GNU 'S' entries (the map in the header and extension blocks), and PAX 0.0 (repeated
// offset/numbytes records), 0.1 (one `GNU.sparse.map` record) and 1.0 (the map at the head of the
// body, in decimal lines, padded to a block).

export interface SparseSegment {
  offset: number;
  size: number;
}

export interface SparseLayout {
  realSize: number;
  segments: SparseSegment[];
}

/**
 * More segments than a file with this many holes could want; the map is held while the entry is
 * read, and an upload of a few bytes per segment must not buy megabytes of it.
 */
export const MAX_SPARSE_SEGMENTS = 100_000;

/** A problem with a sparse entry's map, described for the reader to name its entry. */
export class SparseMapError extends Error {}

const OLD_GNU_ENTRY_BYTES = 24;

/**
 * Appends the segments of an old GNU sparse header's map: `count` (offset, numbytes) pairs of 12-byte
 * numbers from `start`. An entry whose first byte is NUL ends the list, as in GNU tar.
 */
export function addOldGnuSegments(block: Buffer, start: number, count: number, into: SparseSegment[]): void {
  for (let i = 0; i < count; i++) {
    const at = start + i * OLD_GNU_ENTRY_BYTES;
    if (block[at] === 0 || block[at + 12] === 0) return;
    if (into.length >= MAX_SPARSE_SEGMENTS) throw new SparseMapError(`has more than ${MAX_SPARSE_SEGMENTS} sparse segments`);
    into.push({ offset: parseNumber(block, at, 12), size: parseNumber(block, at + 12, 12) });
  }
}

export type PaxSparse = { version: '0.0' | '0.1'; layout: SparseLayout } | { version: '1.0'; realSize: number } | null;

/** The sparse layout PAX records describe (`records` in order, repeats kept), or null for an ordinary entry. */
export function paxSparse(records: readonly [string, Buffer][]): PaxSparse {
  const get = (key: string) => records.findLast(([k]) => k === key)?.[1];
  const major = get('GNU.sparse.major')?.toString('latin1');
  const minor = get('GNU.sparse.minor')?.toString('latin1');
  if (major !== undefined || minor !== undefined) {
    if (major !== '1' || minor !== '0') throw new SparseMapError(`uses GNU sparse format ${major ?? '?'}.${minor ?? '?'}, which is not known`);
    const realSize = get('GNU.sparse.realsize');
    if (realSize === undefined) throw new SparseMapError('is a GNU sparse file (1.0) with no GNU.sparse.realsize');
    return { version: '1.0', realSize: parseDecimal(realSize) };
  }
  const size = get('GNU.sparse.size');
  const map = get('GNU.sparse.map');
  const hasPairs = records.some(([k]) => k === 'GNU.sparse.offset');
  if (size === undefined && map === undefined && !hasPairs) return null;
  if (size === undefined) throw new SparseMapError('is a GNU sparse file with no GNU.sparse.size');
  const numbers = map !== undefined ? mapNumbers(map) : pairNumbers(records);
  if (numbers.length % 2 !== 0) throw new SparseMapError('has a sparse map with an offset but no size');
  if (numbers.length / 2 > MAX_SPARSE_SEGMENTS) throw new SparseMapError(`has more than ${MAX_SPARSE_SEGMENTS} sparse segments`);
  const segments: SparseSegment[] = [];
  for (let i = 0; i < numbers.length; i += 2) segments.push({ offset: numbers[i]!, size: numbers[i + 1]! });
  return { version: map !== undefined ? '0.1' : '0.0', layout: { realSize: parseDecimal(size), segments } };
}

function mapNumbers(map: Buffer): number[] {
  const text = map.toString('latin1');
  if (text === '') return [];
  return text.split(',').map((part) => parseDecimal(Buffer.from(part, 'latin1')));
}

/** Format 0.0: each `GNU.sparse.offset` is followed by its `GNU.sparse.numbytes`. */
function pairNumbers(records: readonly [string, Buffer][]): number[] {
  const numbers: number[] = [];
  for (const [key, value] of records) {
    if (key === 'GNU.sparse.offset') {
      if (numbers.length % 2 !== 0) throw new SparseMapError('has a sparse offset with no GNU.sparse.numbytes');
      numbers.push(parseDecimal(value));
    } else if (key === 'GNU.sparse.numbytes') {
      if (numbers.length % 2 !== 1) throw new SparseMapError('has a GNU.sparse.numbytes with no offset before it');
      numbers.push(parseDecimal(value));
    }
  }
  return numbers;
}

const MAX_DIGITS = 15;

/**
 * Reads format 1.0's map block by block: the count of segments, then an offset and a size per
 * segment, each a decimal line. The data starts at the block after the one the map ends in.
 */
export class SparseMapText {
  private readonly numbers: number[] = [];
  private digits = '';
  private wanted: number | null = null;

  /** Takes the next block of the body; true once the map is complete. */
  push(block: Buffer): boolean {
    for (const byte of block) {
      if (byte === 0x0a) {
        if (this.digits === '') throw new SparseMapError('has an empty line in its sparse map');
        this.numbers.push(Number(this.digits));
        this.digits = '';
        if (this.wanted === null) {
          const count = this.numbers.pop()!;
          if (count > MAX_SPARSE_SEGMENTS) throw new SparseMapError(`has more than ${MAX_SPARSE_SEGMENTS} sparse segments`);
          this.wanted = 2 * count;
        }
        if (this.numbers.length === this.wanted) return true;
      } else if (byte >= 0x30 && byte <= 0x39 && this.digits.length < MAX_DIGITS) {
        this.digits += String.fromCharCode(byte);
      } else {
        throw new SparseMapError('has a malformed sparse map');
      }
    }
    return false;
  }

  segments(): SparseSegment[] {
    const segments: SparseSegment[] = [];
    for (let i = 0; i < this.numbers.length; i += 2) segments.push({ offset: this.numbers[i]!, size: this.numbers[i + 1]! });
    return segments;
  }
}

/**
 * Checks that a map describes a file: segments in order, none overlapping or past the real size,
 * their data adding up to what the tar stores.
 */
export function checkLayout(layout: SparseLayout, storedBytes: number): void {
  let end = 0;
  let data = 0;
  for (const { offset, size } of layout.segments) {
    if (offset < end) throw new SparseMapError('has sparse segments out of order or overlapping');
    end = offset + size;
    if (end > layout.realSize) throw new SparseMapError(`has a sparse segment past its size of ${layout.realSize} bytes`);
    data += size;
  }
  if (data !== storedBytes) throw new SparseMapError(`has a sparse map of ${data} bytes of data but stores ${storedBytes}`);
}
