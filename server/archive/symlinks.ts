/** Linux's MAXSYMLINKS: the kernel gives up with ELOOP after this many links in one lookup. */
export const MAX_SYMLINK_HOPS = 40;

export type SymlinkProblem = 'absolute' | 'escapes' | 'loop';

export type Resolution = { ok: true; path: string } | { ok: false; problem: SymlinkProblem };

/**
 * Resolves an in-root path the way the kernel would once the archive is extracted: every
 * component that is a symlink in `links` (normalized path → raw target) is replaced by its
 * target, relative to the directory the link lives in, including a symlink in last position.
 * Components that are not links are assumed to be directories, so a `..` after a missing
 * directory is counted as a step up rather than an ENOENT (the stricter reading).
 */
export function resolvePath(links: ReadonlyMap<string, string>, path: string): Resolution {
  const resolved: string[] = [];
  // Components still to walk, last one first, so following a link is a push, not a splice.
  const pending = path.split('/').reverse();
  let hops = 0;

  while (pending.length > 0) {
    const part = pending.pop()!;
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (resolved.length === 0) return { ok: false, problem: 'escapes' };
      resolved.pop();
      continue;
    }
    const candidate = resolved.length === 0 ? part : `${resolved.join('/')}/${part}`;
    const target = links.get(candidate);
    if (target === undefined) {
      resolved.push(part);
      continue;
    }
    hops += 1;
    if (hops > MAX_SYMLINK_HOPS) return { ok: false, problem: 'loop' };
    // An absolute target restarts at the sandbox's real `/`, which is outside the workspace.
    if (target.startsWith('/')) return { ok: false, problem: 'absolute' };
    for (const next of target.split('/').reverse()) pending.push(next);
  }

  return { ok: true, path: resolved.join('/') };
}

export interface EscapingSymlink {
  link: string;
  problem: SymlinkProblem;
}

/** The first link (in archive order) whose physical resolution leaves the root, if any. */
export function findEscapingSymlink(links: ReadonlyMap<string, string>): EscapingSymlink | undefined {
  for (const link of links.keys()) {
    const resolution = resolvePath(links, link);
    if (!resolution.ok) return { link, problem: resolution.problem };
  }
  return undefined;
}
