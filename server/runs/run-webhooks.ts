import type { Logger } from 'pino';
import type { WebhookSender } from '../webhooks/webhook-sender.js';
import type { RunStore } from './run-store.js';
import { runView, type Run } from './run.js';

/**
 * Posts an ended run that named a webhook to it, signed with its tenant's secret, and records how
 * the delivery went in the run (`webhook.state`). A delivery still pending when the server stops
 * stays `pending` in the store, and the next start sends it again (`resumePending`).
 */
export class RunWebhooks {
  constructor(
    private readonly deps: {
      sender: WebhookSender;
      /** The tenant's signing secret, or undefined when it has none (planRun refuses such runs). */
      secretFor: (tenant: string) => string | undefined;
      store: RunStore;
      log: Logger;
    },
  ) {}

  runEnded(run: Run): void {
    if (!run.webhook) return;
    const secret = this.deps.secretFor(run.tenant);
    if (!secret) {
      void this.record(run.id, { state: 'failed', attempts: 0, lastError: 'the tenant has no webhook secret' });
      return;
    }
    const body = JSON.stringify(runView(run));
    this.deps.sender.send({ runId: run.id, url: run.webhook.url, secret, event: `run.${run.status}`, body }, (outcome) => void this.record(run.id, outcome));
  }

  /** At startup: sends again what an earlier process ended before its runs' webhooks were delivered. */
  async resumePending(): Promise<number> {
    const pending = await this.deps.store.webhookPending();
    for (const run of pending) this.runEnded(run);
    if (pending.length) this.deps.log.info({ runs: pending.length }, 'sending again the webhooks an earlier process left pending');
    return pending.length;
  }

  private async record(runId: string, outcome: { state: 'delivered' | 'failed'; attempts: number; lastError: string | null }): Promise<void> {
    try {
      // Read again: retention may have changed the record while the delivery was retried.
      const run = await this.deps.store.get(runId);
      if (!run?.webhook) return;
      await this.deps.store.update({ ...run, webhook: { ...run.webhook, state: outcome.state, attempts: outcome.attempts, last_error: outcome.lastError } });
      this.deps.log.info({ runId, ...outcome }, 'webhook delivery ended');
    } catch (err) {
      this.deps.log.error({ err, runId }, 'could not record the webhook delivery');
    }
  }
}
