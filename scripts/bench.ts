// `npm run bench [-- --runs N --upload-mb M]`: measures the service against the floor (one hardened
// container running Codex by hand) and prints ratios measured side by side in one run. Times are
// reported, never judged: the exit code is non-zero only when the bench itself fails (a run that
// does not succeed, a sandbox left behind).
import { setTimeout as sleep } from 'node:timers/promises';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import Dockerode from 'dockerode';
import { parseConfig } from '../server/config/config.js';
import { INSTANCE_LABEL } from '../server/sandbox/container-spec.js';
import { startResponsesStandIn, STAND_IN_MODEL } from '../test/fixtures/responses-stand-in.js';
import { FLOOR_LABEL, startFloor } from './bench/floor.js';
import { assertNoLeftovers, holdings, runSandboxLabels } from './bench/leaks.js';
import { floorOnce, latencyPrompt, measureLatency, serviceOnce } from './bench/latency.js';
import { ATTACK_PEAK_RSS_BOUND_BYTES, measureAttackMemory, measureRunAttackMemory, RUN_ATTACK_PEAK_RSS_BOUND_BYTES } from './bench/attack-memory.js';
import { measureAdmissionRate } from './bench/admission-rate.js';
import { printAdmissionRate, printAttacks, printBigWorkspace, printConcurrency, printImage, printLatency, printLeaks, printStore, printUpload } from './bench/report.js';
import { measureBigWorkspace } from './bench/big-workspace.js';
import { measureConcurrency } from './bench/concurrency.js';
import { measureCpuPerRun } from './bench/cpu-accounting.js';
import { measureEgress, printEgress } from './bench/egress.js';
import { untilPoolFull } from './bench/pool-wait.js';
import { writeRandomTarball, writeTreeTarball } from './bench/tarball.js';
import { startServerChild } from './bench/server-child.js';
import { measureStore } from './bench/store.js';
import { measureUploadMemory } from './bench/upload-memory.js';

/** Side D's image: `npm run sandbox:build -- --env node` (npm run setup builds it). */
const NODE_ENVIRONMENT_IMAGE = 'codex-runner-sandbox-node:latest';
const ENVIRONMENT_POOL_SIZE = 2;

const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: '8' },
    'upload-mb': { type: 'string', default: '200' },
    // Only the run store's section: no Docker, a few seconds.
    'store-only': { type: 'boolean', default: false },
    // Only the egress proxy's section (6e): no Docker, a few seconds.
    'egress-only': { type: 'boolean', default: false },
    // Only the admission burst (section 7): Docker, about a minute.
    'admission-only': { type: 'boolean', default: false },
    // Only the speed figures: latency (1), concurrency (9) and big workspaces (10).
    'speed-only': { type: 'boolean', default: false },
    // Only the big workspaces (section 10): Docker, about two minutes.
    'big-only': { type: 'boolean', default: false },
  },
});
const runs = Number(args.runs);
const uploadMb = Number(args['upload-mb']);
if (!Number.isInteger(runs) || runs < 1 || !Number.isInteger(uploadMb) || uploadMb < 32 || uploadMb > 480) {
  console.error('usage: npm run bench -- [--runs N (>= 1, default 8)] [--upload-mb M (32..480, default 200)] [--store-only] [--egress-only] [--admission-only] [--speed-only] [--big-only]');
  process.exit(2);
}

/** Releases what the bench started, newest first; each step runs even if an earlier one failed. */
const cleanups: { what: string; release: () => Promise<unknown> }[] = [];
let cleaning: Promise<void> | undefined;
const cleanUp = () =>
  (cleaning ??= (async () => {
    for (const { what, release } of cleanups.reverse()) {
      await release().catch((err) => {
        console.error(`bench: cleanup "${what}" failed:`, err);
        process.exitCode = 1;
      });
    }
  })());
let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    interrupted = true;
    console.error(`bench: ${signal}, cleaning up`);
    void cleanUp().then(() => process.exit(130));
  });
}

