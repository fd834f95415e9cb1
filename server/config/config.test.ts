import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, expectTypeOf, it } from 'vitest';
import type { z } from 'zod';
import { camelCase, type CamelCase } from './camel-keys.js';
import { ConfigError, loadConfig, parseConfig, type Config, type ProviderConfig, type TenantConfig } from './config.js';
import { configFileSchema } from './schema.js';

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

  it('reports a port out of range together with the other errors', () => {
    expect(() => parseConfig('[server]\nlisten = "0.0.0.0:70000"\n[defaults]\nprovider = "nope"')).toThrow(
      'invalid config:\n  server.listen: port 70000 out of range\n  defaults.provider: no [providers.nope] table',
    );
  });

  it('refuses unknown keys in every table, provider and tenant tables too', () => {
    expect(() => parseConfig('foo = 1')).toThrow('invalid config:\n  (root): Unrecognized key: "foo"');
    expect(() => parseConfig('[sandbox]\nmemoryMb = 4096')).toThrow('invalid config:\n  sandbox: Unrecognized key: "memoryMb"');
    expect(() => parseConfig('[providers.openai]\nbase_url = "https://x.test"\nbaseUrl = "https://y.test"')).toThrow(/providers\.openai: Unrecognized key: "baseUrl"/);
    expect(() => parseConfig(`[[tenants]]\nname = "a"\ntoken_sha256 = "${'a'.repeat(64)}"\ntokenSha256 = "x"`)).toThrow(/tenants\.0: Unrecognized key: "tokenSha256"/);
  });
});

const fileSchema = configFileSchema.shape;
const SECTIONS = ['server', 'sandbox', 'limits', 'gateway', 'defaults'] as const;

