// A run's diff and workspace, fetched to files.
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as NodeWebReadableStream } from 'node:stream/web';
import type { ApiClient } from './api-client.js';

/**
 * What a run's diff is taken against: `parent`, the tree the run started from (a new run's upload, a
 * follow-up's parent's final tree); `root`, the first run's upload, so a follow-up's diff holds every
 * turn's changes.
 */
export type DiffBase = 'parent' | 'root';

export interface ArtifactOptions {
  signal?: AbortSignal;
  /** For the diff; the server's default (`parent`) when unset. */
  base?: DiffBase;
}

/** Streams an artifact into `file` (written beside it, then renamed: a half-written file never stays); its size. */
export async function downloadArtifact(client: ApiClient, id: string, artifact: 'diff' | 'workspace', file: string, options: ArtifactOptions = {}): Promise<number> {
  const query = artifact === 'diff' && options.base === 'root' ? '?base=root' : '';
  const { signal } = options;
  const res = await client.request(`/v1/runs/${encodeURIComponent(id)}/${artifact}${query}`, { signal });
  const partial = `${file}.partial`;
  let bytes = 0;
  try {
    const body = Readable.fromWeb(res.body as NodeWebReadableStream);
    body.on('data', (chunk: Buffer) => (bytes += chunk.length));
    await pipeline(body, createWriteStream(partial), { signal });
    await rename(partial, file);
  } finally {
    await rm(partial, { force: true });
  }
  return bytes;
}
