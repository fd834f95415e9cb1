import { readFileSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { serve } from '@hono/node-server';
import type { Logger } from 'pino';
import { createApp } from './app.js';
import type { Config } from './config/config.js';
import { GatewayAdmission, gatewayLimitsFromConfig } from './gateway/admission.js';
import { createGatewayApp } from './gateway/gateway-app.js';
import { openGatewaySockets } from './gateway/gateway-server.js';
import { GatewayTokens } from './gateway/tokens.js';
import { defaultTenant, TokenAuthenticator } from './http/auth.js';
import { answerClientErrors } from './http/client-errors.js';
import { providerAccessOpener } from './provider-access/index.js';
import { RetentionSweeper } from './runs/retention-sweeper.js';
import { FileRunArtifacts } from './runs/run-artifacts.js';
import { FairQueue } from './runs/fair-queue.js';
import { planRun } from './runs/run-plan.js';
import { RunService } from './runs/run-service.js';
import { StorageHealth } from './runs/storage-health.js';
import { PeriodicTask } from './scheduling/periodic-task.js';
import { SqliteRunStore } from './runs/sqlite-run-store.js';
import { tenantQuota } from './runs/tenant-quota.js';
import { DockerSandboxDriver } from './sandbox/docker-driver.js';
import { RunWebhooks } from './runs/run-webhooks.js';
import { WebhookSender } from './webhooks/webhook-sender.js';
import { EngineHealth } from './sandbox/engine-health.js';
import { OrphanSweeper } from './sandbox/orphan-sweeper.js';
import { WarmPool, type SandboxShape } from './sandbox/warm-pool.js';
import { WarmPools } from './sandbox/warm-pools.js';
import { needsEgressProxy } from './runs/phase-network.js';
import type { SandboxDriver } from './sandbox/driver.js';
import { PrometheusTelemetry } from './telemetry/prometheus-telemetry.js';
import { fanOut, type Telemetry } from './telemetry/telemetry.js';

export interface StartOptions {
  config: Config;
  env: Record<string, string | undefined>;
  log: Logger;
  /** The Docker Engine API's socket; dockerode's default (DOCKER_HOST, else /var/run/docker.sock) when unset. */
  dockerSocketPath?: string;
  /** Called once with a token the server made because none was configured. */
  onGeneratedToken?: (token: string) => void;
  telemetry?: Telemetry;
}

export interface RunningServer extends AsyncDisposable {
  url: string;
  /** What the API serves; its `routes` are what the OpenAPI document must describe. */
  app: { routes: readonly { method: string; path: string }[] };
  service: RunService;
  driver: SandboxDriver;
  pool: WarmPool;
  close(): Promise<void>;
}

/** How often the data_dir's free space is read: how soon, once it was full, runs are taken again. */
const STORAGE_CHECK_MS = 1_000;

/** A sandbox uid that is also a host account lets that account read a run's token in /proc. */
function warnIfHostAccount(uid: number, log: Logger): void {
  let passwd: string;
  try {
    passwd = readFileSync('/etc/passwd', 'utf8');
  } catch {
    return;
  }
  const account = passwd.split('\n').find((line) => line.split(':')[2] === String(uid));
  if (account) log.warn({ uid, account: account.split(':')[0] }, `sandbox.uid ${uid} is the host account ${account.split(':')[0]}: it can read every run's token; choose another`);
}

/** Builds every part from the config and starts serving; close() shuts down in order. */
export async function startServer(options: StartOptions): Promise<RunningServer> {
  const { config, env, log } = options;
  await mkdir(config.server.dataDir, { recursive: true });
  // Uploads are spooled here only while a request is read; anything left is from a crash.
  const uploadDir = path.join(config.server.dataDir, 'uploads');
  await rm(uploadDir, { recursive: true, force: true });
  await mkdir(uploadDir, { recursive: true });
  // Opened first, so that a file it cannot use stops startup before anything else is started. Its
  // one owner: closed by close(), once the last run has recorded its end.
  const store = SqliteRunStore.open(config.store.path);

  let tenants = config.tenants;
  if (tenants.length === 0) {
    const fallback = defaultTenant(env);
    tenants = [fallback.tenant];
    if (fallback.generatedToken) options.onGeneratedToken?.(fallback.generatedToken);
  }
  const auth = new TokenAuthenticator(tenants);

  const providerProblems: Record<string, string> = {};
  for (const p of Object.values(config.providers)) {
    if (p.keyEnv && !env[p.keyEnv]) providerProblems[p.name] = `environment variable ${p.keyEnv} is not set`;
  }
  for (const [name, problem] of Object.entries(providerProblems)) log.warn({ provider: name }, `provider ${name}: ${problem}`);
  for (const p of Object.values(config.providers).filter((p) => p.keyDelivery === 'env')) {
    log.warn(
      { provider: p.name, network: p.egressNetwork },
      `provider ${p.name}: key_delivery = "env" puts its real key inside every sandbox that uses it, readable by any command the model runs, and gives those sandboxes the ${p.egressNetwork} network`,
    );
  }

  const driver = DockerSandboxDriver.connect(options.dockerSocketPath, log.child({ part: 'docker' }), {
    instance: config.server.instance,
    gatewayVolume: config.gateway.socketVolume,
  });
  const engine = new EngineHealth(driver, config.server.engineCheckIntervalS * 1000, log.child({ part: 'engine' }));
  await engine.start();
  if (!engine.problem) {
    const swept = await driver.sweep();
    if (swept.containers || swept.volumes) log.warn(swept, 'removed sandboxes left by an earlier run of this instance');
  }

  // Telemetry goes to Prometheus metrics, and to the caller's own sink too when it gives one.
  const queue = new FairQueue(config.limits, (tenant) => tenantQuota(config, tenant));
  const prometheus = new PrometheusTelemetry({ tenants: () => tenants.map((t) => t.name), statsFor: (t) => queue.statsFor(t) });
  const telemetry = options.telemetry ? fanOut(prometheus, options.telemetry) : prometheus;

  const tokens = new GatewayTokens();
  const gatewayLog = log.child({ part: 'gateway' });
  const gateway = await openGatewaySockets(
    createGatewayApp({
      tokens,
      env,
      log: gatewayLog,
      admission: new GatewayAdmission(gatewayLimitsFromConfig(config.gateway)),
      telemetry,
      upstreamIdleTimeoutMs: config.gateway.upstreamIdleTimeoutS * 1000,
    }),
    config.gateway.socketDir,
    config.sandbox.gid,
    gatewayLog,
  );
  if (!gateway.restricted) {
    log.warn({ dir: gateway.dir }, `the gateway sockets are open to every local user: the server could not give them to group ${config.sandbox.gid} (run it as root)`);
  }
  warnIfHostAccount(config.sandbox.uid, log);
  const artifacts = new FileRunArtifacts(config.server.dataDir);
  const webhookSender = new WebhookSender({
    maxAttempts: config.webhooks.maxAttempts,
    firstBackoffMs: config.webhooks.firstBackoffMs,
    timeoutMs: config.webhooks.timeoutS * 1000,
    log: log.child({ part: 'webhooks' }),
  });
  const webhookSecrets = new Map(tenants.flatMap((t) => (t.webhookSecretEnv && env[t.webhookSecretEnv] ? [[t.name, env[t.webhookSecretEnv]!]] : [])));
  const webhookProblems: Record<string, string> = {};
  for (const t of tenants) {
    if (t.webhookPrefixes?.length && !webhookSecrets.has(t.name)) {
      webhookProblems[t.name] = t.webhookSecretEnv ? `environment variable ${t.webhookSecretEnv} is not set` : 'no webhook_secret_env';
      log.warn({ tenant: t.name }, `tenant ${t.name}: its webhooks cannot be signed (${webhookProblems[t.name]}); runs asking for one are refused`);
    }
  }
  const environmentProblems: Record<string, string> = {};
  for (const e of Object.values(config.environments)) {
    const unset = e.setupSecretEnv.filter((n) => !env[n]);
    if (unset.length) {
      environmentProblems[e.name] = `environment variable ${unset.join(', ')} is not set`;
      log.warn({ environment: e.name }, `environment ${e.name}: ${environmentProblems[e.name]}; its runs are refused`);
    }
  }
  if (!engine.problem) {
    for (const e of Object.values(config.environments)) {
      if (e.image !== config.sandbox.image && !(await driver.hasImage(e.image).catch(() => true))) {
        log.warn({ environment: e.name }, `environment ${e.name}: its image ${e.image} is missing (npm run sandbox:build -- --env NAME); its runs will fail to start`);
      }
    }
  }
  const storage = new StorageHealth(config.server.dataDir, log.child({ part: 'storage' }));
  await storage.check();
  const webhooks = new RunWebhooks({ sender: webhookSender, secretFor: (tenant) => webhookSecrets.get(tenant), store, log: log.child({ part: 'webhooks' }) });
  const poolOptions = (size: number) => ({
    size,
    minAvailableMb: config.pool.minAvailableMb,
    maxIdleS: config.pool.maxIdleS,
    refillIntervalMs: config.pool.refillIntervalMs,
    maxRunLifetimeS: config.limits.maxTimeoutS + config.limits.collectTimeoutS + 300,
  });
  const pool = new WarmPool({ driver, sockets: gateway, shape: defaultSandboxShape(config), options: poolOptions(config.pool.size), log: log.child({ part: 'pool' }) });
  // An environment with a pool_size gets its own pool, of its image (and the egress proxy's relay
  // when a phase of it is "allowlist"); the default environment's is [pool].
  const environmentPools = Object.values(config.environments)
    .filter((e) => e.poolSize > 0 && e.name !== 'default')
    .map((e) => {
      const shape = { ...defaultSandboxShape(config), image: e.image, egressProxy: needsEgressProxy(e) };
      return new WarmPool({ driver, sockets: gateway, shape, options: poolOptions(e.poolSize), log: log.child({ part: 'pool', environment: e.name }) });
    });
  const pools = new WarmPools([pool, ...environmentPools]);
  const service = new RunService({
    executor: {
      driver,
      pool: config.pool.size > 0 || environmentPools.length > 0 ? pools : undefined,
      access: providerAccessOpener({ tokens, sockets: gateway, sandboxNetwork: config.sandbox.network, env }),
      config,
      secrets: (names) => Object.fromEntries(names.map((n) => [n, env[n] ?? ''])),
    },
    plan: (tenant, runOptions) => planRun({ ...config, providerProblems, webhookProblems, environmentProblems }, tenant, runOptions),
    onEnded: (run) => webhooks.runEnded(run),
    admission: queue,
    store,
    artifacts,
    telemetry,
    limits: config.limits,
    engineProblem: () => engine.problem,
    storage,
    log,
  });
  // Learns that space returned, and then writes the ends a full data_dir held back.
  const storageWatch = new PeriodicTask(STORAGE_CHECK_MS, async () => {
    await storage.check();
    if (!storage.problem) await service.flushUnsaved();
  });
  storageWatch.start();
  // After the startup sweep (an interrupted run's sandbox is gone first), before the first request.
  await service.recover();
  await webhooks.resumePending();
  const sweeper = new OrphanSweeper({
    driver,
    liveRunIds: () => {
      const live = service.liveRunIds();
      return { has: (runId: string) => live.has(runId) || pools.owns(runId) };
    },
    engineProblem: () => engine.problem,
    intervalMs: config.server.sweepIntervalS * 1000,
    log: log.child({ part: 'sweeper' }),
  });
  sweeper.start();
  pools.start();
  const retention = new RetentionSweeper({
    store,
    artifacts,
    policy: { maxAgeMs: config.retention.maxAgeDays * 24 * 3600 * 1000, maxBytes: config.retention.maxBytes },
    intervalMs: config.retention.sweepIntervalS * 1000,
    log: log.child({ part: 'retention' }),
  });
  retention.start();
  const app = createApp({ config, service, driver, auth, log, providerProblems, storageProblem: () => storage.problem, metrics: prometheus });

  const { headersTimeoutS, requestTimeoutS, keepAliveTimeoutS, maxConnections } = config.server;
  const http = await new Promise<Server>((resolve) => {
    const server = serve(
      {
        fetch: app.fetch,
        hostname: config.server.listenHost,
        port: config.server.listenPort,
        // Responses may stream for as long as a run lasts; these bound only what the client sends.
        // Node checks them every connectionsCheckingInterval (30 s by default, longer than the timeouts).
        serverOptions: {
          headersTimeout: headersTimeoutS * 1000,
          requestTimeout: requestTimeoutS * 1000,
          keepAliveTimeout: keepAliveTimeoutS * 1000,
          connectionsCheckingInterval: 1000,
        },
      },
      () => resolve(server as Server),
    );
    (server as Server).maxConnections = maxConnections;
    answerClientErrors(server as Server, log.child({ part: 'http' }));
  });
  const address = http.address() as AddressInfo;
  const url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
  log.info({ url, gatewayDir: gateway.dir, instance: config.server.instance }, 'codex-runner listening');

  let closing: Promise<void> | null = null;
  const close = () =>
    (closing ??= (async () => {
      const stopped = new Promise<void>((r) => http.close(() => r()));
      // Before any other wait: from here on a new run is refused as shutting down.
      await service.shutdown(config.server.shutdownGraceS);
      await storageWatch.stop();
      await pools.close();
      http.closeAllConnections();
      await stopped;
      await sweeper.stop();
      await retention.stop();
      await engine.stop();
      await driver.sweep().catch((err) => log.error({ err }, 'final sweep failed'));
      await gateway.close();
      await webhookSender.close();
      store.close();
    })());
  return { url, app, service, driver, pool, close, [Symbol.asyncDispose]: close };
}

/** The sandbox of a run that asks for nothing, of a tenant with no ceilings: the one the pool makes ahead. */
function defaultSandboxShape(config: Config): SandboxShape {
  const { image, runtime, network, memoryMb, cpus, workspaceMb, pidsLimit, tmpMb, homeMb, uid, gid } = config.sandbox;
  return { image, runtime, network, ids: { uid, gid }, limits: { memoryMb, cpus, workspaceMb, pidsLimit, tmpMb, homeMb } };
}
