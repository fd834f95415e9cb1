import { describe, expect, it } from 'vitest';
import { lexicalParts, normalizeEntryPath, parentPaths } from './entry-path.js';
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

describe('parentPaths', () => {
  it('lists every directory above an entry', () => {
    expect(parentPaths('a/b/c')).toEqual(['a', 'a/b']);
    expect(parentPaths('top')).toEqual([]);
  });
});
