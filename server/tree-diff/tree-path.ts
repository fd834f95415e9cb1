/**
 * Paths are kept as "keys": the raw name bytes as a latin1 string, one char per byte, so they
 * can be Map keys and split on `/` without ever decoding (and damaging) a name that is not UTF-8.
 */
export type PathKey = string;

export function keyOf(bytes: Buffer): PathKey {
  return bytes.toString('latin1');
}

export function bytesOf(key: PathKey): Buffer {
  return Buffer.from(key, 'latin1');
}

/** How a name is shown in results: UTF-8, with U+FFFD for bytes that are not. */
export function displayPath(key: PathKey): string {
  return bytesOf(key).toString('utf8');
}

export type PathClass =
  | { kind: 'root' }
  | { kind: 'tracked'; key: PathKey }
  /** Inside a `.git` directory, or a `.git` file: not part of the diff by design. */
  | { kind: 'git_dir'; key: PathKey }
  /** A name git refuses to put in a tree, so no patch can carry it. */
  | { kind: 'unrepresentable'; key: PathKey };

/**
 * Normalizes an archive name (`./a//b/` → `a/b`) after removing `prefix` (Docker's
 * `workspace/`) and says whether the diff covers it. Returns null for a name outside `prefix`
 * or one that climbs with `..`, which neither Docker nor the spooler writes.
 */
export function classifyPath(raw: Buffer, prefix: PathKey, symlink: boolean): PathClass | null {
  let name = keyOf(raw);
  if (prefix) {
    if (name === prefix || `${name}/` === prefix) return { kind: 'root' };
    if (!name.startsWith(prefix)) return null;
    name = name.slice(prefix.length);
  }
  const parts: string[] = [];
  for (const part of name.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') return null;
    parts.push(part);
  }
  if (parts.length === 0) return { kind: 'root' };
  const key = parts.join('/');
  // A nested repository's objects would be noise, and git itself never tracks `.git`: its
  // checkout's files are ordinary files here, its `.git` (directory or gitlink file) is not.
  if (parts.includes('.git')) return { kind: 'git_dir', key };
  if (parts.some((part) => gitRefusesComponent(part, symlink))) return { kind: 'unrepresentable', key };
  return { kind: 'tracked', key };
}

const PLAIN_NAME = /^[^gG\x80-\xff]*$/;

// Zero-width and direction marks HFS+ ignores when comparing names (git's utf8.c `next_hfs_char`).
const HFS_IGNORED = /[\u200c-\u200f\u202a-\u202e\u206a-\u206f\ufeff]/g;

/**
 * Whether git's `verify_path` would refuse this component with core.protectNTFS and
 * core.protectHFS on (NTFS is git's default everywhere, HFS on macOS, where a patch may be
 * applied). Errs on refusing: such a path is reported as omitted instead of breaking the diff.
 */
export function gitRefusesComponent(part: string, symlink: boolean): boolean {
  if (part === '' || part === '.' || part === '..' || part.includes('\0')) return true;
  // Every refused name below has a g in it, or bytes past ASCII (HFS's ignored marks): most names have neither.
  if (PLAIN_NAME.test(part)) return false;
  // NTFS: `.git` and its 8.3 name `git~1`, with trailing dots or spaces or a `:stream`, and
  // backslash is a separator there.
  for (const piece of part.split('\\')) {
    const lower = piece.toLowerCase();
    if (/^(?:\.git|git~1)[. ]*(?::|$)/.test(lower)) return true;
    // A symlinked .gitmodules (or its 8.3 names) is refused outright (CVE-2018-11235).
    if (symlink && (lower.startsWith('.gitmodules') || /^(?:gitmod~|gi7eba~)/.test(lower))) return true;
  }
  const utf8 = bytesOf(part).toString('utf8');
  const folded = utf8.replace(HFS_IGNORED, '').toLowerCase();
  if (folded === '.git') return true;
  if (symlink && folded === '.gitmodules') return true;
  return false;
}

/** `a/b/c` → [`a`, `a/b`]. */
export function parentKeys(key: PathKey): PathKey[] {
  const parents: PathKey[] = [];
  for (let at = key.indexOf('/'); at !== -1; at = key.indexOf('/', at + 1)) parents.push(key.slice(0, at));
  return parents;
}

/**
 * Compares two paths in the order a depth-first walk reading each directory sorted by name
 * visits them (Go's filepath.Walk, which writes Docker's archives; `tar --sort=name`): a
 * directory before its contents, siblings by name bytes.
 */
export function walkCompare(a: PathKey, b: PathKey): number {
  const left = a.split('/');
  const right = b.split('/');
  for (let i = 0; i < Math.min(left.length, right.length); i++) {
    if (left[i] !== right[i]) return left[i]! < right[i]! ? -1 : 1;
  }
  return left.length - right.length;
}
