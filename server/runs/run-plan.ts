import type { Config, ProviderConfig } from '../config/config.js';
import type { RunBudget } from '../domain/provider-usage.js';
import { RunRefusedError } from './run-refused.js';

/** What a client may choose for its run. */
export interface RunOptions {
  provider?: string;
  model?: string;
  timeoutS?: number;
}

/** Everything a run is given, decided once, before it is accepted. */
export interface RunPlan {
  provider: ProviderConfig;
  model: string;
  timeoutS: number;
  budget: RunBudget;
}

/** The rules plans are made by: the config's providers, tenants and limits, and which providers cannot serve now. */
export interface PlanPolicy extends Pick<Config, 'providers' | 'defaults' | 'tenants'> {
  limits: Pick<Config['limits'], 'defaultTimeoutS' | 'maxTimeoutS' | 'runMaxRequests' | 'runMaxTokens'>;
  /** Providers that cannot serve runs, with the reason (e.g. their key variable is unset). */
  providerProblems: Record<string, string>;
}

/** Picks provider, model, timeout and budget for a tenant's run; RunRefusedError says what is not allowed. */
export function planRun(policy: PlanPolicy, tenantName: string, options: RunOptions): RunPlan {
  const tenant = policy.tenants.find((t) => t.name === tenantName);
  const allowed = tenant?.providers ?? Object.keys(policy.providers);
  const name = options.provider ?? (allowed.includes(policy.defaults.provider) ? policy.defaults.provider : allowed[0]!);
  const provider = policy.providers[name];
  if (!provider || !allowed.includes(name)) {
    throw new RunRefusedError('invalid_options', `unknown provider "${name}"; available: ${allowed.join(', ')}`);
  }
  const model = options.model ?? policy.defaults.model;
  if (provider.models && !provider.models.includes(model)) {
    throw new RunRefusedError('invalid_options', `model "${model}" is not allowed for provider ${name}; allowed: ${provider.models.join(', ')}`);
  }
  const timeoutS = options.timeoutS ?? policy.limits.defaultTimeoutS;
  if (timeoutS > policy.limits.maxTimeoutS) throw new RunRefusedError('invalid_options', `timeout_s exceeds the maximum of ${policy.limits.maxTimeoutS}`);
  const problem = policy.providerProblems[name];
  if (problem) throw new RunRefusedError('provider_not_ready', `provider ${name} cannot serve runs: ${problem}`);
  return {
    provider,
    model,
    timeoutS,
    budget: { maxRequests: tenant?.runMaxRequests ?? policy.limits.runMaxRequests, maxTokens: tenant?.runMaxTokens ?? policy.limits.runMaxTokens },
  };
}