describe('the Config derived from the schema', () => {
  it('has, for each table, exactly the schema keys camelCased (listen as listenHost and listenPort)', () => {
    const cfg = parseConfig({});
    for (const section of SECTIONS) {
      const keys = Object.keys(fileSchema[section].unwrap().shape).flatMap((k) => (k === 'listen' ? ['listenHost', 'listenPort'] : [camelCase(k)]));
      expect({ section, keys: Object.keys(cfg[section]).sort() }).toEqual({ section, keys: keys.sort() });
    }
    expect(Object.keys(cfg).sort()).toEqual(Object.keys(fileSchema).sort());
  });

  it('camelCases a fully written provider and tenant, and names the provider by its table key', () => {
    const cfg = parseConfig(`
[defaults]
provider = "my_local"
[providers.my_local]
base_url = "http://127.0.0.1:9/v1//"
key_env = "LOCAL_KEY"
wire_api = "chat"
headers = { X_Under = "a" }
query_params = { api_version = "1" }
models = ["m"]
request_max_retries = 1
stream_max_retries = 2
key_delivery = "env"
egress_network = "egress"
[[tenants]]
name = "ci"
token_sha256 = "${'b'.repeat(64)}"
providers = ["my_local"]
run_max_requests = 3
run_max_tokens = 4
max_concurrent_runs = 2
max_queued_runs = 5
weight = 3
max_timeout_s = 60
max_memory_mb = 512
max_cpus = 0.5
max_workspace_mb = 16
webhook_prefixes = ["https://ci.example.org/hooks/"]
webhook_secret_env = "CI_HOOKS"
environments = ["default"]
allow_open_network = false
`);
    const provider = fileSchema.providers.unwrap().valueType.shape;
    expect(Object.keys(cfg.providers.my_local!).sort()).toEqual(['name', ...Object.keys(provider).map(camelCase)].sort());
    // Table keys, header names and query parameters are names, not config keys: kept as written.
    expect(cfg.providers).toEqual({
      my_local: {
        name: 'my_local',
        baseUrl: 'http://127.0.0.1:9/v1',
        keyEnv: 'LOCAL_KEY',
        wireApi: 'chat',
        headers: { X_Under: 'a' },
        queryParams: { api_version: '1' },
        models: ['m'],
        requestMaxRetries: 1,
        streamMaxRetries: 2,
        keyDelivery: 'env',
        egressNetwork: 'egress',
      },
    });
    const tenant = fileSchema.tenants.unwrap().element.shape;
    expect(Object.keys(cfg.tenants[0]!).sort()).toEqual(Object.keys(tenant).map(camelCase).sort());
    expect(cfg.tenants).toEqual([
      {
        name: 'ci',
        tokenSha256: 'b'.repeat(64),
        providers: ['my_local'],
        runMaxRequests: 3,
        runMaxTokens: 4,
        maxConcurrentRuns: 2,
        maxQueuedRuns: 5,
        weight: 3,
        maxTimeoutS: 60,
        maxMemoryMb: 512,
        maxCpus: 0.5,
        maxWorkspaceMb: 16,
        webhookPrefixes: ['https://ci.example.org/hooks/'],
        webhookSecretEnv: 'CI_HOOKS',
        environments: ['default'],
        allowOpenNetwork: false,
      },
    ]);
  });

  it('refuses a tenant quota over the server\'s own value, naming both keys', () => {
    const tenant = (quota: object) => ({ limits: { max_concurrent_runs: 2 }, sandbox: { memory_mb: 1024 }, tenants: [{ name: 'ci', token_sha256: 'c'.repeat(64), ...quota }] });
    expect(() => parseConfig(tenant({ max_memory_mb: 1025 }))).toThrow(/tenants\.0\.max_memory_mb: exceeds sandbox\.memory_mb \(1024\)/);
    expect(() => parseConfig(tenant({ max_concurrent_runs: 3 }))).toThrow(/tenants\.0\.max_concurrent_runs: exceeds limits\.max_concurrent_runs \(2\)/);
    expect(() => parseConfig(tenant({ max_cpus: 2.5 }))).toThrow(/tenants\.0\.max_cpus: exceeds sandbox\.cpus \(2\)/);
    expect(() => parseConfig(tenant({ weight: 0 }))).toThrow(/tenants\.0\.weight/);
    expect(parseConfig(tenant({ max_memory_mb: 1024, max_concurrent_runs: 2 })).tenants[0]).toMatchObject({ maxMemoryMb: 1024, maxConcurrentRuns: 2 });
  });

  it('types each slice with the schema keys camelCased', () => {
    type FileKeys<S extends (typeof SECTIONS)[number]> = CamelCase<keyof z.output<typeof configFileSchema>[S] & string>;
    expectTypeOf<keyof Config['sandbox']>().toEqualTypeOf<FileKeys<'sandbox'>>();
    expectTypeOf<keyof Config['limits']>().toEqualTypeOf<FileKeys<'limits'>>();
    expectTypeOf<keyof Config['gateway']>().toEqualTypeOf<FileKeys<'gateway'>>();
    expectTypeOf<keyof Config['server']>().toEqualTypeOf<Exclude<FileKeys<'server'>, 'listen'> | 'listenHost' | 'listenPort'>();
    expectTypeOf<Config['gateway']['socketDir']>().toEqualTypeOf<string>();
    expectTypeOf<ProviderConfig['name']>().toEqualTypeOf<string>();
    expectTypeOf<TenantConfig['tokenSha256']>().toEqualTypeOf<string>();
  });
});

describe('config paths', () => {
  it('resolves data_dir and socket_dir against the base directory, each on its own', () => {
    expect(parseConfig('[server]\ndata_dir = "../d/./e"', '/srv/conf')).toMatchObject({ server: { dataDir: '/srv/d/e' }, gateway: { socketDir: '/srv/d/e/gateway' } });
    const cfg = parseConfig('[server]\ndata_dir = "/var/x"\n[gateway]\nsocket_dir = "../sock"', '/srv/conf');
    expect(cfg.server.dataDir).toBe('/var/x');
    expect(cfg.gateway.socketDir).toBe('/srv/sock');
  });

  it('resolves relative paths against the working directory when no base is given', () => {
    expect(parseConfig({}).server.dataDir).toBe(path.resolve('data'));
  });

  it('loads a file with its paths relative to the file, not to the working directory', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'codex-runner-config-'));
    try {
      const file = path.join(dir, 'server.toml');
      await writeFile(file, '[server]\ndata_dir = "state"\n');
      const cfg = await loadConfig(path.relative(process.cwd(), file));
      expect(cfg.server.dataDir).toBe(path.join(dir, 'state'));
      expect(cfg.gateway.socketDir).toBe(path.join(dir, 'state', 'gateway'));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('names the file it cannot read', async () => {
    await expect(loadConfig('/nonexistent/codex-runner.toml')).rejects.toThrow(/cannot read config \/nonexistent\/codex-runner\.toml/);
  });
});
