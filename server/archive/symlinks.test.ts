import { describe, expect, it } from 'vitest';
import { findEscapingSymlink, MAX_SYMLINK_HOPS, resolvePath } from './symlinks.js';

const links = (entries: Record<string, string>) => new Map(Object.entries(entries));

describe('resolvePath', () => {
  it('leaves a path without links as it is', () => {
    expect(resolvePath(links({}), 'a/b/c')).toEqual({ ok: true, path: 'a/b/c' });
  });

  it('follows a link relative to the directory it lives in', () => {
    expect(resolvePath(links({ 'a/l': '../b' }), 'a/l')).toEqual({ ok: true, path: 'b' });
  });

  it('follows links in the middle of a path', () => {
    expect(resolvePath(links({ l: 'real/dir' }), 'l/x')).toEqual({ ok: true, path: 'real/dir/x' });
  });

  it('applies .. after a link to where the link points, not lexically', () => {
    // Lexically `l/..` is the root; physically it is `deep/a`.
    expect(resolvePath(links({ l: 'deep/a/b' }), 'l/..')).toEqual({ ok: true, path: 'deep/a' });
  });

  it('refuses a .. above the root', () => {
    expect(resolvePath(links({ l: '..' }), 'l')).toEqual({ ok: false, problem: 'escapes' });
  });

  it('refuses an absolute target anywhere in the chain', () => {
    expect(resolvePath(links({ a: 'b', b: '/etc' }), 'a')).toEqual({ ok: false, problem: 'absolute' });
  });

  it('catches the chain s -> d/e, d/e -> .., t -> s/.. that no single link shows', () => {
    const chain = links({ s: 'd/e', 'd/e': '..', t: 's/..' });
    expect(resolvePath(chain, 's')).toEqual({ ok: true, path: '' });
    expect(resolvePath(chain, 'd/e')).toEqual({ ok: true, path: '' });
    expect(resolvePath(chain, 't')).toEqual({ ok: false, problem: 'escapes' });
  });

  it('refuses a two-link loop', () => {
    expect(resolvePath(links({ a: 'b', b: 'a' }), 'a')).toEqual({ ok: false, problem: 'loop' });
  });

  it('refuses a link to itself', () => {
    expect(resolvePath(links({ a: 'a' }), 'a')).toEqual({ ok: false, problem: 'loop' });
  });

  it(`allows a chain of exactly ${MAX_SYMLINK_HOPS} links and refuses one more`, () => {
    const chain = (length: number) =>
      links(Object.fromEntries(Array.from({ length }, (_, i) => [`l${i}`, i === length - 1 ? 'end' : `l${i + 1}`])));
    expect(resolvePath(chain(MAX_SYMLINK_HOPS), 'l0')).toEqual({ ok: true, path: 'end' });
    expect(resolvePath(chain(MAX_SYMLINK_HOPS + 1), 'l0')).toEqual({ ok: false, problem: 'loop' });
  });

  it('treats a dangling target inside the root as fine', () => {
    expect(resolvePath(links({ l: 'not/there/yet' }), 'l')).toEqual({ ok: true, path: 'not/there/yet' });
  });

  it('counts .. after a missing directory as a step up', () => {
    expect(resolvePath(links({ l: 'missing/../..' }), 'l')).toEqual({ ok: false, problem: 'escapes' });
  });

  it('ignores empty and . components in targets', () => {
    expect(resolvePath(links({ l: './a//./b/' }), 'l')).toEqual({ ok: true, path: 'a/b' });
  });

  it('resolves through a directory link to a link inside it', () => {
    const tree = links({ d: 'real', 'real/up': '../..' });
    expect(resolvePath(tree, 'd/up')).toEqual({ ok: false, problem: 'escapes' });
  });
});

describe('findEscapingSymlink', () => {
  it('finds nothing in a tree whose links all stay inside', () => {
    expect(findEscapingSymlink(links({ a: 'b/c', 'b/c': '../d', 'x/y': '../x' }))).toBeUndefined();
  });

  it('names the link of the chain that leaves the root', () => {
    expect(findEscapingSymlink(links({ s: 'd/e', 'd/e': '..', t: 's/..' }))).toEqual({ link: 't', problem: 'escapes' });
  });

  it('names the first link of a loop', () => {
    expect(findEscapingSymlink(links({ ok: 'x', a: 'b', b: 'a' }))).toEqual({ link: 'a', problem: 'loop' });
  });
});
