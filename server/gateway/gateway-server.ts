import { randomBytes } from 'node:crypto';
import { chmod, chown, lstat, mkdir, rm } from 'node:fs/promises';
import type { Server } from 'node:http';
import path from 'node:path';
import { createAdaptorServer } from '@hono/node-server';
import type { Logger } from 'pino';
import { GATEWAY_SOCKET_NAME } from '../sandbox/driver.js';

/** Each run's socket has a directory of its own under this one. */
const GATEWAY_RUNS_DIR = 'runs';
/**
 * How often a run's socket file is checked. A listener whose file was unlinked (a cleaner of the
 * data dir, an operator) still listens, but nothing can connect to it: Codex would only retry.
 */
const SOCKET_CHECK_MS = 1_000;
import type { GatewayBindings } from './gateway-app.js';
import { guardListener, lingerOnUnreadBodies } from './listener-guards.js';

/** The gateway app as a listener needs it: it is told which run's socket a request came in on. */
export interface GatewayFetch {
  fetch(request: Request, env: GatewayBindings): Response | Promise<Response>;
}

/** One run's own listener, in a directory holding nothing else. */
export interface RunSocket extends AsyncDisposable {
  /** The run's directory on the server's filesystem: `<gateway dir>/runs/<runId>`. */
  dir: string;
  /** The same directory relative to the gateway directory, as a sandbox finds it in a shared volume. */
  subdir: string;
  socketPath: string;
  /** Stops listening, cuts the run's open connections and removes the directory; idempotent. */
  close(): Promise<void>;
}

/**
 * A run directory made before its run is known, for a sandbox created ahead (the warm pool): the
 * sandbox bind-mounts it, so a run that claims the sandbox listens in it, never in a new one.
 */
export interface ReservedSocketDir {
  dir: string;
  subdir: string;
  /** Removes the directory if no run listens in it; idempotent. */
  release(): Promise<void>;
}

export interface GatewaySockets extends AsyncDisposable {
  dir: string;
  /** False when the sockets could not be given to the sandboxes' group alone (the server is not root). */
  restricted: boolean;
  /**
   * Opens `runId`'s listener, on which only that run's token is accepted, in a directory of its own
   * or in `reserved` (which it then owns). The caller owns the socket. `onLost` is told, once, when
   * its socket file is removed or replaced while it is open.
   */
  listen(runId: string, reserved?: ReservedSocketDir, onLost?: (why: string) => void): Promise<RunSocket>;
  /** Makes an empty run directory for a sandbox whose run is not known yet. */
  reserve(): Promise<ReservedSocketDir>;
  /** Closes every listener still open (a run that has not ended yet) and refuses new ones. */
  close(): Promise<void>;
}

// A run id becomes a directory name: nothing that could climb out of runs/ or hide in it.
const RUN_ID = /^[A-Za-z0-9_-]{1,128}$/;

/**
 * Serves the gateway app on one Unix socket per run, `<socketDir>/runs/<runId>/gateway.sock`, each
 * connectable by the sandboxes' group only (`sandboxGid`): no host user can reach them, a sandbox
 * that mounts only its own directory sees no other, and one that mounts them all (a shared volume)
 * can neither list runs/ nor use another run's token. A server that may not give files to that group
 * (not root) falls back to sockets anyone on the host may connect to, the token binding being the check.
 */
