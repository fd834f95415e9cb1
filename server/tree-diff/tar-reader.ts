import { addOldGnuSegments, checkLayout, paxSparse, SparseMapError, SparseMapText, type SparseLayout } from './sparse-map.js';
import { BLOCK, field, isZero, nonEmpty, parseDecimal, parseNumber, parsePax, parsePaxInteger, parsePaxList, untilNul, ustarName, verifyChecksum } from './tar-header.js';
import { TreeDiffError } from './tree-diff-error.js';

export type TarEntryType = 'file' | 'directory' | 'symlink' | 'link' | 'fifo' | 'character-device' | 'block-device' | 'other';

export interface TarEntry {
  /** The name's raw bytes: PAX `path`, GNU long name, or ustar prefix + name. */
  path: Buffer;
  type: TarEntryType;
  /** The typeflag byte, for naming an `other` entry. */
  typeflag: string;
  mode: number;
  size: number;
  linkPath: Buffer | null;
  /** Whole seconds since the epoch (a PAX fraction is dropped). */
  mtimeS: number;
  uid: number;
  gid: number;
  uname: Buffer;
  gname: Buffer;
  /** Stream offset of the body's first stored byte; for a sparse file, its data (see `sparse`), not its content. */
  offset: number;
  /** A GNU sparse file: `size` is its real size and body() yields its content, holes as zeros. */
  sparse: boolean;
}

/** Why a tar could not be read, for callers that explain it to whoever sent it. */
export type TarProblem = 'truncated' | 'checksum' | 'format';

export class TarFormatError extends TreeDiffError {
  constructor(
    readonly problem: TarProblem,
    message: string,
    /** The entry being read when the problem showed, if any. */
    readonly entry: Buffer | null = null,
  ) {
    super('bad_tar', message);
  }
}

// A PAX or GNU long-name record is a few path names; anything bigger is not a tree we made.
const DEFAULT_MAX_META_BYTES = 1024 * 1024;

const TYPES: Record<string, TarEntryType> = {
  '0': 'file',
  '\0': 'file',
  '1': 'link',
  '2': 'symlink',
  '3': 'character-device',
  '4': 'block-device',
  '5': 'directory',
  '6': 'fifo',
  // GNU tar reads a contiguous file as a regular one, and an incremental dump's directory (its
  // body lists the directory's names) as a directory.
  '7': 'file',
  D: 'directory',
  // Old GNU sparse: a regular file whose map is in its header.
  S: 'file',
};

const HEADER_ONLY = new Set<TarEntryType>(['directory', 'link', 'symlink', 'fifo', 'character-device', 'block-device']);

/**
 * Reads a tar stream entry by entry, keeping names as bytes. tar-stream decodes PAX `path`
 * records as UTF-8 with no way to opt out (its `filenameEncoding` covers only ustar and GNU
 * names), and Docker's archive API writes any non-ASCII name as a PAX record of raw bytes, so
 * a name that is not UTF-8 would come back with U+FFFD and no longer name its file.
 */
export class TarReader {
  position = 0;
  private readonly chunks: Buffer[] = [];
  private buffered = 0;
  private ended = false;
  /** Body bytes of the current entry not yet read, then its padding. */
  private bodyLeft = 0;
  private paddingLeft = 0;
  private globalPax = new Map<string, Buffer>();
  private readonly source: AsyncIterator<Buffer>;
  /** The current entry's layout while its body has not been asked for. */
  private sparse: SparseLayout | null = null;
  /** The entry whose body is being read, to name it when the stream ends inside it. */
  private current: Buffer | null = null;
  /** How the archive ended: GNU tar stops at the first zero block, or at the end of the stream between entries. */
  end: 'zero-block' | 'eof' | null = null;

  constructor(
    source: AsyncIterable<Buffer | string>,
    private readonly maxMetaBytes = DEFAULT_MAX_META_BYTES,
  ) {
    this.source = (async function* () {
      for await (const chunk of source) yield typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    })();
  }

