import type { Config, EnvironmentConfig, ProviderConfig } from '../config/config.js';
import type { RunBudget } from '../domain/provider-usage.js';
import type { SandboxLimits } from '../sandbox/driver.js';
import { webhookTargetProblem } from '../webhooks/webhook-target.js';
import type { OutputSchema } from './output-schema.js';
import { RunRefusedError } from './run-refused.js';
import { ceilingSource, tenantCeilings, type QuotaPolicy, type TenantCeilings } from './tenant-quota.js';

/** What a client may choose for its run. */
export interface RunOptions {
  provider?: string;
  model?: string;
  timeoutS?: number;
  memoryMb?: number;
  cpus?: number;
  workspaceMb?: number;
  webhookUrl?: string;
  /** Checked as a JSON Schema when the request was read. */
  outputSchema?: OutputSchema;
  environment?: string;
}

/** Everything a run is given, decided once, before it is accepted. */
export interface RunPlan {
  provider: ProviderConfig;
  model: string;
  timeoutS: number;
  budget: RunBudget;
  /** The run's sandbox: what it asked for within its tenant's ceilings, the server's values for the rest. */
  limits: SandboxLimits;
  /** Where the run's end is posted, or null. */
  webhookUrl: string | null;
  /** What Codex's final message must be (the run's `output`), or null. */
  outputSchema: OutputSchema | null;
  /** The image, setup and per-phase network policies the run gets. */
  environment: EnvironmentConfig;
}

/** The rules plans are made by: the config's providers, tenants, limits and sandbox, and which providers cannot serve now. */
export interface PlanPolicy extends Pick<Config, 'providers' | 'defaults' | 'tenants' | 'environments'> {
  limits: Pick<Config['limits'], 'defaultTimeoutS' | 'maxTimeoutS' | 'runMaxRequests' | 'runMaxTokens'> & QuotaPolicy['limits'];
  sandbox: Pick<Config['sandbox'], 'memoryMb' | 'cpus' | 'pidsLimit' | 'workspaceMb' | 'tmpMb' | 'homeMb'>;
  /** Providers that cannot serve runs, with the reason (e.g. their key variable is unset). */
  providerProblems: Record<string, string>;
  /** Tenants whose webhooks cannot be signed, with the reason (their secret variable is unset). */
  webhookProblems?: Record<string, string>;
  /** Environments that cannot serve runs, with the reason (e.g. a setup secret's variable is unset). */
  environmentProblems?: Record<string, string>;
}

/** Picks provider, model, timeout, budget and sandbox limits for a tenant's run; RunRefusedError says what is not allowed. */
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
  const ceilings = tenantCeilings(policy, tenantName);
  const within = (key: keyof TenantCeilings, option: string, asked: number | undefined, fallback = ceilings[key]): number => {
    if (asked === undefined) return Math.min(fallback, ceilings[key]);
    if (asked > ceilings[key]) {
      throw new RunRefusedError('invalid_options', `${option} ${asked} exceeds the maximum of ${ceilings[key]} (${ceilingSource(policy, tenantName, key)})`);
    }
    return asked;
  };
  const timeoutS = within('timeoutS', 'timeout_s', options.timeoutS, policy.limits.defaultTimeoutS);
  const limits: SandboxLimits = {
    memoryMb: within('memoryMb', 'memory_mb', options.memoryMb),
    cpus: within('cpus', 'cpus', options.cpus),
    workspaceMb: within('workspaceMb', 'workspace_mb', options.workspaceMb),
    pidsLimit: policy.sandbox.pidsLimit,
    tmpMb: policy.sandbox.tmpMb,
    homeMb: policy.sandbox.homeMb,
  };
  const webhookUrl = options.webhookUrl ?? null;
  if (webhookUrl !== null) {
    const target = webhookTargetProblem(webhookUrl, tenant?.webhookPrefixes ?? []);
    if (target) throw new RunRefusedError('invalid_options', target);
    const unsigned = policy.webhookProblems?.[tenantName];
    if (unsigned) throw new RunRefusedError('invalid_options', `webhooks cannot be sent for this tenant: ${unsigned}`);
  }
  const environment = pickEnvironment(policy, tenantName, options.environment, provider);
  const problem = policy.providerProblems[name];
  if (problem) throw new RunRefusedError('provider_not_ready', `provider ${name} cannot serve runs: ${problem}`);
  const envProblem = policy.environmentProblems?.[environment.name];
  if (envProblem) throw new RunRefusedError('environment_not_ready', `environment ${environment.name} cannot serve runs: ${envProblem}`);
  return {
    provider,
    model,
    timeoutS,
    budget: { maxRequests: tenant?.runMaxRequests ?? policy.limits.runMaxRequests, maxTokens: tenant?.runMaxTokens ?? policy.limits.runMaxTokens },
    limits,
    webhookUrl,
    outputSchema: options.outputSchema ?? null,
    environment,
  };
}

function pickEnvironment(policy: PlanPolicy, tenantName: string, asked: string | undefined, provider: ProviderConfig): EnvironmentConfig {
  const tenant = policy.tenants.find((t) => t.name === tenantName);
  const allowed = tenant?.environments ?? Object.keys(policy.environments);
  const name = asked ?? 'default';
  const environment = policy.environments[name];
  if (!environment || !allowed.includes(name)) {
    throw new RunRefusedError('invalid_options', `unknown environment "${name}"; available: ${allowed.join(', ') || 'none'}`);
  }
  const phases = [environment.setupNetwork.policy, environment.agentNetwork.policy];
  if (phases.includes('open') && !tenant?.allowOpenNetwork) {
    throw new RunRefusedError('invalid_options', `environment ${name} gives the sandbox an open network, which this tenant may not use (allow_open_network)`);
  }
  // A provider reached directly keeps its sandbox on its egress network all along: no phase's policy could hold.
  if (provider.keyDelivery === 'env' && (environment.setup.length > 0 || phases.some((p) => p !== 'none'))) {
    throw new RunRefusedError('invalid_options', `environment ${name} has a setup or a network policy, which provider ${provider.name} (key_delivery = "env") cannot keep: its sandbox is on ${provider.egressNetwork} throughout`);
  }
  return environment;
}
