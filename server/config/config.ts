import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parse as parseToml } from 'smol-toml';
import type { z } from 'zod';
import { camelKeys } from './camel-keys.js';
import { configFileSchema, splitListen } from './schema.js';

/**
 * The config as the code reads it: each table's keys camelCased, `listen` split into host and port,
 * each provider named by its table key. Paths stay as written until `parseConfig` resolves them.
 */
const configSchema = configFileSchema.transform(({ server: { listen, ...server }, ...f }) => {
  const { host, port } = splitListen(listen);
  return {
    server: { ...camelKeys(server), listenHost: host, listenPort: port },
    sandbox: camelKeys(f.sandbox),
    limits: camelKeys(f.limits),
    gateway: { ...camelKeys(f.gateway), socketDir: f.gateway.socket_dir ?? path.join(server.data_dir, 'gateway') },
    pool: camelKeys(f.pool),
    metrics: camelKeys(f.metrics),
    retention: camelKeys(f.retention),
    webhooks: camelKeys(f.webhooks),
    store: { path: f.store.path ?? path.join(server.data_dir, 'runs.db') },
    defaults: camelKeys(f.defaults),
    providers: Object.fromEntries(
      Object.entries(f.providers).map(([name, p]) => [name, { name, ...camelKeys(p), baseUrl: p.base_url.replace(/\/+$/, '') }]),
    ),
    environments: environmentsOf(f.environments, f.sandbox.image),
    tenants: f.tenants.map((t) => camelKeys(t)),
  };
});

type EnvironmentFile = z.output<typeof configFileSchema>['environments'][string];
type PolicyFile = EnvironmentFile['setup_network'];

/** Each environment named by its table key, its image resolved, `host:port` entries split; "default" added when not declared. */
function environmentsOf(environments: Record<string, EnvironmentFile>, sandboxImage: string) {
  const policy = (p: PolicyFile) => ({ policy: p.policy, allow: p.allow.map((entry) => ({ host: entry.slice(0, entry.lastIndexOf(':')).toLowerCase(), port: Number(entry.slice(entry.lastIndexOf(':') + 1)) })) });
  const none = { policy: 'none' as const, allow: [] };
  const all: Record<string, EnvironmentFile> = { default: { setup: [], setup_timeout_s: 600, setup_network: none, agent_network: none, setup_secret_env: [], pool_size: 0 }, ...environments };
  return Object.fromEntries(
    Object.entries(all).map(([name, e]) => [
      name,
      {
        name,
        image: e.image ?? sandboxImage,
        setup: e.setup,
        setupTimeoutS: e.setup_timeout_s,
        setupNetwork: policy(e.setup_network),
        agentNetwork: policy(e.agent_network),
        setupSecretEnv: e.setup_secret_env,
        poolSize: e.pool_size,
      },
    ]),
  );
}

export type Config = z.output<typeof configSchema>;
// Each room's slice, so a consumer can ask for only what it reads.
export type ServerConfig = Config['server'];
export type SandboxConfig = Config['sandbox'];
export type LimitsConfig = Config['limits'];
export type GatewayConfig = Config['gateway'];
export type DefaultsConfig = Config['defaults'];
export type StoreConfig = Config['store'];
export type ProviderConfig = Config['providers'][string];
export type TenantConfig = Config['tenants'][number];
export type EnvironmentConfig = Config['environments'][string];
export type NetworkPolicyConfig = EnvironmentConfig['setupNetwork'];

export class ConfigError extends Error {}

/** Parses TOML text (or an already parsed object) into a Config; relative paths resolve against baseDir. */
export function parseConfig(source: string | object, baseDir = process.cwd()): Config {
  let raw: unknown;
  try {
    raw = typeof source === 'string' ? parseToml(source) : source;
  } catch (err) {
    throw new ConfigError(`config is not valid TOML: ${(err as Error).message}`);
  }
  const result = configSchema.safeParse(raw);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  ${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new ConfigError(`invalid config:\n${lines.join('\n')}`);
  }
  const cfg = result.data;
  // Relative to the config file, not to wherever the server was started.
  return {
    ...cfg,
    server: { ...cfg.server, dataDir: path.resolve(baseDir, cfg.server.dataDir) },
    gateway: { ...cfg.gateway, socketDir: path.resolve(baseDir, cfg.gateway.socketDir) },
    store: { path: path.resolve(baseDir, cfg.store.path) },
  };
}

export async function loadConfig(file: string | undefined): Promise<Config> {
  if (!file) return parseConfig({});
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read config ${file}: ${(err as Error).message}`);
  }
  return parseConfig(text, path.dirname(path.resolve(file)));
}
