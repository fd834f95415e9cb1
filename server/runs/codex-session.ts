import { createReadStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import type { Logger } from 'pino';
import { TarFileWriter } from '../archive/tar-file-writer.js';
import { CODEX_HOME, type Sandbox, type SandboxIds } from '../sandbox/driver.js';
import type { Fed, TarBody, TarConsumer } from '../tree-diff/tar-consumers.js';
import type { TarEntry } from '../tree-diff/tar-reader.js';

/** Where Codex writes its rollouts (`sessions/YYYY/MM/DD/rollout-…-<thread id>.jsonl`), relative to $CODEX_HOME. */
const SESSIONS = 'sessions';

export type SessionSaved = { saved: true; bytes: number } | { saved: false; reason: string };

export interface SessionLimits {
  maxBytes: number;
  /** The sandbox's ids: the next sandbox's Codex appends to the files it is given. */
  owner: SandboxIds;
  signal?: AbortSignal;
}

export interface SessionToKeep {
  dest: string;
  limits: SessionLimits;
}

/** Whether the session was kept; why not, in the log. */
export function sessionKept(kept: SessionSaved, log: Pick<Logger, 'warn'>): boolean {
  if (!kept.saved) log.warn({ reason: kept.reason }, 'Codex\'s session was not kept: the run has no follow-ups');
  return kept.saved;
}

/**
 * Keeps a frozen sandbox's Codex session (its rollout files) as a tar at `dest`, re-packed from
 * what the run could write: directories and regular files under `sessions/` only, within
 * `maxBytes`. Whatever the session holds is the run's own, and goes only to a follow-up of the
 * same tenant's run; anything else in it (a link, a path that climbs) means no session is kept.
 *
 * It is one consumer of a tar parsed once for several (`feedTar`): it takes the entries
 * under `home` (the tar's name for $CODEX_HOME; '' when the tar is of `sessions/` itself), keeps
 * what is under `sessions/` and passes over the rest of Codex's files. It stops at the first entry
 * after them, or at one before them that is no parent of them: it never holds a read open.
 */
export class SessionKeeper implements TarConsumer {
  private readonly partial: string;
  private readonly out: TarFileWriter;
  private readonly home: string;
  private bytes = 0;
  private entered = false;
  private found = false;

  constructor(
    private readonly dest: string,
    home: string,
    private readonly limits: SessionLimits,
  ) {
    this.home = home === '' || home.endsWith('/') ? home : `${home}/`;
    this.partial = `${dest}.partial`;
    this.out = new TarFileWriter(this.partial, limits.signal);
  }

  async entry(entry: TarEntry): Promise<TarBody | null | 'stop'> {
    // latin1: byte for byte, and the separators are ASCII.
    const name = entry.path.toString('latin1');
    const relative = `${name}/`.startsWith(this.home) ? name.slice(this.home.length) : null;
    if (relative === null) return this.entered || !this.home.startsWith(`${name}/`) ? 'stop' : null;
    this.entered = true;
    const kept = relative === '' ? null : sessionPath(relative);
    if (kept === null) return null;
    this.found = true;
    const owner = { uid: this.limits.owner.uid, gid: this.limits.owner.gid, mtimeS: entry.mtimeS, uname: NO_NAME, gname: NO_NAME, linkPath: null };
    const path = Buffer.from(kept, 'latin1');
    if (entry.type === 'directory') {
      await this.out.entry({ path, type: 'directory', mode: 0o700, size: 0, ...owner });
      return null;
    }
    if (entry.type !== 'file') throw new SessionRefusedError(`the session holds ${JSON.stringify(name.slice(0, 120))}, a ${entry.type}, where only files and directories go`);
    this.bytes += entry.size;
    if (this.bytes > this.limits.maxBytes) throw new SessionRefusedError(`the session passes limits.session_max_mb (${this.limits.maxBytes} bytes)`);
    await this.out.entry({ path, type: 'file', mode: 0o600, size: entry.size, ...owner });
    const { out } = this;
    return { write: (chunk) => out.body(chunk), end: () => out.endBody(entry.size) };
  }

  /** Once the tar is read: the session put at `dest`, or why there is none (and no file). */
  async settle(fed: Fed): Promise<SessionSaved> {
    try {
      if (!fed.ok) throw fed.error;
      if (!this.found) throw new SessionRefusedError(`Codex wrote no ${SESSIONS}/ directory`);
      await this.out.finish();
      await rename(this.partial, this.dest);
      return { saved: true, bytes: this.bytes };
    } catch (err) {
      await this.discard();
      if (err instanceof SessionRefusedError) return { saved: false, reason: err.message };
      throw err;
    }
  }

  async discard(): Promise<void> {
    // The file is opened asynchronously: it must be closed (or never opened) before it is removed.
    await this.out.destroy();
    await rm(this.partial, { force: true });
  }
}

const NO_NAME = Buffer.alloc(0);

/** Puts a kept session where the sandbox's Codex looks for it (`codex exec resume <thread id>`). */
export async function restoreSession(sandbox: Pick<Sandbox, 'putArchive'>, session: string, signal?: AbortSignal): Promise<void> {
  await sandbox.putArchive(createReadStream(session), CODEX_HOME, signal);
}

class SessionRefusedError extends Error {}

/**
 * A name under $CODEX_HOME as `sessions/…`, normalised; null when it is Codex's other files. A
 * name that climbs (`..`) is refused: a tar of a real tree never has one.
 */
function sessionPath(relative: string): string | null {
  const trimmed = relative.replace(/\/+$/, '');
  if (trimmed.split('/').some((part) => part === '..' || part === '.' || part === '')) {
    throw new SessionRefusedError(`the session holds ${JSON.stringify(trimmed.slice(0, 120))}, which is not a path under ${SESSIONS}/`);
  }
  return trimmed === SESSIONS || trimmed.startsWith(`${SESSIONS}/`) ? trimmed : null;
}
