import { describe, expect, it } from 'vitest';
import { lexicalParts, MAX_NAME_BYTES, MAX_PATH_BYTES, normalizeEntryPath } from './entry-path.js';
import { WorkspaceRejectedError } from './workspace-rejected-error.js';

function refusal(name: string): WorkspaceRejectedError {
  try {
    normalizeEntryPath(name);
  } catch (error) {
    if (error instanceof WorkspaceRejectedError) return error;
    throw error;
  }
  throw new Error(`expected ${JSON.stringify(name)} to be refused`);
}

describe('normalizeEntryPath', () => {
  it.each([
    ['a/b', 'a/b'],
    ['./a/b', 'a/b'],
    ['a//b/', 'a/b'],
    ['a/./b', 'a/b'],
    ['./././a', 'a'],
    ['a/x/../b', 'a/b'],
  ])('normalizes %j to %j', (name, expected) => {
    expect(normalizeEntryPath(name)).toBe(expected);
  });

  it.each(['./', '.', 'a/..'])('returns null for the root written as %j', (name) => {
    expect(normalizeEntryPath(name)).toBeNull();
  });

  it('refuses a name that climbs out with ..', () => {
    expect(refusal('../etc/passwd').message).toBe('entry "../etc/passwd" escapes the workspace');
  });

  it('refuses a name that climbs out after descending', () => {
    expect(refusal('a/../../x')).toMatchObject({ kind: 'invalid', entry: 'a/../../x' });
  });

  it('refuses an absolute name', () => {
    expect(refusal('/abs').message).toBe('entry "/abs" is an absolute path');
  });

  it('refuses an empty name', () => {
    expect(refusal('').message).toBe('an entry has an empty name');
  });

  it('accepts a component of exactly NAME_MAX bytes and refuses one more', () => {
    const name = 'é'.repeat(127) + 'x'; // bytes, not characters: é is two
    expect(Buffer.byteLength(name)).toBe(MAX_NAME_BYTES);
    expect(normalizeEntryPath(`d/${name}`)).toBe(`d/${name}`);
    expect(refusal(`d/${name}x`).message).toContain(`has a component of ${MAX_NAME_BYTES + 1} bytes`);
  });

  it('accepts a path of exactly MAX_PATH_BYTES and refuses one more', () => {
    const component = 'a'.repeat(99);
    const path = Array.from({ length: 50 }, () => component).join('/');
    const exact = path.slice(0, MAX_PATH_BYTES);
    expect(normalizeEntryPath(exact)).toBe(exact);
    expect(refusal(`${exact}b`).message).toContain(`has a path of ${MAX_PATH_BYTES + 1} bytes`);
  });

  it('measures the normalized path, not the raw name', () => {
    expect(normalizeEntryPath(`${'./'.repeat(5000)}a`)).toBe('a');
  });

  it('cuts a huge name short in the message', () => {
    const message = refusal('a/'.repeat(200_000)).message;
    expect(message.length).toBeLessThan(400);
    expect(message).toContain('(400000 bytes)');
  });

  it('refuses a name with a NUL byte and shows it escaped', () => {
    expect(refusal('a\0b').message).toBe('entry "a\\u0000b" contains a NUL byte');
  });
});

describe('lexicalParts', () => {
  it('resolves relative to a base', () => {
    expect(lexicalParts('../c', ['a', 'b'])).toEqual(['a', 'c']);
  });

  it('returns null when climbing above the root', () => {
    expect(lexicalParts('../../..', ['a', 'b'])).toBeNull();
  });
});
