import { Writable } from 'node:stream';
import { afterDrainOrClose } from './drain-or-close.js';

/**
 * Writes into `target` and pushes back once it is full, except while it holds: until `stopHolding()`
 * it takes up to `holdBytes` more than the target's high-water mark without pushing back. The tree's
 * tar goes this way: the main process's report on stderr comes behind the first of the tar on the one
 * attach stream and must get through while nobody reads the tree yet. Once the reader may come, the
 * tar waits in the socket instead: a chunk that waits in a deep queue outlives the young
 * generation's scavenges, and its memory then waits for a full collection (docs/performance.md,
 * section 10). Its end ends the target once every byte it took has reached it: ending the target
 * itself instead would drop what still waits here for the target to drain.
 */
export class TreeHold extends Writable {
  private holdLeft: number;

  constructor(
    private readonly target: Writable,
    holdBytes: number,
  ) {
    super();
    this.holdLeft = holdBytes;
  }

  stopHolding(): void {
    this.holdLeft = 0;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    const target = this.target;
    if (target.destroyed) return callback();
    const held = chunk.length <= this.holdLeft;
    if (target.write(chunk)) return callback();
    if (held) {
      this.holdLeft -= chunk.length;
      return callback();
    }
    afterDrainOrClose(target, callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    if (!this.target.destroyed && !this.target.writableEnded) this.target.end();
    callback();
  }
}
