import path from 'node:path';
import type Dockerode from 'dockerode';
import type { Config } from '../config/config.js';

export const RUN_ID_LABEL = 'codex-runner.run-id';
export const INSTANCE_LABEL = 'codex-runner.instance';

/** Paths inside the sandbox; the image (sandbox-image/Dockerfile) prepares them. */
export const WORKSPACE_DIR = '/workspace';
export const HOME_DIR = '/home/codex';
export const CODEX_HOME = '/home/codex/.codex';
export const GATEWAY_MOUNT_DIR = '/run/codex-runner';
export const GATEWAY_SOCKET_NAME = 'gateway.sock';
/** Each run's socket has a directory of its own under this one, in the gateway's directory. */
export const GATEWAY_RUNS_DIR = 'runs';
/** Codex inside the sandbox talks HTTP to this loopback port; socat relays it to the gateway socket. */
export const GATEWAY_LOOPBACK_PORT = 8089;

export type SandboxLimits = Pick<Config['sandbox'], 'memoryMb' | 'cpus' | 'pidsLimit' | 'workspaceMb' | 'tmpMb' | 'homeMb'>;

/** The ids a sandbox's processes and files have (`sandbox.uid`, `sandbox.gid`). */
export interface SandboxIds {
  uid: number;
  gid: number;
}

export interface SandboxSpecInput {
  runId: string;
  instance: string;
  image: string;
  network: string;
  runtime: string;
  limits: SandboxLimits;
  ids: SandboxIds;
  /**
   * Where the run's gateway socket comes from: its own directory on the host, mounted alone, or, when
   * the server is itself in a container, the gateway volume with the run's directory at `runDir`
   * within it (dockerd 20.10 cannot mount a volume's subpath). None when the provider's key is
   * delivered in the environment instead.
   */
  gateway: { kind: 'bind'; hostDir: string } | { kind: 'volume'; volume: string; runDir: string } | null;
}

export interface SandboxSpec {
  volume: Dockerode.VolumeCreateOptions;
  container: Dockerode.ContainerCreateOptions;
}

const MiB = 1024 * 1024;

export function buildSandboxSpec(input: SandboxSpecInput): SandboxSpec {
  const labels = { [RUN_ID_LABEL]: input.runId, [INSTANCE_LABEL]: input.instance };
  const volumeName = `codex-runner-ws-${input.runId}`;
  const { limits, ids } = input;
  // The workspace is a tmpfs-backed volume, not a --tmpfs mount: the archive API cannot see tmpfs
  // mounts, but it writes into a mounted volume once the container runs, and the tmpfs size is a
  // hard cap that writes from inside cannot exceed (ENOSPC).
  const volume: Dockerode.VolumeCreateOptions = {
    Name: volumeName,
    Driver: 'local',
    DriverOpts: { type: 'tmpfs', device: 'tmpfs', o: `size=${limits.workspaceMb}m,uid=${ids.uid},gid=${ids.gid},mode=0700,nosuid,nodev` },
    Labels: labels,
  };
  const mounts: Dockerode.MountSettings[] = [{ Type: 'volume', Source: volumeName, Target: WORKSPACE_DIR }];
  if (input.gateway?.kind === 'bind') mounts.push({ Type: 'bind', Source: input.gateway.hostDir, Target: GATEWAY_MOUNT_DIR, ReadOnly: true });
  if (input.gateway?.kind === 'volume') mounts.push({ Type: 'volume', Source: input.gateway.volume, Target: GATEWAY_MOUNT_DIR, ReadOnly: true });
  const socketPath = input.gateway?.kind === 'volume'
    ? path.posix.join(GATEWAY_MOUNT_DIR, input.gateway.runDir, GATEWAY_SOCKET_NAME)
    : path.posix.join(GATEWAY_MOUNT_DIR, GATEWAY_SOCKET_NAME);
  const container: Dockerode.ContainerCreateOptions = {
    name: `codex-runner-${input.runId}`,
    Image: input.image,
    // PID 1 is tini (the image's entrypoint); the idle process is the relay to the gateway socket,
    // so the sandbox needs no network at all to reach its model provider.
    Cmd: input.gateway
      ? ['socat', `TCP-LISTEN:${GATEWAY_LOOPBACK_PORT},bind=127.0.0.1,reuseaddr,fork`, `UNIX-CONNECT:${socketPath}`]
      : ['sleep', 'infinity'],
    User: `${ids.uid}:${ids.gid}`,
    WorkingDir: WORKSPACE_DIR,
    Env: [`HOME=${HOME_DIR}`, `CODEX_HOME=${CODEX_HOME}`],
    Labels: labels,
    NetworkDisabled: input.network === 'none',
    HostConfig: {
      NetworkMode: input.network,
      CapDrop: ['ALL'],
      SecurityOpt: ['no-new-privileges'],
      Privileged: false,
      ReadonlyRootfs: true,
      IpcMode: 'private',
      Tmpfs: {
        '/tmp': `rw,nosuid,nodev,size=${limits.tmpMb}m,mode=1777`,
        [HOME_DIR]: `rw,nosuid,nodev,size=${limits.homeMb}m,uid=${ids.uid},gid=${ids.gid},mode=0700`,
      },
      Mounts: mounts,
      Memory: limits.memoryMb * MiB,
      MemorySwap: limits.memoryMb * MiB,
      NanoCpus: Math.round(limits.cpus * 1e9),
      PidsLimit: limits.pidsLimit,
      Ulimits: [{ Name: 'core', Soft: 0, Hard: 0 }],
      ...(input.runtime ? { Runtime: input.runtime } : {}),
    },
  };
  return { volume, container };
}
