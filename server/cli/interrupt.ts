// Ctrl-C during `run`.

/**
 * During the upload, stops it; once the run exists, asks the server to cancel it and keeps
 * following until the run says cancelled; a second Ctrl-C stops waiting.
 */
export class Interrupt {
  private readonly abort = new AbortController();
  private cancel: (() => Promise<void>) | null = null;
  private presses = 0;
  private cancelling: Promise<void> | null = null;
  private readonly handler = () => {
    this.presses++;
    if (this.cancel && this.presses === 1) this.cancelling = this.cancel();
    else this.abort.abort();
  };

  constructor() {
    process.on('SIGINT', this.handler);
  }

  /** The cancel request a first Ctrl-C sent, so that stopping to wait does not cut it off. */
  async sent(): Promise<void> {
    await this.cancelling;
  }

  get signal(): AbortSignal {
    return this.abort.signal;
  }

  onCancel(cancel: () => Promise<void>): void {
    this.cancel = cancel;
  }

  close(): void {
    process.off('SIGINT', this.handler);
  }
}
