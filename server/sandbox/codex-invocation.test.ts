import { parse } from 'smol-toml';
import { describe, expect, it } from 'vitest';
import { buildCodexArgv, buildCodexConfigToml, DIRECT_KEY_ENV, GATEWAY_TOKEN_ENV } from './codex-invocation.js';

const openai = {
  name: 'openai',
  baseUrl: 'https://api.openai.com/v1',
  keyDelivery: 'gateway' as const,
  headers: { 'X-Title': 'codex-runner' },
  queryParams: {},
};

describe('buildCodexConfigToml', () => {
  it('with key_delivery env, points Codex at the provider itself with its headers and the key variable', () => {
    const cfg = parse(buildCodexConfigToml({ model: 'm', provider: { ...openai, keyDelivery: 'env', queryParams: { 'api-version': '1' } } })) as any;
    expect(cfg.model_providers[cfg.model_provider]).toMatchObject({
      base_url: 'https://api.openai.com/v1',
      env_key: DIRECT_KEY_ENV,
      http_headers: { 'X-Title': 'codex-runner' },
      query_params: { 'api-version': '1' },
    });
  });

  it('points Codex at the gateway on the sandbox loopback with the gateway token variable', () => {
    const cfg = parse(buildCodexConfigToml({ model: 'gpt-5-codex', provider: { ...openai, requestMaxRetries: 0 } })) as any;
    expect(cfg.model).toBe('gpt-5-codex');
    const provider = cfg.model_providers[cfg.model_provider];
    expect(provider).toMatchObject({
      base_url: 'http://127.0.0.1:8089/v1',
      env_key: GATEWAY_TOKEN_ENV,
      wire_api: 'responses',
      request_max_retries: 0,
    });
    expect(provider).not.toHaveProperty('stream_max_retries');
  });

  it('escapes model names so they cannot inject TOML', () => {
    const cfg = parse(buildCodexConfigToml({ model: 'x"\nmodel_provider = "evil', provider: openai })) as any;
    expect(cfg.model).toBe('x"\nmodel_provider = "evil');
    expect(cfg.model_provider).toBe('codex-runner');
  });
});

describe('buildCodexArgv', () => {
  it('runs exec in JSON mode without approvals or analytics, prompt last after --', () => {
    const argv = buildCodexArgv('-rf fix it');
    expect(argv.slice(0, 2)).toEqual(['codex', 'exec']);
    expect(argv).toContain('--json');
    expect(argv).toContain('--dangerously-bypass-approvals-and-sandbox');
    expect(argv).toContain('analytics.enabled=false');
    expect(argv.slice(-2)).toEqual(['--', '-rf fix it']);
  });
});
