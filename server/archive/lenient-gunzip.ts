import { Duplex } from 'node:stream';
import { createGunzip, type Gunzip } from 'node:zlib';

/**
 * Gunzip (members one after another, RFC 1952 §2.2) that does not fail when the bytes go bad: it
 * ends its output there, keeps the error in `error` and reads the rest of its input for nothing.
 * Only the tar reader downstream can tell trailing garbage after the end of the archive, which GNU
 * tar ignores, from a corrupt archive; it decides with `error`.
 */
export class LenientGunzip extends Duplex {
  error: Error | undefined;
  private readonly inflate: Gunzip = createGunzip();
  private outputDone = false;
  private waiting: (() => void) | undefined;
  private onOutputDone: (() => void) | undefined;

  constructor() {
    super();
    this.inflate.on('data', (chunk: Buffer) => {
      if (!this.push(chunk)) this.inflate.pause();
    });
    this.inflate.on('end', () => this.finishOutput());
    this.inflate.on('error', (error) => {
      this.error = error;
      this.finishOutput();
    });
  }

  override _read(): void {
    this.inflate.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.outputDone || this.inflate.write(chunk)) return callback();
    // Wait for room, or for the end of the output: after that, input is only read and dropped.
    this.waiting = callback;
    this.inflate.once('drain', () => this.release());
  }

  override _final(callback: (error?: Error | null) => void): void {
    if (this.outputDone) return callback();
    this.onOutputDone = callback;
    this.inflate.end();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.inflate.destroy();
    callback(error);
  }

  private finishOutput(): void {
    if (this.outputDone) return;
    this.outputDone = true;
    this.push(null);
    this.release();
    this.onOutputDone?.();
  }

  private release(): void {
    const waiting = this.waiting;
    this.waiting = undefined;
    waiting?.();
  }
}
