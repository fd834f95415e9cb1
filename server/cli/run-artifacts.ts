// A run's diff and workspace, fetched to files.
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as NodeWebReadableStream } from 'node:stream/web';
import type { ApiClient } from './api-client.js';

/** Streams an artifact into `file` (written beside it, then renamed: a half-written file never stays). */
export async function downloadArtifact(client: ApiClient, id: string, artifact: 'diff' | 'workspace', file: string, signal?: AbortSignal): Promise<number> {
  const res = await client.request(`/v1/runs/${encodeURIComponent(id)}/${artifact}`, { signal });
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
