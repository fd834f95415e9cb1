import { createReadStream } from 'node:fs';
import { access, link, mkdir, open, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { pipeline, type Readable } from 'node:stream';
import { constants as zlib, createGunzip, createGzip } from 'node:zlib';
import type { BaselineScan } from '../tree-diff/baseline-scan.js';
import { writeScanFile } from '../tree-diff/scan-file.js';
import { runFiles, type RunFiles } from './run-files.js';
import { runImageName } from './run-images.js';

export type ArtifactKind = 'diff' | 'workspace';
/** How the workspace is served: a `.tar.gz` (the default) or a plain tar. */
export type WorkspaceFormat = 'tar.gz' | 'tar';

/**
 * Where runs' files live: the upload, the event log, the diff and the workspace. Files on the
 * server's disk today; an object store can take their place behind this surface.
 */
export interface RunArtifacts {
  /** A new run's place, made now and durable (it survives a crash once this resolves). */
  create(runId: string): Promise<RunFiles>;
  /** Moves a spooled upload in as the run's input, durable once this resolves; keeps its scan beside it when the spooler made one. */
  takeInput(runId: string, spooledTar: string, scan?: BaselineScan): Promise<void>;
  /** Moves spooled images in, in their order, durable once this resolves. */
  takeImages(runId: string, images: { path: string; type: string }[]): Promise<void>;
  /** Gives a follow-up its parent's session (as it is now: the parent has ended), durable once this resolves. */
  takeParentSession(runId: string, parentId: string): Promise<void>;
  files(runId: string): RunFiles;
  /** The diff, or the workspace in `format` (compressed as it is read). */
  open(runId: string, kind: ArtifactKind, format?: WorkspaceFormat): Promise<Readable>;
  /**
   * Once a run has ended: drops what it needed only while it ran, and what it will never serve;
   * its upload goes unless `input` (a first run a follow-up may diff against).
   */
  settle(runId: string, kept: Record<ArtifactKind | 'session' | 'input', boolean>): Promise<void>;
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
    // The new directory's entry is durable once its parent is synced.
    await syncPath(path.dirname(files.dir));
    await syncPath(files.dir);
    return files;
  }

  async takeInput(runId: string, spooledTar: string, scan?: BaselineScan): Promise<void> {
    const { inputTar, inputScan, dir } = this.files(runId);
    // The spool was written without fsync: its data, then its new name.
    await syncPath(spooledTar);
    await rename(spooledTar, inputTar);
    // Not made durable: a scan a crash loses is made again from the tar.
    if (scan) await writeScanFile(inputScan, scan, inputTar);
    await syncPath(dir);
  }

  async takeImages(runId: string, images: { path: string; type: string }[]): Promise<void> {
    const { imagesDir, dir } = this.files(runId);
    await mkdir(imagesDir, { recursive: true });
    for (const [index, image] of images.entries()) {
      await syncPath(image.path);
      await rename(image.path, path.join(imagesDir, runImageName(index, image.type)));
    }
    await syncPath(imagesDir);
    await syncPath(dir);
  }

  async takeParentSession(runId: string, parentId: string): Promise<void> {
    const { parentSession, dir } = this.files(runId);
    // A second name for the parent's file, which is never written again: retention may remove the
    // parent's while this run waits.
    await link(this.files(parentId).session, parentSession);
    await syncPath(dir);
  }

  files(runId: string): RunFiles {
    return runFiles(this.dataDir, runId);
  }

  async open(runId: string, kind: ArtifactKind, format: WorkspaceFormat = 'tar.gz'): Promise<Readable> {
    const files = this.files(runId);
    if (kind === 'diff') return createReadStream(files.diff);
    const plain = await exists(files.workspace);
    const stored = createReadStream(plain ? files.workspace : files.legacyWorkspaceGz, { highWaterMark: 1024 * 1024 });
    if (plain === (format === 'tar')) return stored;
    // The fastest level: gzip -1 already runs at ~35 MB/s on random bytes here, the default at a third of that.
    const codec = plain ? createGzip({ level: zlib.Z_BEST_SPEED }) : createGunzip();
    return pipeline(stored, codec, () => {}) as Readable;
  }

  async settle(runId: string, kept: Record<ArtifactKind | 'session' | 'input', boolean>): Promise<void> {
    const files = this.files(runId);
    if (!kept.input) {
      await rm(files.inputTar, { force: true });
      await rm(files.inputScan, { force: true });
    }
    if (!kept.session) await rm(files.session, { force: true });
    await rm(files.parentSession, { force: true });
    await rm(files.imagesDir, { recursive: true, force: true });
    // The executor removes the baseline once the diff is made; a run ended by a restart still has it.
    await rm(files.baselineDir, { recursive: true, force: true });
    // What a run could not finish is never served: a half-written diff or workspace goes.
    if (!kept.diff) await rm(files.diff, { force: true });
    if (!kept.workspace) {
      await rm(files.workspace, { force: true });
      await rm(files.legacyWorkspaceGz, { force: true });
    }
  }

  async remove(runId: string): Promise<void> {
    await rm(this.files(runId).dir, { recursive: true, force: true });
  }

  async size(runId: string): Promise<number> {
    const files = this.files(runId);
    let bytes = 0;
    for (const file of [files.events, files.diff, files.workspace, files.legacyWorkspaceGz, files.session, files.inputTar, files.inputScan, files.rootDiff]) bytes += (await stat(file).catch(() => null))?.size ?? 0;
    return bytes;
  }
}

/** fsync of a file or a directory (Linux opens a directory read-only for it). */
async function syncPath(p: string): Promise<void> {
  const handle = await open(p, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export async function exists(file: string): Promise<boolean> {
  return access(file).then(() => true, () => false);
}
