import type { Readable, Writable } from 'node:stream';
import type { SandboxSpec } from './container-spec.js';

export interface ExecOptions {
  env?: string[];
  /**
   * Called as soon as the process has exited, which may be before its output ends: a process it
   * left behind can hold its stdout open. exec() then waits a short while for the output to end
   * and returns the exit code either way.
   */
  onExit?: () => void | Promise<void>;
  /** Written to the process's stdin, which is then closed. Without it stdin is /dev/null. */
  stdin?: string;
  stdout?: Writable;
  stderr?: Writable;
  signal?: AbortSignal;
}

/** A started sandbox. remove() is idempotent and always safe to call. */
export interface Sandbox extends AsyncDisposable {
  readonly containerId: string;
  putArchive(tar: Readable, dir: string, signal?: AbortSignal): Promise<void>;
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
  /** Stops every process of the sandbox at once (the cgroup freezer); files stay readable. Idempotent. */
  freeze(): Promise<void>;
  /** Why the sandbox is no longer running, or null while it runs (given `settleMs` to finish stopping). */
  stopReason(settleMs?: number): Promise<string | null>;
  /** Whether the kernel killed a process of the sandbox for want of memory. */
  ranOutOfMemory(): Promise<boolean>;
  remove(): Promise<void>;
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
  start(spec: SandboxSpec, signal?: AbortSignal): Promise<Sandbox>;
  /** Removes every container and volume carrying these labels, but those whose own labels `keep` accepts. */
  sweep(labels: Record<string, string>, keep?: (labels: Record<string, string>) => boolean): Promise<SweepResult>;
}

export type SandboxErrorCode = 'sandbox_error' | 'sandbox_stopped' | 'sandbox_gone' | 'docker_unreachable';

/** A sandbox could not do what was asked; `code` says why, in the run's error. */
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
