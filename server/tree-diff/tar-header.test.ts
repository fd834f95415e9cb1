import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseNumber, parsePax, verifyChecksum } from './tar-header.js';
import { rawHeader } from './test-trees.js';

describe('parsePax', () => {
  it('keeps values as raw bytes, newlines and = signs included', () => {
    const body = Buffer.concat([Buffer.from('14 path=a\xffb=c\n', 'latin1'), Buffer.from('17 comment=x\ny z\n')]);
    const records = parsePax(body);
    expect(records.get('path')).toEqual(Buffer.from('a\xffb=c', 'latin1'));
    expect(records.get('comment')?.toString()).toBe('x\ny z');
  });

  it('stops at zero padding and refuses a record whose length does not fit', () => {
    expect(parsePax(Buffer.concat([Buffer.from('9 path=a\n'), Buffer.alloc(20)])).get('path')?.toString()).toBe('a');
    for (const bad of ['99 path=a\n', '5 path=a\n', 'x path=a\n', '8 patha\n']) {
      expect(() => parsePax(Buffer.from(bad))).toThrow(/malformed PAX record/);
    }
  });
});

describe('parseNumber', () => {
  it('reads octal, space or NUL padded, and GNU base-256', () => {
    expect(parseNumber(Buffer.from('0000644\0'), 0, 8)).toBe(0o644);
    expect(parseNumber(Buffer.from('  755 \0\0'), 0, 8)).toBe(0o755);
    expect(parseNumber(Buffer.alloc(8), 0, 8)).toBe(0);
    expect(parseNumber(Buffer.from([0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x00]), 0, 12)).toBe(256);
    expect(() => parseNumber(Buffer.from('12x\0'), 0, 4)).toThrow(/bad octal/);
    expect(() => parseNumber(Buffer.from([0xff, 0, 0, 0]), 0, 4)).toThrow(/negative/);
  });

  it('reads an octal field in place as its text up to the first NUL, trimmed, would read', () => {
    const byText = (field: Buffer): number | 'refused' => {
      const end = field.indexOf(0);
      const text = (end === -1 ? field : field.subarray(0, end)).toString('latin1').trim();
      return text === '' ? 0 : /^[0-7]+$/.test(text) ? parseInt(text, 8) : 'refused';
    };
    const inPlace = (block: Buffer, start: number): number | 'refused' => {
      try {
        return parseNumber(block, start, 12);
      } catch {
        return 'refused';
      }
    };
    const byte = fc.constantFrom(0x00, 0x09, 0x0a, 0x0d, 0x20, 0xa0, 0x30, 0x31, 0x37, 0x38, 0x41, 0x85);
    fc.assert(
      fc.property(fc.array(byte, { minLength: 12, maxLength: 12 }), fc.nat(4), (bytes, start) => {
        // A first byte with its high bit set is GNU base-256, read above.
        fc.pre(bytes[0]! < 0x80);
        const field = Buffer.from(bytes);
        const block = Buffer.concat([Buffer.alloc(start, 0x31), field, Buffer.from('77')]);
        expect(inPlace(block, start)).toBe(byText(field));
      }),
      { numRuns: 5_000 },
    );
  });
});

describe('verifyChecksum', () => {
  it('accepts a header as written and refuses one byte changed', () => {
    const block = rawHeader({ name: 'a', size: 1 });
    expect(() => verifyChecksum(block, 0)).not.toThrow();
    block[10] = 1;
    expect(() => verifyChecksum(block, 0)).toThrow(/checksum/);
  });
});
