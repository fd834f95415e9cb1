// The floor: one hardened container doing what a run needs at minimum, with nothing of the service:
// no workspace volume, no upload, no baseline commit, no diff, no export. The gateway is a plain
// byte forwarder from a Unix socket to the stand-in, so only the container and Codex cost time.
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { createConnection, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Dockerode from 'dockerode';
import type { Config } from '../../server/config/config.js';
import { GATEWAY_TOKEN_ENV } from '../../server/provider-access/index.js';
import { buildCodexArgv, buildCodexConfigToml } from '../../server/sandbox/codex-invocation.js';
import { GATEWAY_MOUNT_DIR } from '../../server/sandbox/container-spec.js';
import { CODEX_HOME, GATEWAY_SOCKET_NAME, HOME_DIR, SANDBOX_GATEWAY_PORT as GATEWAY_LOOPBACK_PORT, SANDBOX_GATEWAY_URL, WORKSPACE_DIR } from '../../server/sandbox/driver.js';

/** Labels the floor's containers (value: the bench's id), and only them: never the service's run-id label. */
export const FLOOR_LABEL = 'codex-runner-bench.floor';
/** What the floor's containers share with every sandbox: no network, no capability, no privilege gained, a read-only root. */
export const FLOOR_HARDENING = { NetworkMode: 'none', CapDrop: ['ALL'], SecurityOpt: ['no-new-privileges'], ReadonlyRootfs: true };
const MiB = 1024 * 1024;

// Starts the relay, waits until it listens (bash's /dev/tcp; the image has no nc), writes the
// config, then execs the argv given as positional parameters, exactly the service's Codex argv,
// whose last argument `-` reads the prompt from stdin, as the service writes it to the exec's stdin.
const SHELL = [
  `socat TCP-LISTEN:${GATEWAY_LOOPBACK_PORT},bind=127.0.0.1,reuseaddr,fork UNIX-CONNECT:${GATEWAY_MOUNT_DIR}/${GATEWAY_SOCKET_NAME} &`,
  `until (exec 3<>/dev/tcp/127.0.0.1/${GATEWAY_LOOPBACK_PORT}) 2>/dev/null; do sleep 0.01; done`,
  'mkdir -p "$CODEX_HOME" && printf %s "$BENCH_CODEX_CONFIG" > "$CODEX_HOME/config.toml"',
  'exec "$@" < <(printf %s "$BENCH_PROMPT")',
].join('\n');

export interface Floor extends AsyncDisposable {
  /** Runs the prompt in a fresh container and removes it; resolves with Codex's stdout (JSONL). */
  run(prompt: string): Promise<string>;
  close(): Promise<void>;
}

export async function startFloor(docker: Dockerode, config: Config, upstreamUrl: string, benchId: string): Promise<Floor> {
  const upstream = new URL(upstreamUrl);
  const dir = await mkdtemp(path.join(tmpdir(), 'codex-runner-bench-floor-'));
  let forwarder: Server | undefined;
  try {
    await chmod(dir, 0o755); // the sandbox user (uid 1000) must reach the socket
    forwarder = await listenForwarder(path.join(dir, GATEWAY_SOCKET_NAME), upstream.hostname, Number(upstream.port));
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  const codexConfig = buildCodexConfigToml({ model: config.defaults.model, provider: { name: 'floor via codex-runner', baseUrl: SANDBOX_GATEWAY_URL, envKey: GATEWAY_TOKEN_ENV, headers: {}, queryParams: {} } });
  const { sandbox: limits } = config;

  const run = async (prompt: string): Promise<string> => {
    const container = await docker.createContainer({
      Image: config.sandbox.image,
      Cmd: ['bash', '-c', SHELL, 'floor', ...buildCodexArgv()],
      User: `${config.sandbox.uid}:${config.sandbox.gid}`,
      WorkingDir: WORKSPACE_DIR,
      Env: [`HOME=${HOME_DIR}`, `CODEX_HOME=${CODEX_HOME}`, `BENCH_CODEX_CONFIG=${codexConfig}`, `BENCH_PROMPT=${prompt}`, `${GATEWAY_TOKEN_ENV}=floor`],
      Labels: { [FLOOR_LABEL]: benchId },
      NetworkDisabled: true,
      HostConfig: {
        ...FLOOR_HARDENING,
        // The same limits as the service's sandbox, so CPU quota and memory do not favour one side.
        Memory: limits.memoryMb * MiB,
        MemorySwap: limits.memoryMb * MiB,
        NanoCpus: Math.round(limits.cpus * 1e9),
        PidsLimit: limits.pidsLimit,
        Tmpfs: {
          '/tmp': `rw,nosuid,nodev,size=${limits.tmpMb}m,mode=1777`,
          [HOME_DIR]: `rw,nosuid,nodev,size=${limits.homeMb}m,uid=${limits.uid},gid=${limits.gid},mode=0700`,
          // The script writes a file: the floor's workspace is a plain tmpfs (the service uses a volume).
          [WORKSPACE_DIR]: `rw,nosuid,nodev,size=${limits.workspaceMb}m,uid=${limits.uid},gid=${limits.gid},mode=0700`,
        },
        Binds: [`${dir}:${GATEWAY_MOUNT_DIR}:ro`],
      },
    });
    try {
      await container.start();
      const { StatusCode } = await container.wait();
      const logs = (await container.logs({ stdout: true, stderr: true })).toString('utf8');
      if (StatusCode !== 0) throw new Error(`floor container exited with ${StatusCode}: ${logs.slice(-500)}`);
      return logs;
    } finally {
      await container.remove({ force: true });
    }
  };

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      await new Promise<void>((resolve) => forwarder!.close(() => resolve()));
      await rm(dir, { recursive: true, force: true });
    })());
  return { run, close, [Symbol.asyncDispose]: close };
}

function listenForwarder(socketPath: string, host: string, port: number): Promise<Server> {
  const server = createServer((client) => {
    const upstream = createConnection(port, host);
    const drop = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream).pipe(client);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => chmod(socketPath, 0o666).then(() => resolve(server), reject));
  });
}
