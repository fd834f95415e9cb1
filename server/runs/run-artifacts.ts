import { createReadStream } from 'node:fs';
import { mkdir, rm, stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { runFiles, type RunFiles } from './run-files.js';

export type ArtifactKind = 'diff' | 'workspace';

/**
 * Where runs' files live: the upload, the event log, the diff and the workspace. Files on the
 * server's disk today; an object store can take their place behind this surface.
 */
export interface RunArtifacts {
  /** A new run's place, made now. */
  create(runId: string): Promise<RunFiles>;
  files(runId: string): RunFiles;
  open(runId: string, kind: ArtifactKind): Readable;
  /** Once a run has ended: drops what it needed only while it ran, and what it will never serve. */
  settle(runId: string, kept: Record<ArtifactKind, boolean>): Promise<void>;
  /** Everything of a run (a refused run). */
  remove(runId: string): Promise<void>;
  /** Bytes an ended run's files take. */
  size(runId: string): Promise<number>;
}

export class FileRunArtifacts implements RunArtifacts {
  constructor(private readonly dataDir: string) {}

  async create(runId: string): Promise<RunFiles> {
    const files = this.files(runId);
    await mkdir(files.dir, { recursive: true });
    return files;
  }

  files(runId: string): RunFiles {
    return runFiles(this.dataDir, runId);
  }

  open(runId: string, kind: ArtifactKind): Readable {
    const files = this.files(runId);
    return createReadStream(kind === 'diff' ? files.diff : files.workspace);
  }

  async settle(runId: string, kept: Record<ArtifactKind, boolean>): Promise<void> {
    const files = this.files(runId);
    await rm(files.inputTar, { force: true });
    // What a run could not finish is never served: a half-written diff or workspace goes.
    if (!kept.diff) await rm(files.diff, { force: true });
    if (!kept.workspace) await rm(files.workspace, { force: true });
  }

  async remove(runId: string): Promise<void> {
    await rm(this.files(runId).dir, { recursive: true, force: true });
  }

  async size(runId: string): Promise<number> {
    const files = this.files(runId);
    let bytes = 0;
    for (const file of [files.events, files.diff, files.workspace]) bytes += (await stat(file).catch(() => null))?.size ?? 0;
    return bytes;
  }
}
