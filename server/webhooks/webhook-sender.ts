import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { signWebhook, SIGNATURE_HEADER, TIMESTAMP_HEADER } from './webhook-signature.js';

export interface WebhookDelivery {
  runId: string;
  url: string;
  secret: string;
  /** The event name, e.g. `run.succeeded`. */
  event: string;
  body: string;
}

export interface DeliveryOutcome {
  state: 'delivered' | 'failed';
  attempts: number;
  /** The last attempt's problem, when it failed. */
  lastError: string | null;
}

export interface WebhookSenderOptions {
  maxAttempts: number;
  timeoutMs: number;
  /** Doubled after each failed attempt. */
  firstBackoffMs: number;
  log: Logger;
  fetch?: typeof fetch;
}

/**
 * Delivers completion webhooks in the background: POST, signed, retried with backoff on a network
 * error, a 5xx or a 429; a redirect is not followed (it could lead outside the allowed prefixes).
 * close() abandons what is still pending.
 */
export class WebhookSender {
  private readonly stopping = new AbortController();
  private readonly pending = new Set<Promise<unknown>>();

  constructor(private readonly options: WebhookSenderOptions) {}

  /** Starts a delivery; `onDone` is told how it ended (not when the sender closed first). */
  send(delivery: WebhookDelivery, onDone: (outcome: DeliveryOutcome) => void): void {
    const work = this.deliver(delivery).then(
      (outcome) => {
        if (!this.stopping.signal.aborted) onDone(outcome);
      },
      (err: unknown) => this.options.log.error({ err, runId: delivery.runId }, 'webhook delivery crashed'),
    );
    this.pending.add(work);
    void work.finally(() => this.pending.delete(work));
  }

  async close(): Promise<void> {
    this.stopping.abort();
    await Promise.allSettled([...this.pending]);
  }

  private async deliver(delivery: WebhookDelivery): Promise<DeliveryOutcome> {
    const { maxAttempts, timeoutMs, firstBackoffMs, log } = this.options;
    const fetchFn = this.options.fetch ?? fetch;
    const id = randomUUID();
    let lastError: string | null = null;
    for (let attempt = 1; attempt <= maxAttempts; attempt++) {
      if (this.stopping.signal.aborted) break;
      const timestampS = Math.floor(Date.now() / 1000);
      try {
        const res = await fetchFn(delivery.url, {
          method: 'POST',
          redirect: 'manual',
          headers: {
            'content-type': 'application/json',
            'user-agent': 'codex-runner-webhook',
            'x-codex-runner-event': delivery.event,
            'x-codex-runner-delivery': id,
            [TIMESTAMP_HEADER]: String(timestampS),
            [SIGNATURE_HEADER]: signWebhook(delivery.secret, timestampS, delivery.body),
          },
          body: delivery.body,
          signal: AbortSignal.any([AbortSignal.timeout(timeoutMs), this.stopping.signal]),
        });
        await res.body?.cancel().catch(() => {});
        if (res.status >= 200 && res.status < 300) return { state: 'delivered', attempts: attempt, lastError: null };
        lastError = `HTTP ${res.status}`;
        // The receiver understood and refused: asking again changes nothing.
        if (res.status < 500 && res.status !== 429 && res.status !== 408) return { state: 'failed', attempts: attempt, lastError };
      } catch (err) {
        lastError = (err as Error).message;
      }
      log.warn({ runId: delivery.runId, attempt, lastError }, 'webhook delivery failed; retrying');
      if (attempt < maxAttempts) await sleep(firstBackoffMs * 2 ** (attempt - 1), undefined, { signal: this.stopping.signal }).catch(() => {});
    }
    return { state: 'failed', attempts: maxAttempts, lastError };
  }
}
