import { randomBytes } from 'node:crypto';
import type { ProviderConfig } from '../config/config.js';
import type { ProviderUsage, RunBudget } from '../domain/provider-usage.js';
import type { RunError, StopRun } from '../domain/run-error.js';

/** What a gateway token buys: calls to one provider, for one model, for one run, while the run lives. */
export interface GatewayGrant {
  runId: string;
  provider: ProviderConfig;
  model: string;
  budget: RunBudget;
  /** Filled in by the gateway as the provider answers. */
  usage: ProviderUsage;
  /** Ends the run at once, for failures Codex would only retry (key rejected, budget spent, provider unreachable or silent). */
  stopRun: StopRun;
  /**
   * The provider's failure on the run's last call that did not complete (a stream broken off), set by
   * the gateway and cleared by a completed answer: the run's error if Codex then gives up.
   */
  lastFault?: RunError | null;
}

export interface IssuedToken {
  token: string;
  revoke(): void;
}

export class GatewayTokens {
  private readonly grants = new Map<string, GatewayGrant>();

  issue(grant: GatewayGrant): IssuedToken {
    const token = `crgw_${randomBytes(32).toString('base64url')}`;
    this.grants.set(token, grant);
    return { token, revoke: () => this.grants.delete(token) };
  }

  lookup(token: string): GatewayGrant | undefined {
    return this.grants.get(token);
  }

  get size(): number {
    return this.grants.size;
  }
}
