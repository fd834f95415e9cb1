import type { Readable, Writable } from 'node:stream';

/** Paths every sandbox has, whatever runs it; the image (sandbox-image/Dockerfile) prepares them. */
export const WORKSPACE_DIR = '/workspace';
export const HOME_DIR = '/home/codex';
export const CODEX_HOME = '/home/codex/.codex';
/**
 * The workspace and Codex's home again, side by side (the same volumes, mounted twice), so that one
 * archive read takes both when the run ends: each read of Docker's archive API re-executes dockerd
 * (`docker-tar`), ~65 ms and as much of the engine's CPU here, and reads of one container queue.
 * Entries in such a read are named `.cr/ws/…` and `.cr/home/…`; `home` sorts before `ws`, so
 * Codex's files come first. Short: Docker's tar walks the full path, so the workspace's alias must
 * be no longer than WORKSPACE_DIR, or a path at the limit the workspace holds could not be read.
 */
export const COLLECT_DIR = '/.cr';
export const COLLECT_WORKSPACE = `${COLLECT_DIR}/ws`;
export const COLLECT_CODEX_HOME = `${COLLECT_DIR}/home`;
/** Inside a sandbox given a gateway endpoint, the gateway answers here (the driver relays it). */
export const SANDBOX_GATEWAY_PORT = 8089;
export const SANDBOX_GATEWAY_URL = `http://127.0.0.1:${SANDBOX_GATEWAY_PORT}/v1`;

export interface SandboxLimits {
  memoryMb: number;
  cpus: number;
  pidsLimit: number;
  /** The workspace's hard cap: writes past it fail (ENOSPC). */
  workspaceMb: number;
  tmpMb: number;
  homeMb: number;
}

/** The ids a sandbox's processes and files have (`sandbox.uid`, `sandbox.gid`). */
export interface SandboxIds {
  uid: number;
  gid: number;
}

/** The name of the gateway's Unix socket in a GatewayEndpoint's directory. */
export const GATEWAY_SOCKET_NAME = 'gateway.sock';

/** Where a run's gateway listens on the server's host: a directory holding its Unix socket. */
export interface GatewayEndpoint {
  /** Host path of the directory that holds `gateway.sock`. */
  socketDir: string;
  /** The same directory relative to the gateway's root directory. */
  relativeDir: string;
}

/** What a run asks of a sandbox, whatever backend gives it (Docker today; others behind SandboxDriver). */
export interface SandboxRequest {
  runId: string;
  tenant: string;
  image: string;
  /** The engine's default when empty; e.g. `runsc` (gVisor) where the engine has it. */
  runtime: string;
  limits: SandboxLimits;
  ids: SandboxIds;
  /** Egress: `none`, or a network the backend knows by that name. */
  network: string;
  /**
   * A network the sandbox joins and leaves per phase (joinNetwork, leaveNetwork); it starts outside
   * it, with no interface but loopback. Null when no phase needs one; `network` is then what it has.
   */
  phaseNetwork?: string | null;
  /** How the sandbox reaches its run's gateway; null when Codex calls the provider itself. */
  gateway: GatewayEndpoint | null;
  /**
   * Whether the sandbox also relays 127.0.0.1:SANDBOX_EGRESS_PORT to the run's egress proxy (its
   * socket beside the gateway's, so it needs `gateway`). The proxy variables are not the
   * sandbox's: the execs of a phase that uses the proxy carry them (SANDBOX_PROXY_ENV).
   */
  egressProxy?: boolean;
  /** Past this the sandbox is an orphan, whoever made it: a sweep may remove it. */
  expiresAt: Date;
}

export interface ExecOptions {
  env?: string[];
  /**
   * Called as soon as the process has exited, which may be before its output ends: a process it
   * left behind can hold its stdout open. exec() then waits a short while for the output to end
   * and returns the exit code either way.
   */
  onExit?: () => void | Promise<void>;
  /** Written to the process's stdin, which is then closed. Without it stdin is /dev/null. */
  stdin?: string | Readable;
  stdout?: Writable;
  stderr?: Writable;
  signal?: AbortSignal;
}

