import { BLOCK, field, isZero, nonEmpty, parseDecimal, parseNumber, parsePax, parsePaxInteger, untilNul, ustarName, verifyChecksum } from './tar-header.js';
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
  /** Stream offset of the body's first byte. */
  offset: number;
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
    let longPath: Buffer | null = null;
    let longLink: Buffer | null = null;
    let pax: Map<string, Buffer> | null = null;
    for (;;) {
      const block = await this.read(BLOCK, true);
      if (block === null || isZero(block)) return null;
      verifyChecksum(block, this.position - BLOCK);
      const typeflag = String.fromCharCode(block[156]!);
      const size = parseNumber(block, 124, 12);
      if (typeflag === 'x' || typeflag === 'g' || typeflag === 'L' || typeflag === 'K') {
        const body = await this.readMeta(size);
        if (typeflag === 'x') pax = parsePax(body);
        else if (typeflag === 'g') this.globalPax = new Map([...this.globalPax, ...parsePax(body)]);
        else if (typeflag === 'L') longPath = untilNul(body);
        else longLink = untilNul(body);
        continue;
      }
      // Old GNU sparse entries carry extra header blocks; Docker never writes them.
      if (typeflag === 'S') throw new TreeDiffError('bad_tar', `GNU sparse entries are not supported (at byte ${this.position - BLOCK})`);
      const records = new Map([...this.globalPax, ...(pax ?? [])]);
      let path = records.get('path') ?? longPath ?? ustarName(block);
      const linkPath = records.get('linkpath') ?? longLink ?? nonEmpty(field(block, 157, 100));
      const paxSize = records.get('size');
      const realSize = paxSize ? parseDecimal(paxSize) : size;
      let type = TYPES[typeflag] ?? 'other';
      // V7 tars mark a directory only by a trailing slash.
      if (type === 'file' && path.at(-1) === 0x2f) type = 'directory';
      while (path.length > 1 && path.at(-1) === 0x2f) path = path.subarray(0, -1);
      // Header-only types carry no data whatever the size field says, as Go's archive/tar
      // (which writes Docker's archives) reads them.
      const bodySize = HEADER_ONLY.has(type) ? 0 : realSize;
      this.bodyLeft = bodySize;
      this.paddingLeft = pad(bodySize);
      return {
        path,
        type,
        typeflag,
        mode: parseNumber(block, 100, 8),
        size: bodySize,
        linkPath,
        mtimeS: parsePaxInteger(records.get('mtime')) ?? parseNumber(block, 136, 12),
        uid: parsePaxInteger(records.get('uid')) ?? parseNumber(block, 108, 8),
        gid: parsePaxInteger(records.get('gid')) ?? parseNumber(block, 116, 8),
        uname: records.get('uname') ?? field(block, 265, 32),
        gname: records.get('gname') ?? field(block, 297, 32),
        offset: this.position,
      };
    }
  }

  /** The current entry's body, chunk by chunk; yields nothing once read. */
  async *body(): AsyncGenerator<Buffer> {
    while (this.bodyLeft > 0) {
      const chunk = await this.readSome(this.bodyLeft);
      this.bodyLeft -= chunk.length;
      yield chunk;
    }
  }

  private async readMeta(size: number): Promise<Buffer> {
    if (size > this.maxMetaBytes) throw new TreeDiffError('bad_tar', `a tar header record of ${size} bytes exceeds ${this.maxMetaBytes}`);
    const body = (await this.read(size, false))!;
    await this.skip(pad(size));
    return body;
  }

  /** Exactly `count` bytes; null if the stream ends first and `mayEnd` (a missing end-of-archive block). */
  private async read(count: number, mayEnd: boolean): Promise<Buffer | null> {
    while (this.buffered < count) {
      if (!(await this.fill())) {
        if (mayEnd && this.buffered === 0) return null;
        throw new TreeDiffError('bad_tar', `the tar stream ended inside an entry (at byte ${this.position + this.buffered})`);
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
      throw new TreeDiffError('bad_tar', `the tar stream ended inside an entry (at byte ${this.position})`);
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

function pad(size: number): number {
  return (BLOCK - (size % BLOCK)) % BLOCK;
}