  /** The next entry, or null at the end of the archive. Skips what is left of the previous body. */
  async next(): Promise<TarEntry | null> {
    await this.skip(this.bodyLeft + this.paddingLeft);
    this.bodyLeft = this.paddingLeft = 0;
    this.sparse = this.current = null;
    let longPath: Buffer | null = null;
    let longLink: Buffer | null = null;
    let paxList: [string, Buffer][] = [];
    for (;;) {
      const block = await this.read(BLOCK, true);
      if (block === null || isZero(block)) {
        this.end = block === null ? 'eof' : 'zero-block';
        return null;
      }
      this.checkHeader(block);
      const typeflag = String.fromCharCode(block[156]!);
      const size = parseNumber(block, 124, 12);
      if (typeflag === 'x' || typeflag === 'g' || typeflag === 'L' || typeflag === 'K') {
        const body = await this.readMeta(size);
        if (typeflag === 'x') paxList = parsePaxList(body);
        else if (typeflag === 'g') this.globalPax = new Map([...this.globalPax, ...parsePax(body)]);
        else if (typeflag === 'L') longPath = untilNul(body);
        else longLink = untilNul(body);
        continue;
      }
      const records = new Map([...this.globalPax, ...paxList]);
      // GNU tar names a PAX sparse file GNUSparseFile.<pid>/<name> for readers that do not know the format.
      let path = records.get('GNU.sparse.name') ?? records.get('path') ?? longPath ?? ustarName(block);
      const linkPath = records.get('linkpath') ?? longLink ?? nonEmpty(field(block, 157, 100));
      const paxSize = records.get('size');
      const storedSize = paxSize ? parseDecimal(paxSize) : size;
      let type = TYPES[typeflag] ?? 'other';
      // V7 tars mark a directory only by a trailing slash.
      if (type === 'file' && path.at(-1) === 0x2f) type = 'directory';
      while (path.length > 1 && path.at(-1) === 0x2f) path = path.subarray(0, -1);
      const header = { path, type, typeflag, linkPath, block, records };
      if (typeflag === 'D') {
        // The dump's list of names is of no use to an extraction.
        this.current = path;
        await this.skip(storedSize + pad(storedSize));
        return this.entry(header, 0, false);
      }
      // Header-only types carry no data whatever the size field says, as Go's archive/tar
      // (which writes Docker's archives) reads them.
      const bodySize = HEADER_ONLY.has(type) ? 0 : storedSize;
      this.bodyLeft = bodySize;
      this.paddingLeft = pad(bodySize);
      this.current = path;
      if (type !== 'file') return this.entry(header, bodySize, false);
      const layout = await this.readSparseLayout(typeflag, block, paxList, path);
      if (layout === null) return this.entry(header, bodySize, false);
      this.sparse = layout;
      return this.entry(header, layout.realSize, true);
    }
  }

  /**
   * The current entry's body, chunk by chunk; yields nothing once read. A sparse file's holes come
   * as zeros; read its body in one go (a second call would yield its stored data).
   */
  async *body(): AsyncGenerator<Buffer> {
    const layout = this.sparse;
    this.sparse = null;
    if (layout === null) {
      while (this.bodyLeft > 0) yield await this.bodyChunk(this.bodyLeft);
      return;
    }
    let at = 0;
    for (const { offset, size } of layout.segments) {
      yield* zeros(offset - at);
      for (let left = size; left > 0; ) {
        const chunk = await this.bodyChunk(left);
        left -= chunk.length;
        yield chunk;
      }
      at = offset + size;
    }
    yield* zeros(layout.realSize - at);
  }

  /** Reads and throws away the rest of the stream, after the end of the archive. */
  async drain(): Promise<void> {
    this.chunks.length = 0;
    this.buffered = 0;
    while (await this.fill()) {
      this.chunks.length = 0;
      this.buffered = 0;
    }
  }

  private entry(
    header: { path: Buffer; type: TarEntryType; typeflag: string; linkPath: Buffer | null; block: Buffer; records: Map<string, Buffer> },
    size: number,
    sparse: boolean,
  ): TarEntry {
    const { path, type, typeflag, linkPath, block, records } = header;
    return {
      path,
      type,
      typeflag,
      mode: parseNumber(block, 100, 8),
      size,
      linkPath,
      mtimeS: parsePaxInteger(records.get('mtime')) ?? parseNumber(block, 136, 12),
      uid: parsePaxInteger(records.get('uid')) ?? parseNumber(block, 108, 8),
      gid: parsePaxInteger(records.get('gid')) ?? parseNumber(block, 116, 8),
      uname: records.get('uname') ?? field(block, 265, 32),
      gname: records.get('gname') ?? field(block, 297, 32),
      offset: this.position,
      sparse,
    };
  }

