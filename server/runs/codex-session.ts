import { createReadStream, createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import tar from 'tar-stream';
import { CODEX_HOME, type Sandbox, type SandboxIds } from '../sandbox/driver.js';

/** Where Codex writes its rollouts (`sessions/YYYY/MM/DD/rollout-…-<thread id>.jsonl`), relative to $CODEX_HOME. */
const SESSIONS = 'sessions';

export type SessionSaved = { saved: true; bytes: number } | { saved: false; reason: string };

export interface SessionLimits {
  maxBytes: number;
  /** The sandbox's ids: the next sandbox's Codex appends to the files it is given. */
  owner: SandboxIds;
  signal?: AbortSignal;
}

/**
 * Keeps a frozen sandbox's Codex session (its rollout files) as a tar at `dest`, re-packed from
 * what the run could write: directories and regular files under `sessions/` only, within
 * `maxBytes`. Whatever the session holds is the run's own, and goes only to a follow-up of the
 * same tenant's run; anything else in it (a link, a path outside) means no session is kept.
 */
export async function saveSession(sandbox: Pick<Sandbox, 'getArchive'>, dest: string, limits: SessionLimits): Promise<SessionSaved> {
  const partial = `${dest}.partial`;
  try {
    const source = await sandbox.getArchive(`${CODEX_HOME}/${SESSIONS}`, limits.signal);
    const bytes = await repack(source, partial, limits);
    await rename(partial, dest);
    return { saved: true, bytes };
  } catch (err) {
    await rm(partial, { force: true });
    if (limits.signal?.aborted) throw limits.signal.reason;
    if (err instanceof SessionRefusedError) return { saved: false, reason: err.message };
    throw err;
  }
}

/**
 * The session of a sandbox whose Codex started a thread, kept at `dest`; false when there is none
 * or it cannot be kept (said in the log: the run itself is not failed for it).
 */
export async function keepSession(
  sandbox: Pick<Sandbox, 'getArchive'>,
  threadId: string | null,
  dest: string,
  limits: SessionLimits,
  log: Pick<Logger, 'warn'>,
): Promise<boolean> {
  if (threadId === null) return false;
  try {
    const kept = await saveSession(sandbox, dest, limits);
    if (!kept.saved) log.warn({ reason: kept.reason }, 'Codex\'s session was not kept: the run has no follow-ups');
    return kept.saved;
  } catch (err) {
    if (limits.signal?.aborted) throw err;
    log.warn({ err }, 'could not read Codex\'s session: the run has no follow-ups');
    return false;
  }
}

/** Puts a kept session where the sandbox's Codex looks for it (`codex exec resume <thread id>`). */
export async function restoreSession(sandbox: Pick<Sandbox, 'putArchive'>, session: string, signal?: AbortSignal): Promise<void> {
  await sandbox.putArchive(createReadStream(session), CODEX_HOME, signal);
}

class SessionRefusedError extends Error {}

async function repack(source: Readable, dest: string, limits: SessionLimits): Promise<number> {
  const extract = tar.extract();
  const pack = tar.pack();
  let bytes = 0;
  const written = pipeline(pack, createWriteStream(dest, { mode: 0o600 }));
  written.catch(() => {}); // awaited below; a failure before then is not unhandled
  const read = (async () => {
    for await (const entry of extract) {
      const { name, type, size = 0, mtime } = entry.header;
      const relative = sessionPath(name);
      if (relative === null) throw new SessionRefusedError(`the session holds ${JSON.stringify(name.slice(0, 120))}, which is not a path under ${SESSIONS}/`);
      const owner = { uid: limits.owner.uid, gid: limits.owner.gid, mtime };
      if (type === 'directory') {
        pack.entry({ name: relative, type: 'directory', mode: 0o700, ...owner });
        entry.resume();
      } else if (type === 'file') {
        bytes += size;
        if (bytes > limits.maxBytes) throw new SessionRefusedError(`the session passes limits.session_max_mb (${limits.maxBytes} bytes)`);
        await pipeline(entry, pack.entry({ name: relative, type: 'file', mode: 0o600, size, ...owner }));
      } else {
        throw new SessionRefusedError(`the session holds ${JSON.stringify(name.slice(0, 120))}, a ${type}, where only files and directories go`);
      }
    }
    pack.finalize();
  })();
  try {
    await Promise.all([pipeline(source, extract), read]);
    await written;
    return bytes;
  } catch (err) {
    source.destroy();
    pack.destroy();
    // The file is opened asynchronously: it must be closed (or never opened) before the caller removes it.
    await written.catch(() => {});
    throw err;
  }
}

/** The entry's name as `sessions/…`, normalised; null when it is not under it. */
function sessionPath(name: string): string | null {
  const normal = path.posix.normalize(name.replace(/\/+$/, ''));
  if (normal !== SESSIONS && !normal.startsWith(`${SESSIONS}/`)) return null;
  return normal.split('/').some((part) => part === '..' || part === '') ? null : normal;
}
