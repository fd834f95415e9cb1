import type { Logger } from 'pino';
import { GrowingFileReader } from '../archive/growing-file-reader.js';
import type { WorkspaceCopy } from '../archive/spool-workspace.js';
import { WORKSPACE_DIR } from '../sandbox/driver.js';
import { shapeKey, type ClaimedSandbox, type SandboxShape } from '../sandbox/warm-pool.js';

type State = 'copying' | 'whole' | 'failed' | 'taken' | 'discarded';

/**
 * A pooled sandbox that takes a run's workspace while the upload is still being spooled: it reads
 * the spool's file behind its writer, so the archive's way into the sandbox overlaps the spool
 * instead of following it, and neither waits for the other. It is claimed for a request before its
 * run exists: the run takes it (`take`) if the upload was whole and the run's shape is the one it
 * was claimed for; whatever does not take it removes it (`discard`).
 */
export class WorkspacePreload implements WorkspaceCopy {
  private state: State = 'copying';
  private reader: GrowingFileReader | null = null;
  /** Whether the sandbox took the whole tar; never rejects. */
  private uploaded: Promise<boolean> | null = null;
  private removal: Promise<void> | null = null;
  private readonly key: string;
  private readonly claimed: Promise<ClaimedSandbox | null>;
  private markSettled!: () => void;
  /** Resolves once a run took the sandbox or it is removed. */
  readonly settled = new Promise<void>((resolve) => (this.markSettled = resolve));

  constructor(
    claim: Promise<ClaimedSandbox | null>,
    shape: SandboxShape,
    private readonly log: Logger,
  ) {
    this.key = shapeKey(shape);
    this.claimed = claim.catch((err: unknown) => {
      log.warn({ err }, 'could not claim a pooled sandbox for the upload');
      return null;
    });
  }

  grew(path: string, bytes: number): void {
    if (this.state !== 'copying') return;
    if (!this.reader) this.open(path);
    this.reader!.grew(bytes);
  }

  end(): void {
    if (this.state !== 'copying') return;
    this.state = 'whole';
    this.reader?.end();
  }

  fail(): void {
    if (this.state !== 'copying' && this.state !== 'whole') return;
    this.state = 'failed';
    // Cut short, not destroyed: a destroyed body leaves the engine's request waiting for the rest.
    this.reader?.stop();
  }

  /**
   * The sandbox, with the workspace in it, once the engine has taken all of it; null when the upload
   * failed or `shape` is not the one it was claimed for, and then the sandbox is being removed.
   */
  async take(shape: SandboxShape): Promise<ClaimedSandbox | null> {
    const claimed = await this.claimed;
    const whole = this.state === 'whole' && (await this.uploaded) === true;
    const sameShape = shapeKey(shape) === this.key;
    if (!claimed || !whole || this.state !== 'whole' || !sameShape) {
      if (claimed) this.log.info({ uploaded: whole, sameShape }, 'the sandbox that took the upload does not serve its run: removed');
      void this.discard();
      return null;
    }
    this.state = 'taken';
    this.markSettled();
    return claimed;
  }

  /** Removes the sandbox unless a run took it; settles once it is gone. Safe to call more than once. */
  discard(): Promise<void> {
    if (this.state === 'taken') return Promise.resolve();
    this.removal ??= this.remove();
    return this.removal;
  }

  private async remove(): Promise<void> {
    this.fail();
    this.state = 'discarded';
    const claimed = await this.claimed;
    await claimed?.sandbox.remove().catch((err: unknown) => this.log.error({ err, containerId: claimed.sandbox.id }, 'could not remove the sandbox that took an upload'));
    this.reader?.destroy();
    this.markSettled();
  }

  /** The reader follows the file from its first bytes; the sandbox starts reading once it is claimed. */
  private open(path: string): void {
    const reader = new GrowingFileReader(path);
    this.reader = reader;
    this.uploaded = this.claimed.then(async (claimed) => {
      if (!claimed || this.state === 'discarded') return false;
      try {
        await claimed.sandbox.putArchive(reader, WORKSPACE_DIR);
        return true;
      } catch (err) {
        this.log.warn({ err }, 'the pooled sandbox could not take the upload as it was spooled');
        if (this.state === 'copying') this.state = 'failed';
        return false;
      } finally {
        reader.destroy();
      }
    });
  }
}
