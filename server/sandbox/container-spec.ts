import path from 'node:path';
import type Dockerode from 'dockerode';
import { EGRESS_SOCKET_NAME, SANDBOX_EGRESS_PORT } from '../domain/sandbox-egress.js';
import { MAIN_COMMAND } from './main-request.js';
import { CODEX_HOME, COLLECT_CODEX_HOME, COLLECT_WORKSPACE, GATEWAY_SOCKET_NAME, HOME_DIR, SANDBOX_GATEWAY_PORT, WORKSPACE_DIR, type SandboxRequest } from './driver.js';

export const RUN_ID_LABEL = 'codex-runner.run-id';
export const INSTANCE_LABEL = 'codex-runner.instance';
export const TENANT_LABEL = 'codex-runner.tenant';
export const EXPIRES_LABEL = 'codex-runner.expires-at';

export const GATEWAY_MOUNT_DIR = '/run/codex-runner';

/** A run's container name: a pooled one is renamed to it when its run claims it. */
export const sandboxName = (runId: string) => `codex-runner-${runId}`;

/** What this Docker engine's sandboxes have in common, beyond one run's request. */
export interface DockerPlacement {
  /** The server instance: labels every sandbox, so a sweep takes only this instance's. */
  instance: string;
  /**
   * When the server itself runs in a container, the volume holding the gateway's directory, which a
   * sandbox then mounts whole (dockerd 20.10 mounts no volume subpath); empty: each sandbox
   * bind-mounts its run's own directory, a host path.
   */
  gatewayVolume: string;
}

export interface SandboxSpec {
  /** The workspace's volume: the one the workspace reader mounts. */
  volume: Dockerode.VolumeCreateOptions;
  /** Codex's home (CODEX_HOME), where its session is written: a volume, so the archive API reads it from a frozen sandbox. */
  codexHomeVolume: Dockerode.VolumeCreateOptions;
  container: Dockerode.ContainerCreateOptions;
}

const MiB = 1024 * 1024;

/** The Docker translation of a sandbox request: the workspace's and Codex's home's volumes and the container. */
export function buildSandboxSpec(input: SandboxRequest, placement: DockerPlacement): SandboxSpec {
  const labels = {
    [RUN_ID_LABEL]: input.runId,
    [INSTANCE_LABEL]: placement.instance,
    [TENANT_LABEL]: input.tenant,
    [EXPIRES_LABEL]: input.expiresAt.toISOString(),
  };
  const { limits, ids, gateway } = input;
  // The workspace is a tmpfs-backed volume, not a --tmpfs mount: the archive API cannot see tmpfs
  // mounts, but it writes into a mounted volume once the container runs, and the tmpfs size is a
  // hard cap that writes from inside cannot exceed (ENOSPC).
  const tmpfsVolume = (name: string, sizeMb: number): Dockerode.VolumeCreateOptions => ({
    Name: name,
    Driver: 'local',
    DriverOpts: { type: 'tmpfs', device: 'tmpfs', o: `size=${sizeMb}m,uid=${ids.uid},gid=${ids.gid},mode=0700,nosuid,nodev` },
    Labels: labels,
  });
  const volume = tmpfsVolume(`codex-runner-ws-${input.runId}`, limits.workspaceMb);
  // Codex's session goes out of a frozen sandbox (a follow-up resumes it) and into the next one
  // before Codex starts: both through the archive API, which a --tmpfs mount would hide.
  const codexHomeVolume = tmpfsVolume(`codex-runner-home-${input.runId}`, limits.homeMb);
  const mounts: Dockerode.MountSettings[] = [
    { Type: 'volume', Source: volume.Name!, Target: WORKSPACE_DIR },
    { Type: 'volume', Source: codexHomeVolume.Name!, Target: CODEX_HOME },
    { Type: 'volume', Source: volume.Name!, Target: COLLECT_WORKSPACE },
    { Type: 'volume', Source: codexHomeVolume.Name!, Target: COLLECT_CODEX_HOME },
  ];
  if (gateway && placement.gatewayVolume) mounts.push({ Type: 'volume', Source: placement.gatewayVolume, Target: GATEWAY_MOUNT_DIR, ReadOnly: true });
  else if (gateway) mounts.push({ Type: 'bind', Source: gateway.socketDir, Target: GATEWAY_MOUNT_DIR, ReadOnly: true });
  const runDir = gateway && placement.gatewayVolume ? path.posix.join(GATEWAY_MOUNT_DIR, gateway.relativeDir) : GATEWAY_MOUNT_DIR;
  const socketPath = path.posix.join(runDir, GATEWAY_SOCKET_NAME);
  // The egress proxy's socket sits beside the gateway's, in the directory the sandbox mounts already.
  if (input.egressProxy && !gateway) throw new Error('an egress proxy is reached through the gateway\'s socket directory: the sandbox needs a gateway');
  const relays = [
    ...(gateway ? [String(SANDBOX_GATEWAY_PORT), socketPath] : []),
    ...(input.egressProxy ? [String(SANDBOX_EGRESS_PORT), path.posix.join(runDir, EGRESS_SOCKET_NAME)] : []),
  ];
  const container: Dockerode.ContainerCreateOptions = {
    name: sandboxName(input.runId),
    Image: input.image,
    // PID 1 is tini (the image's entrypoint); the main process relays the gateway's socket (and the
    // egress proxy's) to loopback ports, so the sandbox needs no network at all to reach its model
    // provider, then runs the sandbox's one command, given on its stdin, and the sandbox stops with it.
    Cmd: [MAIN_COMMAND, ...relays],
    // Its stdin is the server's alone, attached before the start; its end is the command's stdin's end.
    OpenStdin: true,
    StdinOnce: true,
    AttachStdin: true,
    AttachStdout: true,
    AttachStderr: true,
    User: `${ids.uid}:${ids.gid}`,
    WorkingDir: WORKSPACE_DIR,
    // The proxy variables are not the container's: they go to the exec of a phase whose policy is
    // "allowlist" only (runs/phase-network.ts), so a phase without it does not even try the proxy.
    Env: [`HOME=${HOME_DIR}`, `CODEX_HOME=${CODEX_HOME}`],
    Labels: labels,
    // A sandbox with a phase network is created on it and taken off it before it starts (Docker
    // cannot add a network to one made with "none"): it starts with loopback only, like "none".
    NetworkDisabled: !input.phaseNetwork && input.network === 'none',
    HostConfig: {
      NetworkMode: input.phaseNetwork || input.network,
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
      // What the command prints goes to the server through the attach, not into a log file of the engine's.
      LogConfig: { Type: 'none', Config: {} },
      ...(input.runtime ? { Runtime: input.runtime } : {}),
    },
  };
  return { volume, codexHomeVolume, container };
}