/** A started sandbox. remove() is idempotent and always safe to call. */
export interface Sandbox extends AsyncDisposable {
  /** The backend's id for it (a container id), for logs. */
  readonly id: string;
  putArchive(tar: Readable, dir: string, signal?: AbortSignal): Promise<void>;
  /**
   * A tar of `path`, names relative to its parent. Once the main command has ended, the first read
   * of COLLECT_DIR may be the sandbox's own tar of it, which fails with a SandboxTreeError when that
   * tar did: a read after it goes to the backend's archive.
   */
  getArchive(path: string, signal?: AbortSignal): Promise<Readable>;
  /**
   * Reads the workspace of a frozen sandbox as a tar (names `workspace/…`, as getArchive's),
   * leaving out the regular files that would take the files' apparent bytes past `maxBytes`:
   * getArchive cannot skip a file, and a sparse one can be any size. Costs a short-lived
   * container, so it is for when getArchive met such a file.
   */
  readWorkspaceWithin(maxBytes: number, signal?: AbortSignal): Promise<BoundedTree>;
  /** Runs a command to completion and returns its exit code. */
  exec(argv: string[], options?: ExecOptions): Promise<number>;
  /**
   * Runs the sandbox's one main command (Codex) and returns its exit code once the sandbox has
   * stopped with it: every process the command left is gone then, and the files stay readable.
   * Once per sandbox; no exec runs after it. The sandbox stands ready for it from its start, so
   * nothing is started on the way to it.
   */
  runMain(argv: string[], options?: ExecOptions): Promise<number>;
  /**
   * Stops every process of the sandbox at once (the cgroup freezer), or finds them gone with the
   * main command; files stay readable. Idempotent.
   */
  freeze(): Promise<void>;
  /**
   * Why the sandbox is no longer running, as the error its run ends with (`sandbox_stopped`, or
   * `docker_unreachable` when the engine stopped it), or null while it runs (given `settleMs` to
   * finish stopping).
   */
  stopReason(settleMs?: number): Promise<SandboxError | null>;
  /** Gives the sandbox an interface on its request's `phaseNetwork`; throws when it cannot. */
  joinNetwork(signal?: AbortSignal): Promise<void>;
  /** Takes that interface away again; throws when it cannot (the run must then not go on). */
  leaveNetwork(signal?: AbortSignal): Promise<void>;
  /** Whether the kernel killed a process of the sandbox for want of memory. */
  ranOutOfMemory(): Promise<boolean>;
  remove(): Promise<void>;
  /**
   * Names a sandbox made before its run (the warm pool's) after the run that took it, where the
   * backend can: an operator finds a run's sandbox by its run id.
   */
  assign(runId: string): Promise<void>;
}

export interface BoundedTree {
  tar: Readable;
  /** The names left out, raw, as the tar would have had them; settles once the reader is gone. */
  leftOut: Promise<Buffer[]>;
}

export interface SweepResult {
  containers: number;
  volumes: number;
}

export interface SandboxDriver {
  ping(signal?: AbortSignal): Promise<void>;
  hasImage(image: string): Promise<boolean>;
  /** Creates the workspace volume and the container and starts it; cleans up itself if any step fails. */
  start(request: SandboxRequest, signal?: AbortSignal): Promise<Sandbox>;
  /** Removes this server instance's sandboxes (and what belongs to them), but those of the runs `keep` names. */
  sweep(keep?: (runId: string) => boolean): Promise<SweepResult>;
  /**
   * Removes every server instance's sandboxes whose `expiresAt` is before `now`: what a server that
   * is gone (another instance, or one that never started again) left behind.
   */
  sweepExpired(now: Date): Promise<SweepResult>;
}

export type SandboxErrorCode = 'sandbox_error' | 'sandbox_stopped' | 'sandbox_gone' | 'docker_unreachable';

/** A sandbox could not do what was asked; `code` says why, in the run's error. */
/** The sandbox's own tar of its tree failed: read the tree again, through the backend. */
export class SandboxTreeError extends Error {}

export class SandboxError extends Error {
  constructor(
    message: string,
    options?: { cause?: unknown; code?: SandboxErrorCode },
  ) {
    super(message, options);
    this.code = options?.code ?? 'sandbox_error';
  }

  readonly code: SandboxErrorCode;
}
