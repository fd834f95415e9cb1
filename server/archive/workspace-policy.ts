import type { Header, Pack } from 'tar-stream';
import { DEFAULT_SANDBOX_IDS } from '../domain/sandbox-ids.js';
import { lexicalParts, MAX_PATH_BYTES, normalizeEntryPath, refuseNonUtf8Names } from './entry-path.js';
import { MAX_SYMLINK_HOPS, PathTree } from './path-tree.js';
import { quoteEntry, WorkspaceRejectedError } from './workspace-rejected-error.js';

export interface WorkspaceLimits {
  maxBytes: number;
  maxEntries: number;
  maxCompressedBytes: number;
}

export interface WorkspaceOwner {
  uid: number;
  gid: number;
}

/** A header as tar-stream's extract delivers it: `type` is null for typeflags it does not know. */
export type EntryHeader = Pick<Header, 'name'> & Partial<Omit<Header, 'type'>> & { type?: Header['type'] | null };

/** A header as tar-stream's pack accepts it. */
export type PackHeader = Parameters<Pack['entry']>[0];

const SANDBOX_USER_NAME = 'codex';
/** 50,000 entries of 320-character paths; real trees average well under 100. */
export const NAME_CHARS_TOTAL_MAX = 16 * 1024 * 1024;

const REFUSED_TYPES: Record<string, string> = {
  'character-device': 'a character device',
  'block-device': 'a block device',
  fifo: 'a FIFO',
  'contiguous-file': 'a contiguous file',
};

/**
 * Decides, entry by entry, what of an uploaded tar goes into the re-packed workspace tar.
 * Holds only names (bounded by `maxEntries`), never content; throws `WorkspaceRejectedError`.
 */
export class WorkspacePolicy {
  entries = 0;
  bytes = 0;
  /** The entry most recently admitted, for naming the culprit when the compressed cap trips. */
  lastEntry: string | undefined;

  private readonly tree = new PathTree();
  private nameChars = 0;
  private pendingParents: string[] = [];

  constructor(
    private readonly limits: Pick<WorkspaceLimits, 'maxBytes' | 'maxEntries'>,
    // The account the sandbox runs Codex as: uploaded files must be writable by it.
    private readonly owner: WorkspaceOwner = DEFAULT_SANDBOX_IDS,
  ) {}

  /** Returns the header to write, or null when the entry is the root and is skipped. */
  admit(header: EntryHeader): PackHeader | null {
    const name = header.name;
    const quoted = quoteEntry(name);
    refuseNonUtf8Names(name, header.linkname);
    // tar-stream reports typeflags it does not know (GNU sparse, volume labels...) as null.
    const type = header.type === undefined ? 'file' : header.type;
    if (type !== 'file' && type !== 'directory' && type !== 'symlink' && type !== 'link') {
      const what = (type !== null && REFUSED_TYPES[type]) || 'of an unknown type';
      throw invalid(`entry ${quoted} is ${what}; only files, directories and links are allowed`, name);
    }

    const path = normalizeEntryPath(name);
    if (path === null) {
      if (type === 'directory') return null;
      throw invalid(`entry ${quoted} names the workspace root but is not a directory`, name);
    }

    if (this.entries + 1 > this.limits.maxEntries) {
      throw tooLarge(`entry ${quoted} exceeds the workspace cap of ${this.limits.maxEntries} entries`, name);
    }
    // Directories carry no data in tar even if their size field says otherwise.
    const size = type === 'directory' ? 0 : (header.size ?? 0);
    // Checking a name costs a walk of its components: their sum is what bounds an upload's CPU.
    let nameChars = path.length;
    if (this.nameChars + nameChars > NAME_CHARS_TOTAL_MAX) {
      throw tooLarge(`entry ${quoted} takes the entries' names past ${NAME_CHARS_TOTAL_MAX} characters in all`, name);
    }
    if (this.bytes + size > this.limits.maxBytes) {
      throw tooLarge(`entry ${quoted} exceeds the workspace cap of ${this.limits.maxBytes} bytes`, name);
    }

    const out: PackHeader = {
      name: path,
      type,
      mode: ownerMode(type, header.mode ?? 0),
      uid: this.owner.uid,
      gid: this.owner.gid,
      uname: SANDBOX_USER_NAME,
      gname: SANDBOX_USER_NAME,
      mtime: header.mtime,
      size: type === 'file' ? size : 0,
    };

    if (type === 'symlink') out.linkname = this.checkSymlinkTarget(name, path, header.linkname);
    if (type === 'link') out.linkname = this.checkHardLinkTarget(name, path, header.linkname);

    // A hard link is another name for a file: what is written through it lands in that file.
    const inserted = this.tree.insert(path.split('/'), type === 'link' ? 'file' : type, out.linkname);
    if (!inserted.ok) {
      const entry = quoteEntry(inserted.entry);
      if ('holds' in inserted) {
        throw invalid(`entry ${entry} is not a directory, but the archive already has entries inside it (${quoteEntry(inserted.holds)})`, inserted.entry);
      }
      if ('file' in inserted) throw invalid(`entry ${entry} is inside ${quoteEntry(inserted.file)}, which the archive made a file`, inserted.entry);
      throw invalid(`entry ${entry} goes through the symlink ${quoteEntry(inserted.symlink)}`, inserted.entry);
    }
    // Docker's extraction creates parents the tar does not list as root:root 0755, where the sandbox
    // user cannot write (`tar czf ws.tgz $(git ls-files)` lists none): they go in, owned by it.
    this.pendingParents = this.tree.impliedByLastInsert();
    for (const parent of this.pendingParents) nameChars += parent.length;
    if (this.entries + 1 + this.pendingParents.length > this.limits.maxEntries) {
      throw tooLarge(`entry ${quoted} and the directories it implies exceed the workspace cap of ${this.limits.maxEntries} entries`, name);
    }
    if (this.nameChars + nameChars > NAME_CHARS_TOTAL_MAX) {
      throw tooLarge(`entry ${quoted} takes the entries' names past ${NAME_CHARS_TOTAL_MAX} characters in all`, name);
    }
    this.entries += 1;
    this.entries += this.pendingParents.length;
    this.bytes += size;
    this.nameChars += nameChars;
    this.lastEntry = name;
    return out;
  }

