import { describe, expect, it } from 'vitest';
import { MAX_SYMLINK_HOPS, PathTree } from './path-tree.js';

/** A tree holding these symlinks (path → target), in this order. */
function treeOf(links: Record<string, string>): PathTree {
  const tree = new PathTree();
  for (const [path, target] of Object.entries(links)) {
    expect(tree.insert(path.split('/'), 'symlink', target)).toEqual({ ok: true });
  }
  return tree;
}

const escaping = (links: Record<string, string>) => treeOf(links).findEscapingSymlink();

describe('PathTree.findEscapingSymlink', () => {
  it('finds nothing in a tree whose links all stay inside', () => {
    expect(escaping({ a: 'b/c', 'b/c': '../d', 'x/y': '../x' })).toBeUndefined();
  });

  it('follows a link relative to the directory it lives in', () => {
    expect(escaping({ 'a/l': '../b' })).toBeUndefined();
    expect(escaping({ 'a/l': '../../b' })).toEqual({ link: 'a/l', problem: 'escapes' });
  });

  it('applies .. after a link to where the link points, not lexically', () => {
    // Lexically `l/../..` is above the root; physically it is `deep`.
    expect(escaping({ l: 'deep/a/b', m: 'l/../..' })).toBeUndefined();
    expect(escaping({ l: 'deep', m: 'l/../..' })).toEqual({ link: 'm', problem: 'escapes' });
  });

  it('refuses an absolute target anywhere in the chain', () => {
    expect(escaping({ a: 'b', b: '/etc' })).toEqual({ link: 'a', problem: 'absolute' });
  });

  it('catches the chain s -> d/e, d/e -> .., t -> s/.. that no single link shows', () => {
    expect(escaping({ s: 'd/e', 'd/e': '..', t: 's/..' })).toEqual({ link: 't', problem: 'escapes' });
  });

  it('refuses a two-link loop and names its first link', () => {
    expect(escaping({ ok: 'x', a: 'b', b: 'a' })).toEqual({ link: 'a', problem: 'loop' });
  });

  it('refuses a link to itself', () => {
    expect(escaping({ a: 'a' })).toEqual({ link: 'a', problem: 'loop' });
  });

  it(`allows a chain of exactly ${MAX_SYMLINK_HOPS} links and refuses one more`, () => {
    const chain = (length: number) => Object.fromEntries(Array.from({ length }, (_, i) => [`l${i}`, i === length - 1 ? 'end' : `l${i + 1}`]));
    expect(escaping(chain(MAX_SYMLINK_HOPS))).toBeUndefined();
    expect(escaping(chain(MAX_SYMLINK_HOPS + 1))).toEqual({ link: 'l0', problem: 'loop' });
  });

  it('counts the hops of links followed inside a target', () => {
    // c's target goes through b and a: 3 hops for c, 2 for b.
    expect(escaping({ a: 'x', b: 'a', c: 'b/y' })).toBeUndefined();
  });

  it('treats a dangling target inside the root as fine', () => {
    expect(escaping({ l: 'not/there/yet' })).toBeUndefined();
  });

  it('counts .. after a missing directory as a step up', () => {
    expect(escaping({ l: 'missing/../..' })).toEqual({ link: 'l', problem: 'escapes' });
    expect(escaping({ l: 'missing/deeper/../../x' })).toBeUndefined();
  });

  it('ignores empty and . components in targets', () => {
    expect(escaping({ l: './a//./b/' })).toBeUndefined();
  });

  it('resolves through a directory link to a link inside it', () => {
    expect(escaping({ d: 'real', 'real/up': '../..' })).toEqual({ link: 'real/up', problem: 'escapes' });
  });

  it('walks each of 50,000 chained links once', () => {
    const tree = new PathTree();
    const count = 50_000;
    for (let i = 0; i < count; i++) tree.insert([`l${i}`], 'symlink', i === count - 1 ? 'end' : `l${i + 1}`);
    // Every link but the last 40 needs more than 40 hops.
    expect(tree.findEscapingSymlink()).toEqual({ link: 'l0', problem: 'loop' });
  });
});

describe('PathTree.insert', () => {
  it('refuses an entry written through a symlink seen earlier', () => {
    const tree = treeOf({ link: 'd' });
    expect(tree.insert(['link', 'file'], 'file')).toEqual({ ok: false, entry: 'link/file', symlink: 'link' });
  });

  it('refuses a symlink over a path that earlier entries went through, naming one of them', () => {
    const tree = new PathTree();
    tree.insert(['x', 'sub', 'file'], 'file');
    expect(tree.insert(['x'], 'symlink', 'y')).toEqual({ ok: false, entry: 'x/sub/file', symlink: 'x' });
  });

  it('keeps a replaced symlink as a symlink: entries beneath it stay refused', () => {
    const tree = treeOf({ x: 'y' });
    tree.insert(['x'], 'directory');
    expect(tree.insert(['x', 'f'], 'file')).toMatchObject({ ok: false, symlink: 'x' });
  });

  it('refuses a file over a directory holding entries, and lets one replace an empty directory', () => {
    const tree = new PathTree();
    tree.insert(['full', 'x'], 'file');
    tree.insert(['bare'], 'directory');
    expect(tree.insert(['full'], 'file')).toEqual({ ok: false, entry: 'full', holds: 'full/x' });
    expect(tree.insert(['bare'], 'file')).toEqual({ ok: true });
  });

  it('refuses an entry below a path the archive made a file', () => {
    const tree = new PathTree();
    tree.insert(['f'], 'file');
    expect(tree.insert(['f', 'g', 'h'], 'file')).toEqual({ ok: false, entry: 'f/g/h', file: 'f' });
    tree.insert(['f'], 'directory');
    expect(tree.insert(['f', 'g'], 'file')).toEqual({ ok: true });
  });

  it('tells what the archive last put at a path', () => {
    const tree = new PathTree();
    tree.insert(['a', 'b'], 'file');
    expect(tree.kindAt(['a'])).toBe('implied');
    expect(tree.kindAt(['a', 'b'])).toBe('file');
    expect(tree.kindAt(['a', 'c'])).toBeUndefined();
    tree.insert(['a', 'b'], 'symlink', 'c');
    expect(tree.kindAt(['a', 'b'])).toBe('symlink');
  });

  it('holds a tree 2,000 directories deep', () => {
    const tree = new PathTree();
    const parts: string[] = [];
    for (let i = 0; i < 2000; i++) {
      parts.push('d');
      expect(tree.insert(parts, 'directory')).toEqual({ ok: true });
    }
    expect(tree.kindAt(parts)).toBe('directory');
  });
});
