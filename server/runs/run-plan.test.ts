import { describe, expect, it } from 'vitest';
import { parseConfig } from '../config/config.js';
import { planRun, type PlanPolicy, type RunOptions } from './run-plan.js';
import { RunRefusedError } from './run-refused.js';

const config = parseConfig({
  defaults: { provider: 'openai', model: 'gpt-5-codex' },
  providers: {
    openai: { base_url: 'https://api.openai.com/v1', key_env: 'OPENAI_API_KEY' },
    local: { base_url: 'http://127.0.0.1:11434/v1', models: ['qwen3-coder'] },
  },
  tenants: [
    { name: 'ci', token_sha256: 'a'.repeat(64) },
    { name: 'hobby', token_sha256: 'b'.repeat(64), providers: ['local'], run_max_requests: 7 },
    { name: 'small', token_sha256: 'c'.repeat(64), max_timeout_s: 300, max_memory_mb: 512, max_cpus: 0.5, max_workspace_mb: 32 },
  ],
  limits: { default_timeout_s: 600, max_timeout_s: 1200, run_max_requests: 50, run_max_tokens: 1000 },
  sandbox: { memory_mb: 2048, cpus: 2, workspace_mb: 256, pids_limit: 300, tmp_mb: 100, home_mb: 50 },
});
const refusal = (tenant: string, options: RunOptions) => {
  try {
    planRun(policy, tenant, options);
  } catch (err) {
    return err;
  }
  throw new Error('planned');
};
const policy: PlanPolicy = { ...config, providerProblems: {} };

describe('planRun', () => {
  it('takes the defaults when options are empty', () => {
    const plan = planRun(policy, 'ci', {});
    expect({ provider: plan.provider.name, model: plan.model, timeoutS: plan.timeoutS }).toEqual({ provider: 'openai', model: 'gpt-5-codex', timeoutS: 600 });
    expect(plan.budget).toEqual({ maxRequests: 50, maxTokens: 1000 });
  });

  it('keeps a tenant to its providers, defaulting to the first it may use, with its own budget', () => {
    const plan = planRun(policy, 'hobby', { model: 'qwen3-coder' });
    expect(plan.provider.name).toBe('local');
    expect(plan.budget).toEqual({ maxRequests: 7, maxTokens: 1000 });
    expect(() => planRun(policy, 'hobby', { provider: 'openai' })).toThrow(/unknown provider "openai"; available: local/);
  });

  it('holds the model to the provider list when there is one', () => {
    expect(() => planRun(policy, 'ci', { provider: 'local', model: 'gpt-5-codex' })).toThrow(/not allowed for provider local; allowed: qwen3-coder/);
  });

  it('refuses a timeout over the maximum, naming the limit', () => {
    expect(refusal('ci', { timeoutS: 1201 })).toMatchObject({ reason: 'invalid_options', message: 'timeout_s 1201 exceeds the maximum of 1200 (limits.max_timeout_s)' });
    expect(planRun(policy, 'ci', { timeoutS: 1200 }).timeoutS).toBe(1200);
  });

  it('gives a run the server\'s sandbox limits when neither it nor its tenant asks for less', () => {
    expect(planRun(policy, 'ci', {}).limits).toEqual({ memoryMb: 2048, cpus: 2, workspaceMb: 256, pidsLimit: 300, tmpMb: 100, homeMb: 50 });
  });

  it('gives a run what it asks for within its tenant\'s ceilings, and the ceilings when it asks for nothing', () => {
    const asked = planRun(policy, 'small', { timeoutS: 60, memoryMb: 256, cpus: 0.25, workspaceMb: 8 });
    expect(asked.timeoutS).toBe(60);
    expect(asked.limits).toMatchObject({ memoryMb: 256, cpus: 0.25, workspaceMb: 8, pidsLimit: 300 });
    const fallback = planRun(policy, 'small', {});
    // The default timeout (600) is over this tenant's ceiling: the ceiling it is.
    expect(fallback.timeoutS).toBe(300);
    expect(fallback.limits).toMatchObject({ memoryMb: 512, cpus: 0.5, workspaceMb: 32 });
  });

  it('refuses each option over the tenant\'s ceiling, naming the tenant\'s key', () => {
    expect(refusal('small', { timeoutS: 301 })).toMatchObject({ reason: 'invalid_options', message: "timeout_s 301 exceeds the maximum of 300 (the tenant's max_timeout_s)" });
    expect(refusal('small', { memoryMb: 513 })).toMatchObject({ reason: 'invalid_options', message: "memory_mb 513 exceeds the maximum of 512 (the tenant's max_memory_mb)" });
    expect(refusal('small', { cpus: 0.6 })).toMatchObject({ reason: 'invalid_options', message: "cpus 0.6 exceeds the maximum of 0.5 (the tenant's max_cpus)" });
    expect(refusal('small', { workspaceMb: 33 })).toMatchObject({ reason: 'invalid_options', message: "workspace_mb 33 exceeds the maximum of 32 (the tenant's max_workspace_mb)" });
  });

  it('holds a tenant without ceilings to the server\'s own maxima, naming the server\'s key', () => {
    expect(refusal('ci', { memoryMb: 4096 })).toMatchObject({ message: 'memory_mb 4096 exceeds the maximum of 2048 (sandbox.memory_mb)' });
    expect(refusal('ci', { cpus: 3 })).toMatchObject({ message: 'cpus 3 exceeds the maximum of 2 (sandbox.cpus)' });
    expect(refusal('ci', { workspaceMb: 257 })).toMatchObject({ message: 'workspace_mb 257 exceeds the maximum of 256 (sandbox.workspace_mb)' });
    expect(planRun(policy, 'ci', { memoryMb: 2048, cpus: 2, workspaceMb: 256 }).limits).toMatchObject({ memoryMb: 2048, cpus: 2, workspaceMb: 256 });
  });

  it('refuses a provider that cannot serve now, saying why', () => {
    const refused = (() => {
      try {
        planRun({ ...policy, providerProblems: { openai: 'environment variable OPENAI_API_KEY is not set' } }, 'ci', {});
      } catch (err) {
        return err;
      }
    })();
    expect(refused).toBeInstanceOf(RunRefusedError);
    expect(refused).toMatchObject({ reason: 'provider_not_ready', message: 'provider openai cannot serve runs: environment variable OPENAI_API_KEY is not set' });
  });

  it('takes a webhook_url under the tenant\'s prefixes, and refuses one outside them or for a tenant that cannot sign', () => {
    const hooks = parseConfig({
      providers: { openai: { base_url: 'https://api.openai.com/v1' } },
      tenants: [{ name: 'ci', token_sha256: 'a'.repeat(64), webhook_prefixes: ['https://ci.example.org/hooks/'], webhook_secret_env: 'S' }],
    });
    const hookPolicy: PlanPolicy = { ...hooks, providerProblems: {} };
    expect(planRun(hookPolicy, 'ci', { webhookUrl: 'https://ci.example.org/hooks/1' }).webhookUrl).toBe('https://ci.example.org/hooks/1');
    expect(planRun(hookPolicy, 'ci', {}).webhookUrl).toBeNull();
    expect(() => planRun(hookPolicy, 'ci', { webhookUrl: 'https://ci.example.org.evil.net/hooks/1' })).toThrow(/not under an allowed prefix/);
    expect(() => planRun(hookPolicy, 'other', { webhookUrl: 'https://ci.example.org/hooks/1' })).toThrow(/not enabled/);
    expect(() => planRun({ ...hookPolicy, webhookProblems: { ci: 'environment variable S is not set' } }, 'ci', { webhookUrl: 'https://ci.example.org/hooks/1' })).toThrow(
      /cannot be sent for this tenant: environment variable S is not set/,
    );
  });
});

