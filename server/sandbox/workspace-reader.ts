import { PassThrough, Writable, type Readable } from 'node:stream';
import type Dockerode from 'dockerode';
import type { Logger } from 'pino';
import { demuxDockerStream } from './demux.js';
import { SandboxError, type BoundedTree } from './driver.js';
import { buildWorkspaceReaderSpec, type WorkspaceReaderInput } from './workspace-reader-spec.js';

/** Names left out are kept up to this many bytes; past it the rest are counted, not named. */
const MAX_LEFT_OUT_BYTES = 1024 * 1024;

/**
 * Starts a reader container on the workspace volume and hands back its tar as it streams. The
 * reader is removed once its output has ended, or at once when the caller destroys the tar or
 * `signal` aborts; `leftOut` settles after that removal.
 */
export async function readWorkspaceWithin(docker: Dockerode, input: WorkspaceReaderInput, log: Logger, signal?: AbortSignal): Promise<BoundedTree> {
  signal?.throwIfAborted();
  // A volume mount of a missing volume would create an empty one: a sandbox removed from outside
  // would read as an empty workspace.
  await docker.getVolume(input.volume).inspect().catch((err: unknown) => {
    if ((err as { statusCode?: number }).statusCode === 404) throw new SandboxError('the sandbox\'s workspace volume was removed from outside the server', { cause: err, code: 'sandbox_gone' });
    throw err;
  });
  // No abortSignal on the create call, for the same reason as the sandbox's own: dockerd would
  // go on and create it with nobody left to remove it.
  const container = await docker.createContainer(buildWorkspaceReaderSpec(input));
  let removal: Promise<void> | undefined;
  const remove = () => (removal ??= removeReader(container, log));
  const tar = new PassThrough();
  // Its reader hears a failure through its own listener or iterator; one that has not started
  // reading yet must not turn it into an uncaught exception.
  tar.on('error', () => {});
  const onAbort = () => {
    tar.destroy(signal?.reason);
    void remove();
  };
  try {
    signal?.throwIfAborted();
    const attached = (await container.attach({ stream: true, stdout: true, stderr: true } as Dockerode.ContainerAttachOptions)) as unknown as Readable;
    await container.start();
    signal?.addEventListener('abort', onAbort, { once: true });
    const leftOut = collectLeftOut(container, attached, tar)
      .catch((err: unknown) => {
        throw signal?.aborted ? signal.reason : err;
      })
      .finally(async () => {
        signal?.removeEventListener('abort', onAbort);
        await remove();
      });
    // Whoever reads the tar learns of a failure through it; `leftOut` is awaited only on success.
    leftOut.catch((err: unknown) => tar.destroy(err as Error));
    return { tar, leftOut };
  } catch (err) {
    await remove();
    if (signal?.aborted) throw signal.reason;
    throw new SandboxError(`could not start the workspace reader: ${(err as Error).message}`, { cause: err });
  }
}

async function collectLeftOut(container: Dockerode.Container, attached: Readable, tar: PassThrough): Promise<Buffer[]> {
  const names = new LeftOutNames();
  await demuxDockerStream(attached, new IntoTarOrDiscard(tar), names);
  const { StatusCode: code } = (await container.wait()) as { StatusCode: number };
  if (code !== 0) throw new SandboxError(`the workspace reader exited with code ${code}`);
  if (!tar.destroyed) tar.end();
  return names.list();
}

/**
 * Forwards to the tar while its reader wants it. A reader stops at the end-of-archive blocks,
 * before tar's record padding, or on an error of its own: what is left is read and dropped so
 * the reader container can finish and report.
 */
class IntoTarOrDiscard extends Writable {
  constructor(private readonly tar: PassThrough) {
    super();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: () => void): void {
    if (this.tar.destroyed || this.tar.write(chunk)) return done();
    const resume = () => {
      this.tar.off('drain', resume);
      this.tar.off('close', resume);
      done();
    };
    this.tar.on('drain', resume);
    this.tar.on('close', resume);
  }
}

/** NUL-separated names, kept up to MAX_LEFT_OUT_BYTES. */
class LeftOutNames extends Writable {
  private readonly chunks: Buffer[] = [];
  private bytes = 0;

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: () => void): void {
    if (this.bytes < MAX_LEFT_OUT_BYTES) this.chunks.push(chunk.subarray(0, MAX_LEFT_OUT_BYTES - this.bytes));
    this.bytes += chunk.length;
    done();
  }

  list(): Buffer[] {
    const all = Buffer.concat(this.chunks);
    const names: Buffer[] = [];
    let start = 0;
    for (let nul = all.indexOf(0); nul !== -1; nul = all.indexOf(0, start)) {
      names.push(all.subarray(start, nul));
      start = nul + 1;
    }
    return names;
  }
}

async function removeReader(container: Dockerode.Container, log: Logger): Promise<void> {
  try {
    await container.remove({ force: true });
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 404) return;
    // The periodic sweep takes it by its run labels.
    log.warn({ err, containerId: container.id }, 'could not remove the workspace reader');
  }
}
