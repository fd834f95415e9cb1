import type { Readable, Writable } from 'node:stream';
import type { SandboxSpec } from './container-spec.js';

export interface ExecOptions {
  env?: string[];
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
  /** Runs a command to completion and returns its exit code. */
  exec(argv: string[], options?: ExecOptions): Promise<number>;
  remove(): Promise<void>;
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
  /** Removes every container and volume carrying these labels. */
  sweep(labels: Record<string, string>): Promise<SweepResult>;
}

export class SandboxError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}
