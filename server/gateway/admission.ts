/** What one run may hold at the gateway at once, and what all runs together may buffer. */
export interface GatewayLimits {
  maxRequestBytes: number;
  maxInflightPerRun: number;
  maxBufferedBytesPerRun: number;
  maxBufferedBytesTotal: number;
}

const MiB = 1024 * 1024;

export function gatewayLimitsFromConfig(gateway: { maxRequestMb: number; maxInflightPerRun: number; maxBufferedMbPerRun: number; maxBufferedMbTotal: number }): GatewayLimits {
  return {
    maxRequestBytes: gateway.maxRequestMb * MiB,
    maxInflightPerRun: gateway.maxInflightPerRun,
    maxBufferedBytesPerRun: gateway.maxBufferedMbPerRun * MiB,
    maxBufferedBytesTotal: gateway.maxBufferedMbTotal * MiB,
  };
}

/** One admitted upstream call: it holds one of its run's in-flight places and the body bytes it reserved. */
export interface RequestSlot {
  /** Reserves `bytes` more of body; on refusal nothing is reserved and the reason is returned. */
  reserve(bytes: number): string | null;
  /** Gives back the reserved bytes once the body has been handed upstream (the call stays in flight). */
  releaseBytes(): void;
  /** Gives back everything; safe to call more than once. */
  close(): void;
}

interface RunHold {
  inflight: number;
  bytes: number;
}

/**
 * Counts what the sandboxes make the server hold: calls in flight per run, and request bodies being
 * buffered per run and in total. The counts only go up through a slot and only come down through it.
 */
export class GatewayAdmission {
  private bufferedBytesTotal = 0;
  private readonly runs = new Map<string, RunHold>();

  constructor(readonly limits: GatewayLimits) {}

  /** A slot for one more call of `runId`, or null when the run already has its most in flight. */
  enter(runId: string): RequestSlot | null {
    const hold = this.runs.get(runId) ?? { inflight: 0, bytes: 0 };
    if (hold.inflight >= this.limits.maxInflightPerRun) return null;
    hold.inflight++;
    this.runs.set(runId, hold);

    let reserved = 0;
    let closed = false;
    const releaseBytes = () => {
      hold.bytes -= reserved;
      this.bufferedBytesTotal -= reserved;
      reserved = 0;
    };
    return {
      reserve: (bytes) => {
        if (closed) return 'the call has ended';
        if (hold.bytes + bytes > this.limits.maxBufferedBytesPerRun) {
          return `this run already has ${hold.bytes} bytes of requests being read; its limit is ${this.limits.maxBufferedBytesPerRun}`;
        }
        if (this.bufferedBytesTotal + bytes > this.limits.maxBufferedBytesTotal) return 'the gateway is reading as many request bytes as it may at once';
        hold.bytes += bytes;
        this.bufferedBytesTotal += bytes;
        reserved += bytes;
        return null;
      },
      releaseBytes,
      close: () => {
        if (closed) return;
        closed = true;
        releaseBytes();
        hold.inflight--;
        if (hold.inflight === 0) this.runs.delete(runId);
      },
    };
  }

  /** For tests and metrics: what is held right now. */
  held(runId?: string): { inflight: number; bytes: number } {
    if (runId === undefined) return { inflight: [...this.runs.values()].reduce((n, h) => n + h.inflight, 0), bytes: this.bufferedBytesTotal };
    const hold = this.runs.get(runId);
    return { inflight: hold?.inflight ?? 0, bytes: hold?.bytes ?? 0 };
  }
}
