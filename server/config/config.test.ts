import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from './config.js';

const minimal = `
[server]
listen = "127.0.0.1:8080"
data_dir = "./data"
[defaults]
provider = "openai"
model = "gpt-5-codex"
[providers.openai]
base_url = "https://api.openai.com/v1"
key_env = "OPENAI_API_KEY"
wire_api = "responses"
[[tenants]]
name = "ci"
token_sha256 = "${'a'.repeat(64)}"
`;

describe('parseConfig', () => {
  it('accepts the minimal documented config', () => {
    const cfg = parseConfig(minimal, '/srv');
    expect(cfg.server).toMatchObject({ listenHost: '127.0.0.1', listenPort: 8080, dataDir: '/srv/data' });
    expect(cfg.providers.openai).toMatchObject({ baseUrl: 'https://api.openai.com/v1', keyEnv: 'OPENAI_API_KEY' });
    expect(cfg.tenants).toEqual([{ name: 'ci', tokenSha256: 'a'.repeat(64) }]);
    expect(cfg.gateway.socketDir).toBe('/srv/data/gateway');
  });

  it('gives working defaults for an empty config', () => {
    const cfg = parseConfig('', '/srv');
    expect(cfg.defaults).toEqual({ provider: 'openai', model: 'gpt-5-codex' });
    expect(cfg.sandbox.network).toBe('none');
    expect(cfg.limits.maxConcurrentRuns).toBeGreaterThan(0);
  });

  it('names the key path and the reason of a bad value', () => {
    expect(() => parseConfig('[sandbox]\nmemory_mb = "lots"')).toThrow(/sandbox\.memory_mb/);
  });

  it('refuses unknown keys', () => {
    expect(() => parseConfig('[server]\nlisten_on = "x"')).toThrow(ConfigError);
  });

  it('refuses a default provider that is not configured', () => {
    expect(() => parseConfig('[defaults]\nprovider = "nope"')).toThrow(/defaults\.provider: no \[providers\.nope\]/);
  });

  it('refuses a port out of range', () => {
    expect(() => parseConfig('[server]\nlisten = "0.0.0.0:70000"')).toThrow(/out of range/);
  });

  it('reports TOML syntax errors', () => {
    expect(() => parseConfig('[server\n')).toThrow(/not valid TOML/);
  });

  it('accepts the config shipped for docker-compose', () => {
    const cfg = parseConfig(readFileSync(new URL('./compose.toml', import.meta.url), 'utf8'), '/app');
    expect(cfg.server).toMatchObject({ listenHost: '0.0.0.0', dataDir: '/data', instance: 'compose' });
    expect(cfg.gateway).toMatchObject({ socketDir: '/run/codex-runner-gateway', socketVolume: 'codex-runner-gateway' });
  });

  it('bounds the gateway by default and reads its limits', () => {
    expect(parseConfig({}).gateway).toMatchObject({ maxRequestMb: 16, maxInflightPerRun: 4, maxBufferedMbPerRun: 16, maxBufferedMbTotal: 64 });
    const cfg = parseConfig('[gateway]\nmax_request_mb = 2\nmax_inflight_per_run = 1\nmax_buffered_mb_per_run = 2\nmax_buffered_mb_total = 8');
    expect(cfg.gateway).toMatchObject({ maxRequestMb: 2, maxInflightPerRun: 1, maxBufferedMbPerRun: 2, maxBufferedMbTotal: 8 });
  });

  it('refuses gateway limits that could never admit a body at the cap', () => {
    expect(() => parseConfig('[gateway]\nmax_request_mb = 40')).toThrow(/gateway\.max_request_mb: exceeds gateway\.max_buffered_mb_per_run/);
    expect(() => parseConfig('[gateway]\nmax_buffered_mb_per_run = 100')).toThrow(/gateway\.max_buffered_mb_per_run: exceeds gateway\.max_buffered_mb_total/);
  });
});