describe('planRun: environments', () => {
  const envConfig = parseConfig({
    defaults: { provider: 'openai', model: 'gpt-5-codex' },
    providers: {
      openai: { base_url: 'https://api.openai.com/v1', key_env: 'OPENAI_API_KEY' },
      direct: { base_url: 'http://127.0.0.1:11434/v1', key_delivery: 'env' },
    },
    environments: {
      node: { image: 'codex-runner-sandbox-node:latest', setup: ['npm ci'], setup_network: { policy: 'allowlist', allow: ['registry.npmjs.org:443'] } },
      python: { image: 'codex-runner-sandbox-python:latest' },
      wide: { agent_network: { policy: 'open' } },
    },
    tenants: [
      { name: 'ci', token_sha256: 'a'.repeat(64) },
      { name: 'narrow', token_sha256: 'b'.repeat(64), environments: ['default', 'python'] },
      { name: 'trusted', token_sha256: 'c'.repeat(64), allow_open_network: true },
    ],
  });
  const envPolicy: PlanPolicy = { ...envConfig, providerProblems: {}, environmentProblems: {} };
  const refused = (tenant: string, options: RunOptions, policy = envPolicy) => {
    try {
      planRun(policy, tenant, options);
    } catch (err) {
      return err as RunRefusedError;
    }
    throw new Error('planned');
  };

  it('gives a run the default environment when it names none, and the one it names', () => {
    expect(planRun(envPolicy, 'ci', {}).environment).toMatchObject({ name: 'default', image: 'codex-runner-sandbox:latest', setup: [] });
    expect(planRun(envPolicy, 'ci', { environment: 'node' }).environment).toMatchObject({ name: 'node', image: 'codex-runner-sandbox-node:latest', setup: ['npm ci'] });
  });

  it('refuses an environment that does not exist or that the tenant may not use, naming the option', () => {
    expect(refused('ci', { environment: 'rust' })).toMatchObject({ reason: 'invalid_options', message: expect.stringMatching(/unknown environment "rust"; available: default, node, python, wide/) });
    expect(refused('narrow', { environment: 'node' })).toMatchObject({ reason: 'invalid_options', message: 'unknown environment "node"; available: default, python' });
    expect(planRun(envPolicy, 'narrow', { environment: 'python' }).environment.name).toBe('python');
  });

  it('gives an open environment only to a tenant that opted in', () => {
    expect(refused('ci', { environment: 'wide' })).toMatchObject({ reason: 'invalid_options', message: expect.stringMatching(/open network.*allow_open_network/) });
    expect(planRun(envPolicy, 'trusted', { environment: 'wide' }).environment.agentNetwork.policy).toBe('open');
  });

  it('refuses an environment with setup or a network policy for a provider reached directly', () => {
    expect(refused('ci', { environment: 'node', provider: 'direct' })).toMatchObject({ reason: 'invalid_options', message: expect.stringMatching(/key_delivery = "env"/) });
    expect(planRun(envPolicy, 'ci', { environment: 'python', provider: 'direct' }).environment.name).toBe('python');
  });

  it('refuses an environment that cannot serve runs with environment_not_ready', () => {
    const policy = { ...envPolicy, environmentProblems: { node: 'environment variable NPM_TOKEN is not set' } };
    expect(refused('ci', { environment: 'node' }, policy)).toMatchObject({ reason: 'environment_not_ready', message: 'environment node cannot serve runs: environment variable NPM_TOKEN is not set' });
  });
});
