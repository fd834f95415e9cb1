import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { configFileSchema, type ConfigFile } from './schema.js';

export interface ProviderConfig {
  name: string;
  baseUrl: string;
  keyEnv?: string;
  wireApi: 'responses' | 'chat';
  headers: Record<string, string>;
  queryParams: Record<string, string>;
  models?: string[];
  requestMaxRetries?: number;
  streamMaxRetries?: number;
  keyDelivery: 'gateway' | 'env';
  egressNetwork: string;
}

export interface TenantConfig {
  name: string;
  tokenSha256: string;
  providers?: string[];
  runMaxRequests?: number;
  runMaxTokens?: number;
}

export interface Config {
  server: {
    listenHost: string;
    listenPort: number;
    dataDir: string;
    instance: string;
    logLevel: string;
    shutdownGraceS: number;
    headersTimeoutS: number;
    requestTimeoutS: number;
    keepAliveTimeoutS: number;
    maxConnections: number;
    engineCheckIntervalS: number;
    sweepIntervalS: number;
  };
  sandbox: {
    image: string;
    network: string;
    runtime: string;
    memoryMb: number;
    cpus: number;
    pidsLimit: number;
    workspaceMb: number;
    tmpMb: number;
    homeMb: number;
    uid: number;
    gid: number;
  };
  limits: {
    uploadMaxMb: number;
    workspaceMaxEntries: number;
    promptMaxBytes: number;
    maxConcurrentRuns: number;
    maxQueuedRuns: number;
    defaultTimeoutS: number;
    maxTimeoutS: number;
    collectTimeoutS: number;
    runMaxRequests: number;
    runMaxTokens: number;
    runMaxEvents: number;
    runMaxEventLogMb: number;
    eventLineMaxKb: number;
    maxEventStreamsPerTenant: number;
  };
  gateway: {
    socketDir: string;
    socketVolume: string;
    maxRequestMb: number;
    maxInflightPerRun: number;
    maxBufferedMbPerRun: number;
    maxBufferedMbTotal: number;
  };
  defaults: { provider: string; model: string };
  providers: Record<string, ProviderConfig>;
  tenants: TenantConfig[];
}

export class ConfigError extends Error {}

/** Parses TOML text (or an already parsed object) into a Config; relative paths resolve against baseDir. */
export function parseConfig(source: string | object, baseDir = process.cwd()): Config {
  let raw: unknown;
  try {
    raw = typeof source === 'string' ? parseToml(source) : source;
  } catch (err) {
    throw new ConfigError(`config is not valid TOML: ${(err as Error).message}`);
  }
  const result = configFileSchema.safeParse(raw);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  ${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new ConfigError(`invalid config:\n${lines.join('\n')}`);
  }
  return toConfig(result.data, baseDir);
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

function toConfig(f: ConfigFile, baseDir: string): Config {
  const [listenHost, listenPort] = splitHostPort(f.server.listen);
  const dataDir = path.resolve(baseDir, f.server.data_dir);
  const providers: Record<string, ProviderConfig> = {};
  for (const [name, p] of Object.entries(f.providers)) {
    providers[name] = {
      name,
      baseUrl: p.base_url.replace(/\/+$/, ''),
      keyEnv: p.key_env,
      wireApi: p.wire_api,
      headers: p.headers,
      queryParams: p.query_params,
      models: p.models,
      requestMaxRetries: p.request_max_retries,
      streamMaxRetries: p.stream_max_retries,
      keyDelivery: p.key_delivery,
      egressNetwork: p.egress_network,
    };
  }
  return {
    server: {
      listenHost,
      listenPort,
      dataDir,
      instance: f.server.instance,
      logLevel: f.server.log_level,
      shutdownGraceS: f.server.shutdown_grace_s,
      headersTimeoutS: f.server.headers_timeout_s,
      requestTimeoutS: f.server.request_timeout_s,
      keepAliveTimeoutS: f.server.keep_alive_timeout_s,
      maxConnections: f.server.max_connections,
      engineCheckIntervalS: f.server.engine_check_interval_s,
      sweepIntervalS: f.server.sweep_interval_s,
    },
    sandbox: {
      image: f.sandbox.image,
      network: f.sandbox.network,
      runtime: f.sandbox.runtime,
      memoryMb: f.sandbox.memory_mb,
      cpus: f.sandbox.cpus,
      pidsLimit: f.sandbox.pids_limit,
      workspaceMb: f.sandbox.workspace_mb,
      tmpMb: f.sandbox.tmp_mb,
      homeMb: f.sandbox.home_mb,
      uid: f.sandbox.uid,
      gid: f.sandbox.gid,
    },
    limits: {
      uploadMaxMb: f.limits.upload_max_mb,
      workspaceMaxEntries: f.limits.workspace_max_entries,
      promptMaxBytes: f.limits.prompt_max_bytes,
      maxConcurrentRuns: f.limits.max_concurrent_runs,
      maxQueuedRuns: f.limits.max_queued_runs,
      defaultTimeoutS: f.limits.default_timeout_s,
      maxTimeoutS: f.limits.max_timeout_s,
      collectTimeoutS: f.limits.collect_timeout_s,
      runMaxRequests: f.limits.run_max_requests,
      runMaxTokens: f.limits.run_max_tokens,
      runMaxEvents: f.limits.run_max_events,
      runMaxEventLogMb: f.limits.run_max_event_log_mb,
      eventLineMaxKb: f.limits.event_line_max_kb,
      maxEventStreamsPerTenant: f.limits.max_event_streams_per_tenant,
    },
    gateway: {
      socketDir: path.resolve(baseDir, f.gateway.socket_dir ?? path.join(dataDir, 'gateway')),
      socketVolume: f.gateway.socket_volume,
      maxRequestMb: f.gateway.max_request_mb,
      maxInflightPerRun: f.gateway.max_inflight_per_run,
      maxBufferedMbPerRun: f.gateway.max_buffered_mb_per_run,
      maxBufferedMbTotal: f.gateway.max_buffered_mb_total,
    },
    defaults: f.defaults,
    providers,
    tenants: f.tenants.map((t) => ({
      name: t.name,
      tokenSha256: t.token_sha256,
      providers: t.providers,
      runMaxRequests: t.run_max_requests,
      runMaxTokens: t.run_max_tokens,
    })),
  };
}

function splitHostPort(listen: string): [string, number] {
  const i = listen.lastIndexOf(':');
  const port = Number(listen.slice(i + 1));
  if (port > 65535) throw new ConfigError(`invalid config:\n  server.listen: port ${port} out of range`);
  return [listen.slice(0, i), port];
}
