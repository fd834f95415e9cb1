import type { ProviderConfig } from '../config/config.js';
import type { ProviderUsage, RunBudget } from '../domain/provider-usage.js';
import type { RunError, StopRun } from '../domain/run-error.js';
import type { CodexProvider } from '../sandbox/codex-invocation.js';
import type { ReservedSocketDir } from '../gateway/gateway-server.js';
import type { GatewayEndpoint } from '../sandbox/driver.js';

/**
 * How one run reaches its model provider, whichever way its key is delivered: the sandbox's
 * network, what the sandbox attaches to, what Codex is told, the usage seen, and revocation.
 */
export interface ProviderAccess extends AsyncDisposable {
  /** The sandbox's network (egress policy). */
  readonly network: string;
  /** The run's gateway, for the sandbox to reach; null when Codex calls the provider itself. */
  readonly gateway: GatewayEndpoint | null;
  readonly codex: CodexProvider;
  /** `NAME=value` pairs for Codex's process (its key): asked for at the last moment, never logged. */
  codexEnv(): string[];
  /** What the gateway saw the provider report; null when the gateway does not carry the run. */
  usage(): ProviderUsage | null;
  /** The provider's failure on the last call that did not complete (a broken stream), as the gateway saw it; null when none or no gateway. */
  fault(): RunError | null;
  /** Revokes what was issued and closes what was opened. Idempotent. */
  close(): Promise<void>;
}

export interface ProviderAccessRequest {
  runId: string;
  provider: ProviderConfig;
  model: string;
  budget: RunBudget;
  /** How the gateway ends the run for failures Codex would only retry. */
  stop: StopRun;
  /** The socket directory a sandbox made ahead of its run mounts: the run's gateway listens there. */
  reservedSocketDir?: ReservedSocketDir;
}

export interface ProviderAccessOpener {
  open(request: ProviderAccessRequest): Promise<ProviderAccess>;
  /** Whether `provider`'s runs reach it through the gateway (and so may take a sandbox made ahead). */
  usesGateway(provider: ProviderConfig): boolean;
}
