import type { Header, Pack } from 'tar-stream';
import { lexicalParts, normalizeEntryPath, parentPaths } from './entry-path.js';
import { findEscapingSymlink, MAX_SYMLINK_HOPS } from './symlinks.js';
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

/** The account the sandbox runs Codex as; uploaded files must be writable by it. */
export const SANDBOX_OWNER: WorkspaceOwner = { uid: 1000, gid: 1000 };
const SANDBOX_USER_NAME = 'codex';

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

  private readonly links = new Map<string, string>();
  private readonly files = new Set<string>();
  private readonly paths: string[] = [];

  constructor(
    private readonly limits: Pick<WorkspaceLimits, 'maxBytes' | 'maxEntries'>,
    private readonly owner: WorkspaceOwner = SANDBOX_OWNER,
  ) {}

  /** Returns the header to write, or null when the entry is the root and is skipped. */
  admit(header: EntryHeader): PackHeader | null {
    const name = header.name;
    const quoted = quoteEntry(name);
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
    if (this.bytes + size > this.limits.maxBytes) {
      throw tooLarge(`entry ${quoted} exceeds the workspace cap of ${this.limits.maxBytes} bytes`, name);
    }
    const through = this.symlinkAbove(path);
    if (through !== undefined) {
      throw invalid(`entry ${quoted} goes through the symlink ${quoteEntry(through)}`, name);
    }

    const out: PackHeader = {
      name: path,
      type,
      mode: (header.mode ?? 0) & 0o777,
      uid: this.owner.uid,
      gid: this.owner.gid,
      uname: SANDBOX_USER_NAME,
      gname: SANDBOX_USER_NAME,
      mtime: header.mtime,
      size: type === 'file' ? size : 0,
    };

    if (type === 'symlink') out.linkname = this.admitSymlink(name, path, header.linkname);
    if (type === 'link') out.linkname = this.admitHardLink(name, header.linkname);

    if (type === 'file') this.files.add(path);
    else this.files.delete(path);
    this.paths.push(path);
    this.entries += 1;
    this.bytes += size;
    this.lastEntry = name;
    return out;
  }

  /**
   * Checks what only the whole archive can tell: a link added after entries beneath it, and
   * chains of links that each look harmless but together lead out of the root.
   */
  finish(): void {
    for (const path of this.paths) {
      const through = this.symlinkAbove(path);
      if (through !== undefined) {
        throw invalid(`entry ${quoteEntry(path)} goes through the symlink ${quoteEntry(through)}`, path);
      }
    }
    const escaping = findEscapingSymlink(this.links);
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

  private symlinkAbove(path: string): string | undefined {
    return parentPaths(path).find((parent) => this.links.has(parent));
  }

  private admitSymlink(name: string, path: string, target: string | null | undefined): string {
    const quoted = quoteEntry(name);
    if (!target) throw invalid(`entry ${quoted} is a symlink with an empty target`, name);
    if (target.includes('\0')) throw invalid(`entry ${quoted} has a symlink target with a NUL byte`, name);
    if (target.startsWith('/')) {
      throw invalid(`entry ${quoted} is a symlink to the absolute path ${quoteEntry(target)}`, name);
    }
    if (lexicalParts(target, path.split('/').slice(0, -1)) === null) {
      throw invalid(`entry ${quoted} is a symlink that escapes the workspace`, name);
    }
    this.links.set(path, target);
    return target;
  }

  private admitHardLink(name: string, target: string | null | undefined): string {
    const quoted = quoteEntry(name);
    if (!target) throw invalid(`entry ${quoted} is a hard link with an empty target`, name);
    let normalized: string | null;
    try {
      normalized = normalizeEntryPath(target);
    } catch {
      throw invalid(`entry ${quoted} is a hard link to ${quoteEntry(target)}, which escapes the workspace`, name);
    }
    if (normalized === null || !this.files.has(normalized)) {
      throw invalid(
        `entry ${quoted} is a hard link to ${quoteEntry(target)}, which is not an earlier file in the archive`,
        name,
      );
    }
    return normalized;
  }
}

function invalid(message: string, entry: string): WorkspaceRejectedError {
  return new WorkspaceRejectedError('invalid', message, entry);
}

function tooLarge(message: string, entry: string): WorkspaceRejectedError {
  return new WorkspaceRejectedError('too_large', message, entry);
}
