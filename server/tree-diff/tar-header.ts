import { TreeDiffError } from './tree-diff-error.js';

// Field parsers for one 512-byte tar header block (POSIX ustar, GNU and PAX extensions).

export const BLOCK = 512;

export function isZero(block: Buffer): boolean {
  for (let i = 0; i < block.length; i++) if (block[i] !== 0) return false;
  return true;
}

export function field(block: Buffer, start: number, length: number): Buffer {
  return untilNul(block.subarray(start, start + length));
}

export function untilNul(bytes: Buffer): Buffer {
  const end = bytes.indexOf(0);
  return end === -1 ? bytes : bytes.subarray(0, end);
}

export function nonEmpty(bytes: Buffer): Buffer | null {
  return bytes.length === 0 ? null : bytes;
}

export function ustarName(block: Buffer): Buffer {
  const name = field(block, 0, 100);
  // "ustar\0" is POSIX with a prefix field; GNU's "ustar  \0" uses those bytes for other things.
  const posix = block.subarray(257, 263).toString('latin1') === 'ustar\0';
  const prefix = posix ? field(block, 345, 155) : Buffer.alloc(0);
  return prefix.length > 0 ? Buffer.concat([prefix, Buffer.from('/'), name]) : Buffer.from(name);
}

export function verifyChecksum(block: Buffer, at: number): void {
  let unsigned = 8 * 0x20;
  let signed = 8 * 0x20;
  for (let i = 0; i < BLOCK; i++) {
    if (i >= 148 && i < 156) continue;
    unsigned += block[i]!;
    signed += (block[i]! << 24) >> 24;
  }
  const stored = parseNumber(block, 148, 8);
  if (stored !== unsigned && stored !== signed) throw new TreeDiffError('bad_tar', `bad tar header checksum at byte ${at}`);
}

/** An octal field, or GNU base-256 when the high bit of its first byte is set. */
export function parseNumber(block: Buffer, start: number, length: number): number {
  const end = Math.min(start + length, block.length);
  if (block[start]! & 0x80) {
    if (block[start] === 0xff) throw new TreeDiffError('bad_tar', 'negative number in a tar header');
    let value = block[start]! & 0x7f;
    for (let i = start + 1; i < end; i++) value = value * 256 + block[i]!;
    if (!Number.isSafeInteger(value)) throw new TreeDiffError('bad_tar', 'number too large in a tar header');
    return value;
  }
  // Read in place: the digits up to the first NUL, without the spaces around them (as trim() would
  // drop them), a header's fields being the one thing parsed per entry of every tar.
  let to = start;
  while (to < end && block[to] !== 0) to++;
  let from = start;
  while (from < to && isBlank(block[from]!)) from++;
  while (to > from && isBlank(block[to - 1]!)) to--;
  let value = 0;
  for (let i = from; i < to; i++) {
    const digit = block[i]! - 0x30;
    if (digit < 0 || digit > 7) throw new TreeDiffError('bad_tar', `bad octal number ${JSON.stringify(block.toString('latin1', from, to))} in a tar header`);
    value = value * 8 + digit;
  }
  return value;
}

/** What String.prototype.trim() drops of a latin1 string: tab, line feed, vertical tab, form feed, carriage return, space, no-break space. */
function isBlank(byte: number): boolean {
  return (byte >= 0x09 && byte <= 0x0d) || byte === 0x20 || byte === 0xa0;
}

export function parseDecimal(bytes: Buffer): number {
  const text = bytes.toString('latin1');
  if (!/^\d{1,15}$/.test(text)) throw new TreeDiffError('bad_tar', `bad PAX size ${JSON.stringify(text)}`);
  return Number(text);
}

/** A PAX number, whole (`mtime` may carry a fraction, dropped here); undefined when the record is absent. */
export function parsePaxInteger(bytes: Buffer | undefined): number | undefined {
  if (bytes === undefined) return undefined;
  const text = bytes.toString('latin1');
  if (!/^-?\d{1,15}(?:\.\d*)?$/.test(text)) throw new TreeDiffError('bad_tar', `bad PAX number ${JSON.stringify(text)}`);
  return Math.floor(Number(text));
}

/** PAX records: `<length> <key>=<value>\n`, values kept as bytes; a key given twice keeps its last value. */
export function parsePax(body: Buffer): Map<string, Buffer> {
  return new Map(parsePaxList(body));
}

/** PAX records in order, repeats kept: GNU's sparse format 0.0 repeats its offset and size keys. */
export function parsePaxList(body: Buffer): [string, Buffer][] {
  const records: [string, Buffer][] = [];
  let at = 0;
  while (at < body.length) {
    const space = body.indexOf(0x20, at);
    const length = space === -1 ? NaN : Number(body.subarray(at, space).toString('latin1'));
    if (!Number.isInteger(length) || length <= space - at || at + length > body.length || body[at + length - 1] !== 0x0a) {
      if (body.subarray(at).every((b) => b === 0)) break;
      throw new TreeDiffError('bad_tar', 'malformed PAX record');
    }
    const record = body.subarray(space + 1, at + length - 1);
    const equals = record.indexOf(0x3d);
    if (equals === -1) throw new TreeDiffError('bad_tar', 'malformed PAX record');
    records.push([record.subarray(0, equals).toString('utf8'), Buffer.from(record.subarray(equals + 1))]);
    at += length;
  }
  return records;
}