export async function openGatewaySockets(app: GatewayFetch, socketDir: string, sandboxGid: number, log: Logger): Promise<GatewaySockets> {
  const restricted = await prepareDir(socketDir, sandboxGid);
  // The single socket of earlier versions, still visible to sandboxes if the gateway dir is a volume.
  await rm(path.join(socketDir, GATEWAY_SOCKET_NAME), { force: true });
  const runsDir = path.join(socketDir, GATEWAY_RUNS_DIR);
  // Whatever is in runs/ was left by a server that did not stop: no run of this one owns it.
  await rm(runsDir, { recursive: true, force: true });
  await prepareDir(runsDir, sandboxGid);

  const open = new Map<string, RunSocket>();
  let closed = false;

  const reserved = new Set<string>();

  async function reserve(): Promise<ReservedSocketDir> {
    if (closed) throw new Error('the gateway is closed');
    const subdir = path.posix.join(GATEWAY_RUNS_DIR, `pool_${randomBytes(9).toString('base64url')}`);
    const dir = path.join(socketDir, subdir);
    reserved.add(subdir);
    await runDir(dir);
    let released: Promise<void> | null = null;
    const release = () =>
      (released ??= (async () => {
        if (!reserved.delete(subdir)) return;
        await rm(dir, { recursive: true, force: true });
      })());
    return { dir, subdir, release };
  }

  // 0750, not 0710: the sandbox may list its own directory, which holds its socket and nothing else.
  const runDir = (dir: string) => prepareDir(dir, sandboxGid, 0o750);

  async function listen(runId: string, inReserved?: ReservedSocketDir, onLost?: (why: string) => void): Promise<RunSocket> {
    if (closed) throw new Error('the gateway is closed');
    if (!RUN_ID.test(runId)) throw new Error(`not a run id: ${JSON.stringify(runId).slice(0, 40)}`);
    if (open.has(runId)) throw new Error(`run ${runId} already has a gateway socket`);
    // Taken from the reserved set at once: a release that comes later leaves the run's directory alone.
    if (inReserved && !reserved.delete(inReserved.subdir)) throw new Error(`socket directory ${inReserved.subdir} is not reserved`);
    const subdir = inReserved?.subdir ?? path.posix.join(GATEWAY_RUNS_DIR, runId);
    const dir = path.join(socketDir, subdir);
    const socketPath = path.join(dir, GATEWAY_SOCKET_NAME);
    const server = createAdaptorServer({ fetch: (request: Request) => app.fetch(request, { socketRunId: runId }) }) as Server;
    guardListener(server, log.child({ runId }));
    lingerOnUnreadBodies(server);
    const ready = (async () => {
      // A reserved directory is kept: a sandbox has it bind-mounted, and a new one would be another inode.
      if (!inReserved) {
        await rm(dir, { recursive: true, force: true });
        await runDir(dir);
      }
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(socketPath, () => {
          server.off('error', reject);
          resolve();
        });
      });
      if (restricted) await chown(socketPath, -1, sandboxGid);
      await chmod(socketPath, restricted ? 0o660 : 0o666);
    })();
    let closing: Promise<void> | null = null;
    let watch: NodeJS.Timeout | undefined;
    // Waits for an opening still under way, so a close that comes early (shutdown) leaves nothing behind.
    const close = () =>
      (closing ??= (async () => {
        clearInterval(watch);
        open.delete(runId);
        await ready.catch(() => {});
        if (server.listening) {
          await new Promise<void>((resolve) => {
            server.close(() => resolve());
            server.closeAllConnections();
          });
        }
        await rm(dir, { recursive: true, force: true });
      })());
    const socket: RunSocket = { dir, subdir, socketPath, close, [Symbol.asyncDispose]: close };
    open.set(runId, socket);
    try {
      await ready;
    } catch (err) {
      await close().catch((closeErr) => log.error({ err: closeErr, runId }, 'could not remove a gateway socket that failed to open'));
      throw err;
    }
    if (closing) throw new Error('the gateway closed while the socket opened');
    if (onLost) watch = watchSocketFile(socketPath, () => closing !== null, (why) => {
      clearInterval(watch);
      log.error({ runId, socketPath }, why);
      onLost(why);
    });
    return socket;
  }

  let closingAll: Promise<void> | null = null;
  const close = () =>
    (closingAll ??= (async () => {
      closed = true;
      const left = [...open.values()];
      if (left.length) log.warn({ sockets: left.length }, 'closing gateway sockets of runs that had not ended');
      await Promise.all(left.map((s) => s.close()));
      await rm(runsDir, { recursive: true, force: true });
    })());
  return { dir: socketDir, restricted, listen, reserve, close, [Symbol.asyncDispose]: close };
}

/** Checks on a timer that `socketPath` is still the file the listener made; calls `lost` (until cleared) when it is not. */
function watchSocketFile(socketPath: string, closed: () => boolean, lost: (why: string) => void): NodeJS.Timeout {
  let made: { dev: number; ino: number } | undefined;
  let checking = false;
  const check = async () => {
    if (checking) return;
    checking = true;
    try {
      const now = await lstat(socketPath).catch((err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? null : undefined));
      if (closed() || now === undefined) return;
      made ??= now ? { dev: now.dev, ino: now.ino } : undefined;
      if (!now) lost(`the run's gateway socket ${socketPath} was removed while the run ran: Codex could no longer reach its provider`);
      else if (now.dev !== made!.dev || now.ino !== made!.ino || !now.isSocket()) {
        lost(`the run's gateway socket ${socketPath} was replaced while the run ran: Codex could no longer reach its provider`);
      }
    } finally {
      checking = false;
    }
  };
  void check();
  const timer = setInterval(() => void check(), SOCKET_CHECK_MS);
  timer.unref();
  return timer;
}

/** Gives `dir` to the sandboxes' group alone (traversable, not listable by default), or to all when not root; says which. */
async function prepareDir(dir: string, sandboxGid: number, mode = 0o710): Promise<boolean> {
  await mkdir(dir, { recursive: true });
  const restricted = await chown(dir, -1, sandboxGid).then(() => true, () => false);
  await chmod(dir, restricted ? mode : 0o755);
  return restricted;
}
