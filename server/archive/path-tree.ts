/** Linux's MAXSYMLINKS: the kernel gives up with ELOOP after this many links in one lookup. */
export const MAX_SYMLINK_HOPS = 40;

export type SymlinkProblem = 'absolute' | 'escapes' | 'loop';

export type EntryKind = 'file' | 'directory' | 'symlink';

type Resolution = { ok: true; node: TreeNode; extra: number; hops: number } | { ok: false; problem: SymlinkProblem };

class TreeNode {
  readonly children = new Map<string, TreeNode>();
  /** What the archive last put here; 'implied' for a directory only its entries' paths name. */
  kind: EntryKind | 'implied' = 'implied';
  /** The target of the last symlink put here. Kept if a later entry replaces the link: the stricter reading. */
  target: string | undefined;

  constructor(
    readonly name: string,
    readonly parent: TreeNode | null,
  ) {}
}

export type InsertResult =
  | { ok: true }
  /** An entry through a symlink the archive made, or a symlink over entries already below it. */
  | { ok: false; entry: string; symlink: string }
  /** A file or link over a directory that holds entries: GNU tar will not replace it ("File exists"). */
  | { ok: false; entry: string; holds: string }
  /** An entry below a path the archive made a file. */
  | { ok: false; entry: string; file: string };

/**
 * The archive's paths as a tree of components, so that every check costs one walk of the entry's
 * own components: no prefix strings are built, whatever the depth of the tree.
 */
export class PathTree {
  private readonly root = new TreeNode('', null);
  private readonly symlinks: TreeNode[] = [];
  private created: TreeNode[] = [];

  /**
   * Records an entry at `parts` (normalized, non-empty). Refuses one that goes through a symlink
   * the archive made earlier, and a symlink over a path that earlier entries went through.
   */
  insert(parts: readonly string[], kind: EntryKind, target?: string): InsertResult {
    this.created = [];
    let node = this.root;
    for (let i = 0; i < parts.length - 1; i++) {
      let child = node.children.get(parts[i]!);
      if (child === undefined) {
        child = new TreeNode(parts[i]!, node);
        node.children.set(child.name, child);
        this.created.push(child);
      } else if (child.target !== undefined) {
        return { ok: false, entry: parts.join('/'), symlink: pathOf(child) };
      } else if (child.kind === 'file') {
        return { ok: false, entry: parts.join('/'), file: pathOf(child) };
      }
      node = child;
    }
    const name = parts[parts.length - 1]!;
    let leaf = node.children.get(name);
    if (leaf === undefined) {
      leaf = new TreeNode(name, node);
      node.children.set(name, leaf);
    }
    if (kind === 'file' && leaf.children.size > 0) return { ok: false, entry: parts.join('/'), holds: pathOf(firstLeafBelow(leaf)) };
    if (kind === 'symlink') {
      if (leaf.children.size > 0) return { ok: false, entry: pathOf(firstLeafBelow(leaf)), symlink: pathOf(leaf) };
      if (leaf.target === undefined) this.symlinks.push(leaf);
      leaf.target = target;
    }
    leaf.kind = kind;
    return { ok: true };
  }

  /** The directories the last insert() implied (not listed before it), outermost first. */
  impliedByLastInsert(): string[] {
    if (this.created.length === 0) return [];
    // Built outward from the first, so the whole chain costs its longest path once, not each prefix.
    const first = pathOf(this.created[0]!);
    const paths = [first];
    for (let i = 1; i < this.created.length; i++) paths.push(`${paths[i - 1]}/${this.created[i]!.name}`);
    return paths;
  }

  /** What the archive last put at `parts`, without following links; undefined if nothing. */
  kindAt(parts: readonly string[]): EntryKind | 'implied' | undefined {
    let node: TreeNode | undefined = this.root;
    for (const part of parts) {
      node = node.children.get(part);
      if (node === undefined) return undefined;
    }
    return node.kind;
  }

  /**
   * The first symlink (in archive order) whose physical resolution leaves the root, once every
   * entry is in. Resolutions are remembered per link, so each target is walked once.
   */
  findEscapingSymlink(): { link: string; problem: SymlinkProblem } | undefined {
    const resolver = new Resolver();
    for (const link of this.symlinks) {
      const resolution = resolver.resolveLink(link);
      if (!resolution.ok) return { link: pathOf(link), problem: resolution.problem };
    }
    return undefined;
  }
}

/**
 * Resolves links the way the kernel would once the archive is extracted: relative to the directory
 * the link lives in, including a link in last position. Components that are not in the tree are
 * taken as directories, so a `..` after a missing directory counts as a step up (the stricter reading).
 */
class Resolver {
  private readonly memo = new Map<TreeNode, Resolution>();
  private readonly active = new Set<TreeNode>();

  resolveLink(link: TreeNode): Resolution {
    const known = this.memo.get(link);
    if (known) return known;
    let result: Resolution;
    if (this.active.has(link) || this.active.size >= MAX_SYMLINK_HOPS) {
      result = { ok: false, problem: 'loop' };
    } else if (link.target!.startsWith('/')) {
      // An absolute target restarts at the sandbox's real `/`, which is outside the workspace.
      result = { ok: false, problem: 'absolute' };
    } else {
      this.active.add(link);
      result = this.walk(link.parent!, link.target!.split('/'));
      this.active.delete(link);
      if (result.ok) result = result.hops + 1 > MAX_SYMLINK_HOPS ? { ok: false, problem: 'loop' } : { ...result, hops: result.hops + 1 };
    }
    this.memo.set(link, result);
    return result;
  }

  private walk(start: TreeNode, parts: readonly string[]): Resolution {
    let node = start;
    // Components walked below `node` that the tree does not hold: no link can be among them.
    let extra = 0;
    let hops = 0;
    for (const part of parts) {
      if (part === '' || part === '.') continue;
      if (part === '..') {
        if (extra > 0) extra -= 1;
        else if (node.parent === null) return { ok: false, problem: 'escapes' };
        else node = node.parent;
        continue;
      }
      const child = extra > 0 ? undefined : node.children.get(part);
      if (child === undefined) {
        extra += 1;
        continue;
      }
      if (child.target === undefined) {
        node = child;
        continue;
      }
      const resolved = this.resolveLink(child);
      if (!resolved.ok) return resolved;
      hops += resolved.hops;
      if (hops > MAX_SYMLINK_HOPS) return { ok: false, problem: 'loop' };
      node = resolved.node;
      extra = resolved.extra;
    }
    return { ok: true, node, extra, hops };
  }
}

function pathOf(node: TreeNode): string {
  const parts: string[] = [];
  for (let n: TreeNode | null = node; n?.parent; n = n.parent) parts.push(n.name);
  return parts.reverse().join('/');
}

/** A leaf is always an entry of the archive: implied directories exist only above entries. */
function firstLeafBelow(node: TreeNode): TreeNode {
  let n = node;
  while (n.children.size > 0) n = n.children.values().next().value!;
  return n;
}
