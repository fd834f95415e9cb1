import { describe, expect, it } from 'vitest';
import { NAME_CHARS_TOTAL_MAX, WorkspacePolicy, type EntryHeader } from './workspace-policy.js';
import { WorkspaceRejectedError } from './workspace-rejected-error.js';

const roomy = { maxBytes: 1_000, maxEntries: 100 };

function admitAll(headers: EntryHeader[], limits = roomy): WorkspacePolicy {
  const policy = new WorkspacePolicy(limits);
  for (const header of headers) policy.admit(header);
  policy.finish();
  return policy;
}

function refusal(headers: EntryHeader[], limits = roomy): WorkspaceRejectedError {
  try {
    admitAll(headers, limits);
  } catch (error) {
    if (error instanceof WorkspaceRejectedError) return error;
    throw error;
  }
  throw new Error('expected a refusal');
}

describe('WorkspacePolicy.admit', () => {
  it.each([
    ['file', 0o200, 0o600],
    ['file', 0, 0o600],
    ['file', 0o100, 0o700],
    ['link', 0, 0o600],
    ['directory', 0, 0o700],
    ['directory', 0o555, 0o755],
    ['symlink', 0o777, 0o777],
  ] as const)('gives the owner what it needs: a %s of mode %o becomes %o', (type, mode, expected) => {
    const policy = new WorkspacePolicy(roomy);
    policy.admit({ name: 'f', type: 'file', size: 0 });
    expect(policy.admit({ name: 'x', type, mode, linkname: 'f' })?.mode).toBe(expected);
  });

  it('rewrites owner and names and keeps only permission bits', () => {
    const policy = new WorkspacePolicy(roomy, { uid: 42, gid: 43 });
    const out = policy.admit({ name: './bin/tool', type: 'file', mode: 0o4755, size: 3, uid: 0, uname: 'root' });
    expect(out).toMatchObject({ name: 'bin/tool', mode: 0o755, uid: 42, gid: 43, uname: 'codex', gname: 'codex', size: 3 });
  });

  it('skips the root directory entry without counting it', () => {
    const policy = new WorkspacePolicy(roomy);
    expect(policy.admit({ name: './', type: 'directory' })).toBeNull();
    expect(policy.entries).toBe(0);
  });

  it('refuses a file that names the root', () => {
    expect(refusal([{ name: 'a/..', type: 'file', size: 1 }]).message).toBe(
      'entry "a/.." names the workspace root but is not a directory',
    );
  });

  it.each([
    ['character-device', 'a character device'],
    ['block-device', 'a block device'],
    ['fifo', 'a FIFO'],
    ['contiguous-file', 'a contiguous file'],
  ] as const)('refuses a %s', (type, what) => {
    expect(refusal([{ name: 'dev/x', type }]).message).toBe(
      `entry "dev/x" is ${what}; only files, directories and links are allowed`,
    );
  });

  it('refuses a typeflag tar-stream does not know', () => {
    expect(refusal([{ name: 'v', type: null }]).message).toBe('entry "v" is of an unknown type; only files, directories and links are allowed');
  });

  it('counts bytes of every entry and names the one over the cap', () => {
    const error = refusal([{ name: 'a', type: 'file', size: 600 }, { name: 'big.bin', type: 'file', size: 401 }]);
    expect(error).toMatchObject({ kind: 'too_large', entry: 'big.bin' });
    expect(error.message).toBe('entry "big.bin" exceeds the workspace cap of 1000 bytes');
  });

  it('accepts exactly maxBytes and exactly maxEntries', () => {
    const policy = admitAll(
      [{ name: 'a', type: 'file', size: 500 }, { name: 'b', type: 'file', size: 500 }],
      { maxBytes: 1_000, maxEntries: 2 },
    );
    expect({ entries: policy.entries, bytes: policy.bytes }).toEqual({ entries: 2, bytes: 1_000 });
  });

  it('refuses the entry one past maxEntries', () => {
    const error = refusal([{ name: 'a', type: 'directory' }, { name: 'b', type: 'directory' }], { maxBytes: 1, maxEntries: 1 });
    expect(error).toMatchObject({ kind: 'too_large', entry: 'b', message: 'entry "b" exceeds the workspace cap of 1 entries' });
  });

  it('ignores the size field of a directory', () => {
    expect(admitAll([{ name: 'd', type: 'directory', size: 10_000 }]).bytes).toBe(0);
  });
});

describe('WorkspacePolicy implied parents', () => {
  it('adds the parents a tar does not list, owned by the sandbox user, once each', () => {
    const policy = new WorkspacePolicy(roomy, { uid: 42, gid: 43 });
    policy.admit({ name: 'src/lib/a.js', type: 'file', size: 1 });
    expect(policy.impliedParents().map((h) => [h.name, h.type, h.uid, h.gid, h.mode])).toEqual([
      ['src', 'directory', 42, 43, 0o755],
      ['src/lib', 'directory', 42, 43, 0o755],
    ]);
    policy.admit({ name: 'src/lib/b.js', type: 'file', size: 1 });
    expect(policy.impliedParents()).toEqual([]);
    policy.admit({ name: 'src/other/c.js', type: 'file', size: 1 });
    expect(policy.impliedParents().map((h) => h.name)).toEqual(['src/other']);
    expect(policy.entries).toBe(6);
  });

  it('counts implied parents against the entry cap', () => {
    const policy = new WorkspacePolicy({ maxBytes: 1_000, maxEntries: 3 });
    expect(() => policy.admit({ name: 'a/b/c/d', type: 'file', size: 1 })).toThrow(/and the directories it implies exceed the workspace cap of 3 entries/);
  });
});

