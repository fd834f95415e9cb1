import { isUtf8 } from 'node:buffer';

// Writes tar headers from name bytes. tar-stream's pack takes names as strings and encodes them as
// UTF-8, so a name that is not UTF-8 could not come out as it went in.

export const BLOCK_BYTES = 512;
export const END_OF_ARCHIVE = Buffer.alloc(2 * BLOCK_BYTES);
/** Never written: padding is a view of it. */
const ZERO_BLOCK = Buffer.alloc(BLOCK_BYTES);
const NO_NAME = Buffer.alloc(0);

export interface RawTarEntry {
  /** The name's bytes, without a trailing slash: one is added for a directory. */
  path: Buffer;
  type: 'file' | 'directory' | 'symlink' | 'link';
  mode: number;
  mtimeS: number;
  uid: number;
  gid: number;
  uname: Buffer;
  gname: Buffer;
  size: number;
  linkPath: Buffer | null;
}

const TYPEFLAGS: Record<RawTarEntry['type'], string> = { file: '0', directory: '5', symlink: '2', link: '1' };
const NAME_BYTES = 100;
const OWNER_NAME_BYTES = 32;
const MAX_ID = 0o7777777;
const MAX_SIZE = 0o77777777777;

/** The header blocks of one entry: a PAX extended header when ustar cannot hold a field, then ustar. */
export function rawEntryHeader(entry: RawTarEntry): Buffer {
  const path = entry.type === 'directory' ? Buffer.concat([entry.path, Buffer.from('/')]) : entry.path;
  const link = entry.linkPath ?? NO_NAME;
  const records: Buffer[] = [];
  // POSIX: `hdrcharset=BINARY` says the names are bytes, not UTF-8, as libarchive (bsdtar) writes and
  // reads it; GNU tar 1.34 warns that it does not know the keyword and extracts the bytes anyway.
  if (!isUtf8(path) || !isUtf8(link)) records.push(paxRecord('hdrcharset', Buffer.from('BINARY')));
  // Non-ASCII goes to PAX even when short, as Go's archive/tar does: ustar's name is ASCII by spec.
  if (!fitsUstar(path)) records.push(paxRecord('path', path));
  if (!fitsUstar(link)) records.push(paxRecord('linkpath', link));
  if (entry.size > MAX_SIZE) records.push(paxRecord('size', Buffer.from(String(entry.size))));
  if (entry.mtimeS < 0 || entry.mtimeS > MAX_SIZE) records.push(paxRecord('mtime', Buffer.from(String(entry.mtimeS))));
  if (entry.uid > MAX_ID) records.push(paxRecord('uid', Buffer.from(String(entry.uid))));
  if (entry.gid > MAX_ID) records.push(paxRecord('gid', Buffer.from(String(entry.gid))));
  if (entry.uname.length > OWNER_NAME_BYTES) records.push(paxRecord('uname', entry.uname));
  if (entry.gname.length > OWNER_NAME_BYTES) records.push(paxRecord('gname', entry.gname));

  const ustar = ustarBlock({ ...entry, path, linkPath: link }, TYPEFLAGS[entry.type]);
  if (records.length === 0) return ustar;
  const pax = Buffer.concat(records);
  const paxHeader = ustarBlock({ ...entry, path: Buffer.from('PaxHeader'), linkPath: NO_NAME, size: pax.length }, 'x');
  return Buffer.concat([paxHeader, pax, padding(pax.length), ustar]);
}

/** Zeros that fill a body of `size` bytes up to the next block: a view of shared zeros, for reading only. */
export function padding(size: number): Buffer {
  return ZERO_BLOCK.subarray(0, (BLOCK_BYTES - (size % BLOCK_BYTES)) % BLOCK_BYTES);
}

function fitsUstar(name: Buffer): boolean {
  return name.length <= NAME_BYTES && name.every((byte) => byte !== 0 && byte < 0x80);
}

/** `<length> <key>=<value>\n`, the length counting its own digits. */
function paxRecord(key: string, value: Buffer): Buffer {
  const rest = Buffer.byteLength(key) + value.length + 3;
  let length = rest + 1;
  while (String(length).length + rest !== length) length = String(length).length + rest;
  return Buffer.concat([Buffer.from(`${length} ${key}=`), value, Buffer.from('\n')]);
}

function ustarBlock(entry: RawTarEntry, typeflag: string): Buffer {
  // From Node's shared pool, not an ArrayBuffer of its own per header: a tree of 16,000 entries made
  // as many, each a native allocation the garbage collector tracks.
  const block = Buffer.allocUnsafe(BLOCK_BYTES).fill(0);
  // A field PAX carries gets what fits: readers that know PAX ignore it.
  entry.path.copy(block, 0, 0, NAME_BYTES);
  octal(block, 100, 8, entry.mode & 0o7777);
  octal(block, 108, 8, entry.uid > MAX_ID ? 0 : entry.uid);
  octal(block, 116, 8, entry.gid > MAX_ID ? 0 : entry.gid);
  octal(block, 124, 12, entry.size > MAX_SIZE ? 0 : entry.size);
  octal(block, 136, 12, entry.mtimeS < 0 || entry.mtimeS > MAX_SIZE ? 0 : entry.mtimeS);
  block.write(typeflag, 156, 'latin1');
  entry.linkPath?.copy(block, 157, 0, NAME_BYTES);
  block.write('ustar\x0000', 257, 'latin1');
  entry.uname.copy(block, 265, 0, OWNER_NAME_BYTES);
  entry.gname.copy(block, 297, 0, OWNER_NAME_BYTES);
  octal(block, 329, 8, 0);
  octal(block, 337, 8, 0);
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < BLOCK_BYTES; i++) sum += block[i]!;
  octal(block, 148, 7, sum);
  block[155] = 0x20;
  return block;
}

/** `value` as width - 1 zero-padded octal digits and a NUL, written in place (a header has seven). */
function octal(block: Buffer, start: number, width: number, value: number): void {
  let rest = value;
  for (let at = start + width - 2; at >= start; at--) {
    block[at] = 0x30 + (rest % 8);
    rest = Math.floor(rest / 8);
  }
  block[start + width - 1] = 0;
}