  /** Directory entries to write before the entry admit() last returned: its parents the tar did not list. */
  impliedParents(mtime: Date = new Date()): PackHeader[] {
    return this.pendingParents.map((name) => ({
      name,
      type: 'directory',
      mode: 0o755,
      uid: this.owner.uid,
      gid: this.owner.gid,
      uname: SANDBOX_USER_NAME,
      gname: SANDBOX_USER_NAME,
      mtime,
      size: 0,
    }));
  }

  /** Checks what only the whole archive can tell: chains of links that each look harmless but together lead out of the root. */
  finish(): void {
    const escaping = this.tree.findEscapingSymlink();
    if (escaping === undefined) return;
    const quoted = quoteEntry(escaping.link);
    if (escaping.problem === 'loop') {
      throw invalid(
        `entry ${quoted} is a symlink in a loop or a chain of more than ${MAX_SYMLINK_HOPS} links`,
        escaping.link,
      );
    }
    throw invalid(`entry ${quoted} is a symlink that resolves outside the workspace`, escaping.link);
  }

  private checkSymlinkTarget(name: string, path: string, target: string | null | undefined): string {
    const quoted = quoteEntry(name);
    if (!target) throw invalid(`entry ${quoted} is a symlink with an empty target`, name);
    if (Buffer.byteLength(target) > MAX_PATH_BYTES) {
      throw invalid(`entry ${quoted} is a symlink whose target is longer than ${MAX_PATH_BYTES} bytes`, name);
    }
    if (target.includes('\0')) throw invalid(`entry ${quoted} has a symlink target with a NUL byte`, name);
    if (target.startsWith('/')) {
      throw invalid(`entry ${quoted} is a symlink to the absolute path ${quoteEntry(target)}`, name);
    }
    if (lexicalParts(target, path.split('/').slice(0, -1)) === null) {
      throw invalid(`entry ${quoted} is a symlink that escapes the workspace`, name);
    }
    return target;
  }

  private checkHardLinkTarget(name: string, path: string, target: string | null | undefined): string {
    const quoted = quoteEntry(name);
    if (!target) throw invalid(`entry ${quoted} is a hard link with an empty target`, name);
    let normalized: string | null;
    try {
      normalized = normalizeEntryPath(target);
    } catch {
      throw invalid(`entry ${quoted} is a hard link to ${quoteEntry(target)}, which escapes the workspace`, name);
    }
    // Docker's extraction removes what is at a link's path before it links: the target is gone and
    // the whole upload fails in the engine ("link /workspace/a /workspace/a: no such file").
    if (normalized === path) throw invalid(`entry ${quoted} is a hard link to itself`, name);
    if (normalized === null || this.tree.kindAt(normalized.split('/')) !== 'file') {
      throw invalid(
        `entry ${quoted} is a hard link to ${quoteEntry(target)}, which is not an earlier file in the archive`,
        name,
      );
    }
    return normalized;
  }
}

/**
 * Permission bits only, and never fewer than the owner needs: Codex runs as the owner, and a file
 * it cannot read or a directory it cannot enter would fail the run instead of being worked on.
 */
export function ownerMode(type: PackHeader['type'], mode: number): number {
  const bits = mode & 0o777;
  if (type === 'directory') return bits | 0o700;
  if (type === 'symlink') return bits;
  return bits | 0o600;
}

function invalid(message: string, entry: string): WorkspaceRejectedError {
  return new WorkspaceRejectedError('invalid', message, entry);
}

function tooLarge(message: string, entry: string): WorkspaceRejectedError {
  return new WorkspaceRejectedError('too_large', message, entry);
}