describe('WorkspacePolicy names', () => {
  it('refuses the entry whose name takes all names past their total cap', () => {
    const policy = new WorkspacePolicy({ maxBytes: 1_000, maxEntries: 1_000_000 });
    const name = (i: number) => `${i.toString().padStart(8, '0')}${'x'.repeat(242)}`; // 250 characters, no parents
    const fit = Math.floor(NAME_CHARS_TOTAL_MAX / 250);
    for (let i = 0; i < fit; i++) policy.admit({ name: name(i), type: 'directory' });
    expect(() => policy.admit({ name: name(fit), type: 'directory' })).toThrow(/names past 16777216 characters in all/);
  });
});

describe('WorkspacePolicy symlinks', () => {
  it('accepts links that stay inside', () => {
    const policy = admitAll([{ name: 'a/l', type: 'symlink', linkname: '../b' }]);
    expect(policy.entries).toBe(2); // a/l, and a, which it implies
  });

  it('refuses an absolute target', () => {
    expect(refusal([{ name: 'l', type: 'symlink', linkname: '/etc' }]).message).toBe(
      'entry "l" is a symlink to the absolute path "/etc"',
    );
  });

  it('refuses a target that escapes on its own', () => {
    expect(refusal([{ name: 'a/l', type: 'symlink', linkname: '../../x' }]).message).toBe(
      'entry "a/l" is a symlink that escapes the workspace',
    );
  });

  it('refuses an empty target', () => {
    expect(refusal([{ name: 'l', type: 'symlink', linkname: '' }]).message).toContain('empty target');
  });

  it('refuses the chain s -> d/e, d/e -> .., t -> s/.. once the archive is complete', () => {
    const policy = new WorkspacePolicy(roomy);
    policy.admit({ name: 's', type: 'symlink', linkname: 'd/e' });
    policy.admit({ name: 'd', type: 'directory' });
    policy.admit({ name: 'd/e', type: 'symlink', linkname: '..' });
    policy.admit({ name: 't', type: 'symlink', linkname: 's/..' });
    expect(() => policy.finish()).toThrow('entry "t" is a symlink that resolves outside the workspace');
  });

  it('refuses a symlink loop', () => {
    expect(refusal([{ name: 'a', type: 'symlink', linkname: 'b' }, { name: 'b', type: 'symlink', linkname: 'a' }]).message).toBe(
      'entry "a" is a symlink in a loop or a chain of more than 40 links',
    );
  });

  it('refuses an entry written through a symlink seen earlier', () => {
    const error = refusal([{ name: 'link', type: 'symlink', linkname: 'd' }, { name: 'link/file', type: 'file', size: 1 }]);
    expect(error).toMatchObject({ entry: 'link/file', message: 'entry "link/file" goes through the symlink "link"' });
  });

  it('refuses an entry beneath a path that a later entry turns into a symlink', () => {
    const error = refusal([{ name: 'x/file', type: 'file', size: 1 }, { name: 'x', type: 'symlink', linkname: 'y' }]);
    expect(error.message).toBe('entry "x/file" goes through the symlink "x"');
  });
});

describe('WorkspacePolicy hard links', () => {
  it('accepts a link to an earlier file and normalizes its target', () => {
    const policy = new WorkspacePolicy(roomy);
    policy.admit({ name: 'a', type: 'file', size: 1 });
    expect(policy.admit({ name: 'b', type: 'link', linkname: './a' })).toMatchObject({ linkname: 'a', size: 0 });
  });

  it('refuses a link to a path outside the root', () => {
    expect(refusal([{ name: 'h', type: 'link', linkname: '../../etc/shadow' }]).message).toBe(
      'entry "h" is a hard link to "../../etc/shadow", which escapes the workspace',
    );
  });

  it('refuses a link to an absolute path', () => {
    expect(refusal([{ name: 'h', type: 'link', linkname: '/etc/shadow' }]).message).toContain('escapes the workspace');
  });

  it('refuses a link to a file that comes later or not at all', () => {
    expect(refusal([{ name: 'h', type: 'link', linkname: 'a' }, { name: 'a', type: 'file', size: 1 }]).message).toBe(
      'entry "h" is a hard link to "a", which is not an earlier file in the archive',
    );
  });

  it('refuses a link to itself, which Docker cannot extract, whatever way its names are written', () => {
    for (const [name, linkname] of [['a', 'a'], ['./a', 'a'], ['d/a', 'd/../d/a']] as const) {
      const error = refusal([{ name: 'd/', type: 'directory' }, { name, type: 'file', size: 1 }, { name, type: 'link', linkname }]);
      expect(error.message).toBe(`entry "${name}" is a hard link to itself`);
    }
  });

  it('refuses a link to a directory', () => {
    expect(refusal([{ name: 'd', type: 'directory' }, { name: 'h', type: 'link', linkname: 'd' }]).message).toContain(
      'not an earlier file',
    );
  });

  it('refuses a link to a file that was later replaced by a symlink', () => {
    const headers: EntryHeader[] = [
      { name: 'a', type: 'file', size: 1 },
      { name: 'a', type: 'symlink', linkname: 'b' },
      { name: 'h', type: 'link', linkname: 'a' },
    ];
    expect(refusal(headers).message).toContain('not an earlier file');
  });
});
