import { smallObject, type SmallObject } from './object-store.js';
import { TreeDiffError } from './tree-diff-error.js';
import type { PathKey } from './tree-path.js';

export type GitMode = '100644' | '100755' | '120000';

export interface TreeEntry {
  mode: GitMode;
  id: string;
}

/** git keeps one permission bit: the owner's execute bit (`ce_permissions`). */
export function fileMode(tarMode: number): GitMode {
  return tarMode & 0o100 ? '100755' : '100644';
}

type Dir = Map<string, TreeEntry | Dir>;

/** A tree's objects, by the path of their directory ('' for the root), none of them written. */
export interface TreeObjects {
  rootId: string;
  byPath: ReadonlyMap<string, SmallObject>;
}

/**
 * The tree objects for `entries` (path → mode and blob id). Made here rather than with `git
 * update-index` + `write-tree`: write-tree looks up every blob it names and rescans the object
 * directory for each one it cannot find (0.7 s for 50k paths), and most baseline blobs are
 * deliberately never stored.
 */
export function buildTree(entries: Iterable<[PathKey, TreeEntry]>): TreeObjects {
  const root: Dir = new Map();
  for (const [key, entry] of entries) {
    const parts = key.split('/');
    let dir = root;
    for (const part of parts.slice(0, -1)) {
      let next = dir.get(part);
      if (next === undefined) dir.set(part, (next = new Map()));
      if (!(next instanceof Map)) throw conflict(key);
      dir = next;
    }
    const name = parts.at(-1)!;
    if (dir.has(name)) throw conflict(key);
    dir.set(name, entry);
  }
  const byPath = new Map<string, SmallObject>();
  return { rootId: treeObjects(root, '', byPath), byPath };
}

/**
 * The trees `git diff-tree -r` reads to compare `from` with `to`: both sides of every directory
 * whose id differs, and nothing below a directory that is the same on both (git does not descend
 * into it). A baseline of thousands of directories then costs the disk only the few a run changed.
 */
export function treesForDiff(from: TreeObjects, to: TreeObjects): SmallObject[] {
  const needed: SmallObject[] = [];
  for (const [path, tree] of from.byPath) if (to.byPath.get(path)?.id !== tree.id) needed.push(tree);
  for (const [path, tree] of to.byPath) if (from.byPath.get(path)?.id !== tree.id) needed.push(tree);
  return needed;
}

/** The tree object of `dir` and of each directory below it, kept in `byPath`; returns dir's id. */
function treeObjects(dir: Dir, path: string, byPath: Map<string, SmallObject>): string {
  const rows: { sortKey: string; mode: string; name: string; id: string }[] = [];
  for (const [name, value] of dir) {
    if (value instanceof Map) rows.push({ sortKey: `${name}/`, mode: '40000', name, id: treeObjects(value, path ? `${path}/${name}` : name, byPath) });
    else rows.push({ sortKey: name, mode: value.mode, name, id: value.id });
  }
  // git orders a tree's entries by name bytes, a directory as if its name ended in `/`; keys are
  // one char per byte, so comparing code units compares bytes.
  rows.sort((a, b) => (a.sortKey < b.sortKey ? -1 : a.sortKey > b.sortKey ? 1 : 0));
  const parts: Buffer[] = [];
  for (const row of rows) parts.push(Buffer.from(`${row.mode} ${row.name}\0`, 'latin1'), Buffer.from(row.id, 'hex'));
  const tree = smallObject('tree', Buffer.concat(parts));
  byPath.set(path, tree);
  return tree.id;
}

function conflict(key: PathKey): TreeDiffError {
  return new TreeDiffError('bad_tar', `${JSON.stringify(key)} is both a file and a directory`);
}
