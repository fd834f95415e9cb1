import { describe, expect, it } from 'vitest';
import { parseConfig } from '../config/config.js';
import { planRun, type PlanPolicy } from './run-plan.js';
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
  ],
  limits: { default_timeout_s: 600, max_timeout_s: 1200, run_max_requests: 50, run_max_tokens: 1000 },
});
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

  it('refuses a timeout over the maximum', () => {
    expect(() => planRun(policy, 'ci', { timeoutS: 1201 })).toThrow(/exceeds the maximum of 1200/);
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
});
