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

/** Linux's NAME_MAX: the longest file name a directory entry can hold, in bytes. */
export const MAX_NAME_BYTES = 255;
/**
 * Linux's PATH_MAX (4,096 with its NUL) less the sandbox's `/workspace/`: Docker extracts an upload
 * by that full path, and a longer one fails there with "file name too long".
 */
export const MAX_PATH_BYTES = 4095 - '/workspace/'.length;

/**
 * Normalizes a tar entry name to `a/b/c` form, or null for the root itself (`./`, `.`).
 * Throws an `invalid` rejection for empty, NUL-containing, absolute or escaping names, and for names
 * Linux cannot hold (a component over 255 bytes, a path over MAX_PATH_BYTES).
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
  if (parts.length === 0) return null;
  const path = parts.join('/');
  const bytes = Buffer.byteLength(path);
  if (bytes > MAX_PATH_BYTES) {
    throw new WorkspaceRejectedError('invalid', `entry ${quoted} has a path of ${bytes} bytes; the most a sandbox can hold is ${MAX_PATH_BYTES}`, name);
  }
  const long = parts.find((part) => Buffer.byteLength(part) > MAX_NAME_BYTES);
  if (long !== undefined) {
    throw new WorkspaceRejectedError('invalid', `entry ${quoted} has a component of ${Buffer.byteLength(long)} bytes; Linux holds at most ${MAX_NAME_BYTES}`, name);
  }
  return path;
}

/**
 * tar-stream decodes every name as UTF-8 (PAX `path`/`linkpath` whatever `filenameEncoding` says),
 * turning bytes that are not UTF-8 into U+FFFD: `caf\xe9` and `caf\xe8` would both land as
 * `caf\ufffd` and one file would be lost. Looking for U+FFFD is the cheap way to see that without
 * a second tar reader; it also refuses a name that really holds U+FFFD, which no tool makes on purpose.
 */
export function refuseNonUtf8Names(name: string, linkname: string | null | undefined): void {
  const must = 'names in a workspace must be UTF-8';
  if (name.includes('\ufffd')) {
    throw new WorkspaceRejectedError('invalid', `entry ${quoteEntry(name)} has a name that is not valid UTF-8; ${must}`, name);
  }
  if (linkname?.includes('\ufffd')) {
    throw new WorkspaceRejectedError('invalid', `entry ${quoteEntry(name)} has a link target that is not valid UTF-8; ${must}`, name);
  }
}