async function main(): Promise<void> {
  if (args['store-only']) {
    const dir = await mkdtemp(path.join(tmpdir(), 'codex-runner-bench-'));
    cleanups.push({ what: 'temp dir', release: () => rm(dir, { recursive: true, force: true }) });
    printStore('6. the run store', await measureStore(dir));
    return;
  }
  if (args['egress-only']) {
    const dir = await mkdtemp(path.join(tmpdir(), 'codex-runner-bench-'));
    cleanups.push({ what: 'temp dir', release: () => rm(dir, { recursive: true, force: true }) });
    printEgress('6e. the egress proxy', await measureEgress(dir));
    return;
  }
  const docker = new Dockerode();
  await docker.ping().catch((err) => {
    throw new Error(`Docker is not reachable: ${(err as Error).message}`);
  });
  // One id names this bench's server instance and labels its floor containers: the Docker engine may
  // be shared, so every check and sweep is limited to what this bench started.
  const benchId = `bench-${randomBytes(4).toString('hex')}`;
  if (args['admission-only']) {
    const dir = await mkdtemp(path.join(tmpdir(), 'codex-runner-bench-'));
    cleanups.push({ what: 'temp dir', release: () => rm(dir, { recursive: true, force: true }) });
    cleanups.push({ what: 'admission sandboxes', release: () => sweep(docker, `${INSTANCE_LABEL}=${benchId}-admission`) });
    printAdmissionRate('7. admission', await measureAdmissionRate(dir, `${benchId}-admission`));
    return;
  }
  const floorLabel = `${FLOOR_LABEL}=${benchId}`;
  cleanups.push({ what: 'floor containers', release: () => sweep(docker, floorLabel) });

  const dir = await mkdtemp(path.join(tmpdir(), 'codex-runner-bench-'));
  cleanups.push({ what: 'temp dir', release: () => rm(dir, { recursive: true, force: true }) });
  const standIn = await startResponsesStandIn();
  cleanups.push({ what: 'stand-in', release: () => standIn.close() });

  const token = `bench-${randomBytes(8).toString('hex')}`;
  const rawConfig = {
    server: { listen: '127.0.0.1:0', data_dir: path.join(dir, 'data'), instance: benchId, log_level: 'info', shutdown_grace_s: 0 },
    defaults: { provider: 'standin', model: STAND_IN_MODEL },
    providers: { standin: { base_url: standIn.url, key_env: 'STANDIN_KEY' } },
    sandbox: { workspace_mb: 512 },
    // Room for the concurrency section's 8 runs at once; the pool at its default size.
    limits: { upload_max_mb: 512, max_concurrent_runs: 8 },
    // Side D: an environment of another image, pooled as the default one is.
    environments: { node: { image: NODE_ENVIRONMENT_IMAGE, pool_size: ENVIRONMENT_POOL_SIZE } },
  };
  const config = parseConfig(rawConfig);
  // Released after the server: whatever its own shutdown sweep missed, if it died before it.
  cleanups.push({ what: 'service sandboxes', release: () => sweep(docker, `${INSTANCE_LABEL}=${benchId}`) });
  const env = { CODEX_RUNNER_TOKEN: token, STANDIN_KEY: 'sk-bench-stand-in' };
  const server = await startServerChild(rawConfig, env);
  cleanups.push({ what: 'server', release: () => server.close() });
  // The same server without a pool: every run starts its own sandbox.
  const coldId = `${benchId}-cold`;
  cleanups.push({ what: 'cold service sandboxes', release: () => sweep(docker, `${INSTANCE_LABEL}=${coldId}`) });
  const cold = await startServerChild({ ...rawConfig, server: { ...rawConfig.server, instance: coldId, data_dir: path.join(dir, 'data-cold') }, pool: { size: 0 }, environments: {} }, env);
  cleanups.push({ what: 'cold server', release: () => cold.close() });
  const floor = await startFloor(docker, config, standIn.url, benchId);
  cleanups.push({ what: 'floor forwarder', release: () => floor.close() });

  if (args['big-only']) {
    await cold.close();
    await floorOnce(floor, latencyPrompt(standIn));
    await serviceOnce(server, token, latencyPrompt(standIn));
    await bigWorkspaces();
    return;
  }
  console.log(`codex-runner bench: ${runs} runs per side, interleaved A (floor) / B (warm pool) / C (no pool) / D (the node environment's pool), one warm-up each; server pid ${server.pid}\n`);
  const prompt = latencyPrompt(standIn);
  const poolFull = () => untilPoolFull(docker, benchId, config.pool.size + ENVIRONMENT_POOL_SIZE);
  const nodeEnvironment = { environment: 'node' };
  await floorOnce(floor, prompt);
  await serviceOnce(server, token, prompt);
  await serviceOnce(cold, token, prompt);
  await serviceOnce(server, token, prompt, nodeEnvironment);
  const afterWarmUp = await holdings(server);

  const latency = await measureLatency(
    floor,
    [
      { label: 'B service, warm pool (POST /v1/runs?wait=1)', server, token, before: poolFull },
      { label: 'C service, no pool', server: cold, token },
      { label: "D service, the node environment from its own pool", server, token, before: poolFull, options: nodeEnvironment },
    ],
    prompt,
    runs,
  );
  const afterRuns = await holdings(server);
  await cold.close();
  if (args['speed-only']) {
    printLatency(latency);
    await speed();
    return;
  }
  await assertNoLeftovers(docker, `after ${runs + 1} service runs`, runSandboxLabels(benchId));
  await assertNoLeftovers(docker, `after ${runs + 1} floor runs`, [floorLabel]);
  printLatency(latency);

  const smallUpload = await measureUploadMemory(server, standIn, token, dir, Math.round(uploadMb / 8));
  const largeUpload = await measureUploadMemory(server, standIn, token, dir, uploadMb);
  await assertNoLeftovers(docker, 'after the upload runs', runSandboxLabels(benchId));
  printUpload(smallUpload, largeUpload);
  // Measured before the upload, so the large run's buffers do not blur the comparison.
  printLeaks(afterWarmUp, afterRuns, runs);

  const attacked = await measureAttackMemory(dir, `${benchId}-attacks`, token);
  await assertNoLeftovers(docker, 'after the upload attacks', [`${INSTANCE_LABEL}=${benchId}-attacks`]);
  printAttacks('4. upload attacks', attacked, ATTACK_PEAK_RSS_BOUND_BYTES);

  const runAttacked = await measureRunAttackMemory(dir, `${benchId}-run-attacks`, token);
  await assertNoLeftovers(docker, 'after the run attacks', [`${INSTANCE_LABEL}=${benchId}-run-attacks`]);
  printAttacks('5. attacks from inside a sandbox', runAttacked, RUN_ATTACK_PEAK_RSS_BOUND_BYTES);

  printStore('6. the run store', await measureStore(dir));
  printEgress('6e. the egress proxy', await measureEgress(dir));

  const admission = await measureAdmissionRate(dir, `${benchId}-admission`);
  await assertNoLeftovers(docker, 'after the admission burst', [`${INSTANCE_LABEL}=${benchId}-admission`]);
  printAdmissionRate('7. admission', admission);

  printImage(config.sandbox.image, (await docker.getImage(config.sandbox.image).inspect()).Size);
  await speed();

  /** Issue 13's figures beside the floor: concurrency (9) and big workspaces (10). */
  async function speed(): Promise<void> {
    await poolFull();
    // The floor removes its container before it answers; the service's removal and the pool's refill
    // come after, so the series ends once the pool is full again and the removals are done.
    const settled = async () => {
      await poolFull();
      await sleep(2_000);
    };
    const cpu = {
      floor: await measureCpuPerRun(server.pid, () => floorOnce(floor, prompt), runs, () => sleep(2_000)),
      service: await measureCpuPerRun(server.pid, () => serviceOnce(server, token, prompt), runs, settled),
    };
    await poolFull();
    const concurrency = await measureConcurrency(server, token, prompt, [1, 4, 8], (level) => Math.max(8, level * 3));
    await assertNoLeftovers(docker, 'after the concurrency runs', runSandboxLabels(benchId));
    printConcurrency(concurrency, cpu);
    await bigWorkspaces();
  }

  async function bigWorkspaces(): Promise<void> {
    const big = [];
    const randomTar = path.join(dir, 'big-random.tar');
    await writeRandomTarball(randomTar, 4, Math.round(uploadMb / 4));
    big.push(await measureBigWorkspace(docker, server, standIn, token, config, benchId, dir, { name: `${uploadMb} MiB random, 4 files`, tarball: randomTar, files: 4 }));
    await rm(randomTar, { force: true });
    const treeTar = path.join(dir, 'big-tree.tar');
    const tree = await writeTreeTarball(treeTar, ['/usr/include', '/usr/share', path.resolve('node_modules')], 20_000, uploadMb * 1024 * 1024);
    big.push(await measureBigWorkspace(docker, server, standIn, token, config, benchId, dir, { name: 'real trees (/usr/include, /usr/share, node_modules)', tarball: treeTar, files: tree.files }));
    await rm(treeTar, { force: true });
    await assertNoLeftovers(docker, 'after the big workspaces', runSandboxLabels(benchId));
    await assertNoLeftovers(docker, 'after the big workspaces\' floor', [floorLabel]);
    printBigWorkspace(big);
  }
}

/** Removes containers and volumes carrying a label; the bench's safety net, not the service's sweep. */
async function sweep(docker: Dockerode, label: string): Promise<void> {
  const containers = await docker.listContainers({ all: true, filters: { label: [label] } });
  await Promise.all(containers.map((c) => docker.getContainer(c.Id).remove({ force: true })));
  const { Volumes } = await docker.listVolumes({ filters: { label: [label] } });
  await Promise.all((Volumes ?? []).map((v) => docker.getVolume(v.Name).remove()));
}

try {
  await main();
} catch (err) {
  if (!interrupted) console.error('\nbench failed:', err instanceof Error ? err.message : err);
  process.exitCode = 1;
} finally {
  await cleanUp();
}