  /** Null for an ordinary file; reads an old GNU map's extension blocks or a 1.0 map's head of the body. */
  private async readSparseLayout(typeflag: string, block: Buffer, paxList: [string, Buffer][], path: Buffer): Promise<SparseLayout | null> {
    try {
      let layout: SparseLayout | null = null;
      if (typeflag === 'S') {
        const segments: { offset: number; size: number }[] = [];
        addOldGnuSegments(block, 386, 4, segments);
        // Extension blocks of 21 more entries each, flagged by the byte after the previous map.
        for (let extended = block[482] !== 0; extended; ) {
          const ext = (await this.read(BLOCK, false))!;
          addOldGnuSegments(ext, 0, 21, segments);
          extended = ext[504] !== 0;
        }
        layout = { realSize: parseNumber(block, 483, 12), segments };
      } else {
        const pax = paxSparse(paxList);
        if (pax === null) return null;
        if (pax.version === '1.0') {
          const map = new SparseMapText();
          let done = false;
          while (!done) {
            if (this.bodyLeft < BLOCK) throw new SparseMapError('has a sparse map longer than its data');
            done = map.push((await this.read(BLOCK, false))!);
            this.bodyLeft -= BLOCK;
          }
          this.paddingLeft = pad(this.bodyLeft);
          layout = { realSize: pax.realSize, segments: map.segments() };
        } else {
          layout = pax.layout;
        }
      }
      checkLayout(layout, this.bodyLeft);
      return layout;
    } catch (error) {
      if (error instanceof SparseMapError) throw new TarFormatError('format', `entry ${JSON.stringify(path.toString())} ${error.message}`, path);
      throw error;
    }
  }

  private async bodyChunk(max: number): Promise<Buffer> {
    const chunk = await this.readSome(max);
    this.bodyLeft -= chunk.length;
    return chunk;
  }

  private checkHeader(block: Buffer): void {
    try {
      verifyChecksum(block, this.position - BLOCK);
    } catch (error) {
      if (error instanceof TreeDiffError) throw new TarFormatError('checksum', error.message);
      throw error;
    }
  }

  private async readMeta(size: number): Promise<Buffer> {
    if (size > this.maxMetaBytes) throw new TarFormatError('format', `a tar header record of ${size} bytes exceeds ${this.maxMetaBytes}`);
    const body = (await this.read(size, false))!;
    await this.skip(pad(size));
    return body;
  }

  /** Exactly `count` bytes; null if the stream ends first and `mayEnd` (a missing end-of-archive block). */
  private async read(count: number, mayEnd: boolean): Promise<Buffer | null> {
    while (this.buffered < count) {
      if (!(await this.fill())) {
        if (mayEnd && this.buffered === 0) return null;
        throw new TarFormatError('truncated', `the tar stream ended inside an entry (at byte ${this.position + this.buffered})`, this.current);
      }
    }
    const out = Buffer.allocUnsafe(count);
    let copied = 0;
    while (copied < count) copied += this.take(count - copied).copy(out, copied);
    this.position += count;
    return out;
  }

  /** Up to `max` bytes, at least one. */
  private async readSome(max: number): Promise<Buffer> {
    if (this.buffered === 0 && !(await this.fill())) {
      throw new TarFormatError('truncated', `the tar stream ended inside an entry (at byte ${this.position})`, this.current);
    }
    const chunk = this.take(max);
    this.position += chunk.length;
    return chunk;
  }

  private async skip(count: number): Promise<void> {
    while (count > 0) count -= (await this.readSome(count)).length;
  }

  private take(max: number): Buffer {
    const first = this.chunks[0]!;
    if (first.length <= max) {
      this.chunks.shift();
      this.buffered -= first.length;
      return first;
    }
    this.chunks[0] = first.subarray(max);
    this.buffered -= max;
    return first.subarray(0, max);
  }

  private async fill(): Promise<boolean> {
    if (this.ended) return false;
    const { value, done } = await this.source.next();
    if (done) {
      this.ended = true;
      return false;
    }
    if (value.length > 0) {
      this.chunks.push(value);
      this.buffered += value.length;
    }
    return true;
  }
}

const ZEROS = Buffer.alloc(64 * 1024);

/** `count` zero bytes in pieces of one shared, never-written buffer. */
function* zeros(count: number): Generator<Buffer> {
  for (let left = count; left > 0; left -= ZEROS.length) yield ZEROS.subarray(0, Math.min(left, ZEROS.length));
}

function pad(size: number): number {
  return (BLOCK - (size % BLOCK)) % BLOCK;
}
