import { describe, expect, it } from 'vitest';
import { parseConfig } from '../config/config.js';
import { resolveRunOptions } from './run-request.js';

const config = parseConfig({
  defaults: { provider: 'openai', model: 'gpt-5-codex' },
  providers: {
    openai: { base_url: 'https://api.openai.com/v1', key_env: 'OPENAI_API_KEY' },
    local: { base_url: 'http://127.0.0.1:11434/v1', models: ['qwen3-coder'] },
  },
  tenants: [
    { name: 'ci', token_sha256: 'a'.repeat(64) },
    { name: 'hobby', token_sha256: 'b'.repeat(64), providers: ['local'] },
  ],
  limits: { default_timeout_s: 600, max_timeout_s: 1200 },
});

describe('resolveRunOptions', () => {
  it('takes the defaults when options are empty', () => {
    expect(resolveRunOptions({}, config, 'ci')).toEqual({ provider: 'openai', model: 'gpt-5-codex', timeoutS: 600 });
  });

  it('keeps a tenant to its providers, defaulting to the first it may use', () => {
    expect(resolveRunOptions({ model: 'qwen3-coder' }, config, 'hobby')).toMatchObject({ provider: 'local' });
    expect(() => resolveRunOptions({ provider: 'openai' }, config, 'hobby')).toThrow(/unknown provider "openai"; available: local/);
  });

  it('holds the model to the provider list when there is one', () => {
    expect(() => resolveRunOptions({ provider: 'local', model: 'gpt-5-codex' }, config, 'ci')).toThrow(/not allowed for provider local; allowed: qwen3-coder/);
  });

  it('refuses a timeout over the maximum', () => {
    expect(() => resolveRunOptions({ timeout_s: 1201 }, config, 'ci')).toThrow(/exceeds the maximum of 1200/);
  });
});
