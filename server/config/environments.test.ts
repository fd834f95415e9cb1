import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from './config.js';

const tenant = (extra: object = {}) => ({ name: 'ci', token_sha256: 'a'.repeat(64), ...extra });

describe('[environments.NAME]', () => {
  it('has a default environment: the sandbox image, no setup, no network', () => {
    const cfg = parseConfig({ sandbox: { image: 'my-sandbox:1' } });
    expect(cfg.environments).toEqual({
      default: {
        name: 'default',
        image: 'my-sandbox:1',
        setup: [],
        setupTimeoutS: 600,
        setupNetwork: { policy: 'none', allow: [] },
        agentNetwork: { policy: 'none', allow: [] },
        setupSecretEnv: [],
        poolSize: 0,
      },
    });
    expect(cfg.sandbox.egressNetwork).toBe('bridge');
  });

  it('reads an environment from TOML, its allow entries split into host and port', () => {
    const cfg = parseConfig(`
[environments.node]
image = "codex-runner-sandbox-node:latest"
setup = ["npm ci"]
setup_timeout_s = 120
setup_network = { policy = "allowlist", allow = ["registry.npmjs.org:443", "10.0.0.5:4873"] }
setup_secret_env = ["NPM_TOKEN"]
`);
    expect(cfg.environments.node).toMatchObject({
      image: 'codex-runner-sandbox-node:latest',
      setup: ['npm ci'],
      setupTimeoutS: 120,
      setupNetwork: { policy: 'allowlist', allow: [{ host: 'registry.npmjs.org', port: 443 }, { host: '10.0.0.5', port: 4873 }] },
      agentNetwork: { policy: 'none', allow: [] },
      setupSecretEnv: ['NPM_TOKEN'],
    });
    expect(cfg.environments.default!.image).toBe('codex-runner-sandbox:latest');
  });

  it('refuses allow entries without the allowlist policy, naming the key', () => {
    expect(() => parseConfig({ environments: { node: { setup: ['x'], setup_network: { policy: 'open', allow: ['a.example:443'] } } } })).toThrow(
      /environments\.node\.setup_network\.allow: allow needs policy = "allowlist"/,
    );
  });

  it('refuses an allowlist with nothing allowed, a bad entry and a port out of range', () => {
    expect(() => parseConfig({ environments: { e: { agent_network: { policy: 'allowlist' } } } })).toThrow(/environments\.e\.agent_network\.allow: policy "allowlist" with nothing allowed/);
    expect(() => parseConfig({ environments: { e: { agent_network: { policy: 'allowlist', allow: ['no-port'] } } } })).toThrow(/environments\.e\.agent_network\.allow\.0: host:port/);
    expect(() => parseConfig({ environments: { e: { agent_network: { policy: 'allowlist', allow: ['a:70000'] } } } })).toThrow(/allow\.0: port 70000 out of range/);
  });

  it('refuses an unknown policy and unknown keys', () => {
    expect(() => parseConfig({ environments: { e: { agent_network: { policy: 'wide' } } } })).toThrow(/environments\.e\.agent_network\.policy/);
    expect(() => parseConfig({ environments: { e: { setup_cmds: [] } } })).toThrow(ConfigError);
  });

  it('refuses setup secrets or a setup network without setup commands', () => {
    expect(() => parseConfig({ environments: { e: { setup_secret_env: ['TOKEN'] } } })).toThrow(/environments\.e\.setup_secret_env: no setup commands/);
    expect(() => parseConfig({ environments: { e: { setup_network: { policy: 'open' } } } })).toThrow(/environments\.e\.setup_network: no setup commands/);
    expect(() => parseConfig({ environments: { e: { setup: ['x'], setup_secret_env: ['not a name'] } } })).toThrow(/setup_secret_env\.0/);
  });

  it('takes a pool_size, but not for an open phase nor for the default environment ([pool] sizes that one)', () => {
    expect(parseConfig({ environments: { e: { pool_size: 2, setup: ['x'], setup_network: { policy: 'allowlist', allow: ['a.test:443'] } } } }).environments.e!.poolSize).toBe(2);
    expect(() => parseConfig({ environments: { e: { pool_size: 1, agent_network: { policy: 'open' } } } })).toThrow(/environments\.e\.pool_size: an environment with an "open" phase cannot be pooled/);
    expect(() => parseConfig({ environments: { default: { pool_size: 1 } } })).toThrow(/environments\.default\.pool_size: the default environment is pooled by \[pool\] size/);
  });

  it('refuses a tenant listing an environment that does not exist', () => {
    expect(() => parseConfig({ tenants: [tenant({ environments: ['default', 'rust'] })] })).toThrow(/tenants\.0\.environments\.1: no \[environments\.rust\] table/);
    expect(parseConfig({ tenants: [tenant({ environments: ['default'] })] }).tenants[0]!.environments).toEqual(['default']);
  });

  it('refuses a tenant listing an open environment without allow_open_network', () => {
    const environments = { wide: { agent_network: { policy: 'open' } } };
    expect(() => parseConfig({ environments, tenants: [tenant({ environments: ['wide'] })] })).toThrow(/tenants\.0\.environments\.0: .*allow_open_network = true/);
    expect(parseConfig({ environments, tenants: [tenant({ environments: ['wide'], allow_open_network: true })] }).tenants[0]!.allowOpenNetwork).toBe(true);
  });
});
