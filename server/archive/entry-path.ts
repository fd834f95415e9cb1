import { WorkspaceRejectedError, quoteEntry } from './workspace-rejected-error.js';

/**
 * Applies `path` to `base` component by component without touching the filesystem.
 * Returns null when a `..` would climb above the root.
 */
export function lexicalParts(path: string, base: readonly string[] = []): string[] | null {
  const parts = [...base];
  for (const part of path.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (parts.length === 0) return null;
      parts.pop();
      continue;
    }
    parts.push(part);
  }
  return parts;
}

/**
 * Normalizes a tar entry name to `a/b/c` form, or null for the root itself (`./`, `.`).
 * Throws an `invalid` rejection for empty, NUL-containing, absolute or escaping names.
 */
export function normalizeEntryPath(name: string): string | null {
  if (name === '') throw new WorkspaceRejectedError('invalid', 'an entry has an empty name', name);
  const quoted = quoteEntry(name);
  if (name.includes('\0')) {
    throw new WorkspaceRejectedError('invalid', `entry ${quoted} contains a NUL byte`, name);
  }
  if (name.startsWith('/')) {
    throw new WorkspaceRejectedError('invalid', `entry ${quoted} is an absolute path`, name);
  }
  const parts = lexicalParts(name);
  if (parts === null) {
    throw new WorkspaceRejectedError('invalid', `entry ${quoted} escapes the workspace`, name);
  }
  return parts.length === 0 ? null : parts.join('/');
}

/** `a/b/c` → [`a`, `a/b`]: the directories an entry is written through. */
export function parentPaths(path: string): string[] {
  const parts = path.split('/');
  const parents: string[] = [];
  for (let i = 1; i < parts.length; i++) parents.push(parts.slice(0, i).join('/'));
  return parents;
}
