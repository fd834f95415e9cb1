import { parse } from 'smol-toml';
import { describe, expect, it } from 'vitest';
import { buildCodexArgv, buildCodexConfigToml } from './codex-invocation.js';

const provider = {
  name: 'openai via codex-runner',
  baseUrl: 'http://127.0.0.1:8089/v1',
  envKey: 'CODEX_RUNNER_GATEWAY_TOKEN',
  headers: {},
  queryParams: {},
};

describe('buildCodexConfigToml', () => {
  it('writes the provider as given: base URL, key variable, headers, query parameters and retries when set', () => {
    const cfg = parse(buildCodexConfigToml({ model: 'gpt-5-codex', provider: { ...provider, headers: { 'X-Title': 'codex-runner' }, queryParams: { 'api-version': '1' }, requestMaxRetries: 0 } })) as any;
    expect(cfg.model).toBe('gpt-5-codex');
    const written = cfg.model_providers[cfg.model_provider];
    expect(written).toMatchObject({
      base_url: 'http://127.0.0.1:8089/v1',
      env_key: 'CODEX_RUNNER_GATEWAY_TOKEN',
      wire_api: 'responses',
      http_headers: { 'X-Title': 'codex-runner' },
      query_params: { 'api-version': '1' },
      request_max_retries: 0,
    });
    expect(written).not.toHaveProperty('stream_max_retries');
  });

  it('leaves headers and query parameters out when there are none', () => {
    const written = (parse(buildCodexConfigToml({ model: 'm', provider })) as any).model_providers['codex-runner'];
    expect(written).not.toHaveProperty('http_headers');
    expect(written).not.toHaveProperty('query_params');
  });

  it('escapes model names so they cannot inject TOML', () => {
    const cfg = parse(buildCodexConfigToml({ model: 'x"\nmodel_provider = "evil', provider })) as any;
    expect(cfg.model).toBe('x"\nmodel_provider = "evil');
    expect(cfg.model_provider).toBe('codex-runner');
  });
});

describe('buildCodexArgv', () => {
  it('runs exec in JSON mode without approvals or analytics, and reads the prompt from stdin (last argument -)', () => {
    const argv = buildCodexArgv();
    expect(argv.slice(0, 2)).toEqual(['codex', 'exec']);
    expect(argv).toContain('--json');
    expect(argv).toContain('--dangerously-bypass-approvals-and-sandbox');
    expect(argv).toContain('analytics.enabled=false');
    expect(argv.at(-1)).toBe('-');
    // `-` is Codex's only positional argument: nothing after it, and no `--` that would make a later word a prompt.
    expect(argv).not.toContain('--');
  });
});
