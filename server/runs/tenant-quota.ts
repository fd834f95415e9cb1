import type { Config } from '../config/config.js';

/** How many of a tenant's runs may run and wait, and its share of the slots while tenants wait. */
export interface TenantQuota {
  maxConcurrentRuns: number;
  maxQueuedRuns: number;
  weight: number;
}

/** The most a tenant's run may ask for; also what a run that asks for nothing gets. */
export interface TenantCeilings {
  timeoutS: number;
  memoryMb: number;
  cpus: number;
  workspaceMb: number;
}

/** The config a tenant's quota and ceilings are read from; a tenant not in it (the default one) has the server's. */
export interface QuotaPolicy {
  tenants: Config['tenants'];
  limits: Pick<Config['limits'], 'maxConcurrentRuns' | 'maxQueuedRuns' | 'maxTimeoutS'>;
  sandbox: Pick<Config['sandbox'], 'memoryMb' | 'cpus' | 'workspaceMb'>;
}

export function tenantQuota(policy: QuotaPolicy, tenantName: string): TenantQuota {
  const t = policy.tenants.find((x) => x.name === tenantName);
  return {
    maxConcurrentRuns: t?.maxConcurrentRuns ?? policy.limits.maxConcurrentRuns,
    maxQueuedRuns: t?.maxQueuedRuns ?? policy.limits.maxQueuedRuns,
    weight: t?.weight ?? 1,
  };
}

export function tenantCeilings(policy: QuotaPolicy, tenantName: string): TenantCeilings {
  const t = policy.tenants.find((x) => x.name === tenantName);
  return {
    timeoutS: t?.maxTimeoutS ?? policy.limits.maxTimeoutS,
    memoryMb: t?.maxMemoryMb ?? policy.sandbox.memoryMb,
    cpus: t?.maxCpus ?? policy.sandbox.cpus,
    workspaceMb: t?.maxWorkspaceMb ?? policy.sandbox.workspaceMb,
  };
}

/** Where a ceiling comes from, for a refusal that names it. */
export function ceilingSource(policy: QuotaPolicy, tenantName: string, key: keyof TenantCeilings): string {
  const t = policy.tenants.find((x) => x.name === tenantName);
  const own = { timeoutS: t?.maxTimeoutS, memoryMb: t?.maxMemoryMb, cpus: t?.maxCpus, workspaceMb: t?.maxWorkspaceMb }[key];
  if (own !== undefined) return `the tenant's ${TENANT_KEY[key]}`;
  return SERVER_KEY[key];
}

const TENANT_KEY: Record<keyof TenantCeilings, string> = { timeoutS: 'max_timeout_s', memoryMb: 'max_memory_mb', cpus: 'max_cpus', workspaceMb: 'max_workspace_mb' };
const SERVER_KEY: Record<keyof TenantCeilings, string> = {
  timeoutS: 'limits.max_timeout_s',
  memoryMb: 'sandbox.memory_mb',
  cpus: 'sandbox.cpus',
  workspaceMb: 'sandbox.workspace_mb',
};
