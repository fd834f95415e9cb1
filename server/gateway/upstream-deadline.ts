/** The provider sent nothing within the gateway's idle deadline; the message names it. */
export class UpstreamIdleError extends Error {
  override name = 'UpstreamIdleError';
}

/**
 * An idle deadline on one upstream call (`gateway.upstream_idle_timeout_s`). It runs only while the
 * gateway waits on the provider: for its headers, then for each chunk of its body once Codex has
 * asked for more. A sandbox that reads slowly is not taken for a silent provider. When it fires,
 * `signal` aborts the call and the pending read fails with an UpstreamIdleError, even under a
 * `fetch` that ignores its signal.
 */
export class UpstreamDeadline {
  private readonly controller = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  private readonly fired: Promise<never>;

  constructor(
    private readonly ms: number,
    /** What to say when it fires, for the phase it fired in. */
    private readonly describe: (phase: 'headers' | 'body') => string,
  ) {
    this.fired = new Promise<never>((_, reject) => this.controller.signal.addEventListener('abort', () => reject(this.controller.signal.reason), { once: true }));
    this.fired.catch(() => undefined);
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  get expired(): boolean {
    return this.controller.signal.aborted;
  }

  /** `work` (the call until its headers), failing with an UpstreamIdleError once the deadline passes first. */
  async headers<T>(work: Promise<T>): Promise<T> {
    this.arm('headers');
    try {
      return await Promise.race([work, this.fired]);
    } finally {
      this.disarm();
    }
  }

  /** The upstream body, each read of it under the deadline. */
  watch(body: ReadableStream<Uint8Array>): ReadableStream<Uint8Array> {
    const reader = body.getReader();
    return new ReadableStream<Uint8Array>({
      pull: async (controller) => {
        this.arm('body');
        try {
          const { value, done } = await Promise.race([reader.read(), this.fired]);
          if (done) controller.close();
          else controller.enqueue(value);
        } catch (err) {
          if (this.expired) reader.cancel(err).catch(() => undefined);
          controller.error(err);
        } finally {
          this.disarm();
        }
      },
      cancel: (reason) => {
        this.disarm();
        return reader.cancel(reason);
      },
    });
  }

  private arm(phase: 'headers' | 'body'): void {
    this.disarm();
    this.timer = setTimeout(() => this.controller.abort(new UpstreamIdleError(this.describe(phase))), this.ms);
  }

  private disarm(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}
