import type { Config, EnvironmentConfig, ProviderConfig } from '../config/config.js';
import type { ProviderAccessOpener } from '../provider-access/index.js';
import type { SandboxLimits } from '../sandbox/driver.js';
import type { SandboxShape } from '../sandbox/warm-pool.js';
import { needsEgressProxy, needsPhaseNetwork } from './phase-network.js';

/** What of a run decides its sandbox: its plan's image, setup and network policies, and its limits. */
export interface SandboxNeeds {
  environment: EnvironmentConfig;
  limits: SandboxLimits;
  provider: ProviderConfig;
}

/** The sandbox the run needs, but whose it is: what a pooled one must match to serve it. */
export function runSandboxShape(config: Pick<Config, 'sandbox'>, needs: SandboxNeeds): SandboxShape {
  const { sandbox } = config;
  return { image: needs.environment.image, runtime: sandbox.runtime, limits: needs.limits, ids: sandbox, network: sandbox.network, egressProxy: needsEgressProxy(needs.environment) };
}

/**
 * Whether a sandbox made ahead may serve the run: it must reach its provider through the gateway
 * (a pooled sandbox mounts the gateway's directory, never a key), and no phase of it may join the
 * bridge (a pooled sandbox waits with no network).
 */
export function mayUsePool(access: Pick<ProviderAccessOpener, 'usesGateway'>, needs: SandboxNeeds): boolean {
  return access.usesGateway(needs.provider) && !needsPhaseNetwork(needs.environment);
}
