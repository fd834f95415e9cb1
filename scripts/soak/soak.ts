// Many runs, good and hostile, a few at a time against one server process; what the server and the
// engine hold is counted before and after. Used by scripts/soak.ts and test/soak.test.ts.
import { readdir } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import path from 'node:path';
import type Dockerode from 'dockerode';
import { SOAK_SERVER_CONFIG, soakCaseFor, type SoakTarget } from '../../test/fixtures/soak-mix.js';
import { holdings } from '../bench/leaks.js';
import type { ServerChild } from '../bench/server-child.js';
import { runFiles } from '../../server/runs/run-files.js';
import { INSTANCE_LABEL } from '../../server/sandbox/container-spec.js';
import { sandboxesOf, untilPoolFull } from '../bench/pool-wait.js';

export interface SoakCount {
  /** The runs' sandboxes: the warm pool's are counted apart. */
  containers: number;
  volumes: number;
  pooled: number;
  fds: number;
  rssBytes: number;
  heapUsedBytes: number;
  /** Uploads still spooled, and run files that only a live run may hold (its input, its baseline). */
  tempFiles: number;
}

export interface SoakOutcome {
  index: number;
  name: string;
  hostile: boolean;
  /** The run's final status, 'refused' for a request answered with a 4xx, or null when it broke. */
  ended: string | null;
  problem: string | null;
  ms: number;
}

export interface SoakReport {
  before: SoakCount;
  after: SoakCount;
  outcomes: SoakOutcome[];
  wallMs: number;
}

export interface SoakOptions {
  server: ServerChild;
  target: SoakTarget;
  docker: Dockerode;
  instance: string;
  dataDir: string;
  runs: number;
  concurrency: number;
  onOutcome?: (outcome: SoakOutcome) => void;
}

export async function soak(options: SoakOptions): Promise<SoakReport> {
  const { runs, concurrency, target } = options;
  // One run of each kind first: what the server allocates once (JIT, caches, pools) is not growth.
  for (let i = 0; i < Math.min(runs, 2); i++) await soakCaseFor(i).run(target);
  const before = await count(options);
  const outcomes: SoakOutcome[] = [];
  let next = 0;
  const t0 = performance.now();
  const worker = async () => {
    for (let index = next++; index < runs; index = next++) {
      const one = soakCaseFor(index);
      const started = performance.now();
      let ended: string | null = null;
      let problem: string | null = null;
      try {
        ended = await one.run(target);
      } catch (err) {
        problem = (err as Error).message;
      }
      const outcome = { index, name: one.name, hostile: one.hostile, ended, problem, ms: Math.round(performance.now() - started) };
      outcomes.push(outcome);
      options.onOutcome?.(outcome);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const wallMs = Math.round(performance.now() - t0);
  const after = await count(options);
  return { before, after, outcomes: outcomes.sort((a, b) => a.index - b.index), wallMs };
}

async function count({ server, docker, instance, dataDir }: SoakOptions): Promise<SoakCount> {
  await untilPoolFull(docker, instance, SOAK_SERVER_CONFIG.pool.size);
  // A run's sandbox is removed just after its answer: given a moment to go before it counts as left.
  const deadline = Date.now() + SETTLE_MS;
  const labels = [`${INSTANCE_LABEL}=${instance}`];
  let sandboxes = await sandboxesOf(docker, labels);
  while ((sandboxes.containers.length || sandboxes.volumes.length) && Date.now() < deadline) {
    await sleep(100);
    sandboxes = await sandboxesOf(docker, labels);
  }
  const held = await holdings(server);
  return {
    containers: sandboxes.containers.length,
    volumes: sandboxes.volumes.length,
    pooled: sandboxes.waiting.length,
    fds: held.fds,
    rssBytes: held.rss,
    heapUsedBytes: held.heapUsed,
    tempFiles: await countTempFiles(dataDir),
  };
}

const SETTLE_MS = 15_000;

/** What only a live run or an upload in progress may hold under `dataDir`. */
async function countTempFiles(dataDir: string): Promise<number> {
  const uploads = await readdir(path.join(dataDir, 'uploads')).catch(() => []);
  const runDirs = await readdir(path.join(dataDir, 'runs')).catch(() => []);
  let transient = 0;
  for (const run of runDirs) {
    const files = runFiles(dataDir, run);
    const names: string[] = await readdir(files.dir).catch(() => []);
    // A first run that kept Codex's session keeps its upload too (a follow-up's `?base=root`).
    const live = new Set([path.basename(files.baselineDir), ...(names.includes(path.basename(files.session)) ? [] : [path.basename(files.inputTar)])]);
    transient += names.filter((n) => live.has(n) || n.includes('.tmp') || n.endsWith('.partial')).length;
  }
  return uploads.length + transient;
}

const MiB = 1024 * 1024;

export function formatSoakReport(report: SoakReport): string {
  const { before, after, outcomes } = report;
  const byCase = new Map<string, { hostile: boolean; ended: Map<string, number>; ms: number[] }>();
  for (const o of outcomes) {
    const entry = byCase.get(o.name) ?? { hostile: o.hostile, ended: new Map<string, number>(), ms: [] as number[] };
    const key = o.ended ?? 'BROKEN';
    entry.ended.set(key, (entry.ended.get(key) ?? 0) + 1);
    entry.ms.push(o.ms);
    byCase.set(o.name, entry);
  }
  const lines = [`soak: ${outcomes.length} runs in ${(report.wallMs / 1000).toFixed(1)} s`, '', '| case | kind | ended | median ms |', '|---|---|---|---|'];
  for (const [name, { hostile, ended, ms }] of byCase) {
    ms.sort((a, b) => a - b);
    const endings = [...ended].map(([k, n]) => `${k} x${n}`).join(', ');
    lines.push(`| ${name} | ${hostile ? 'hostile' : 'good'} | ${endings} | ${ms[Math.floor(ms.length / 2)]} |`);
  }
  const row = (what: string, a: number, b: number, unit = '') => `| ${what} | ${a}${unit} | ${b}${unit} | ${b - a >= 0 ? '+' : ''}${b - a}${unit} |`;
  lines.push('', '| held by | before | after | change |', '|---|---|---|---|');
  lines.push(row('run containers', before.containers, after.containers));
  lines.push(row('run volumes', before.volumes, after.volumes));
  lines.push(row('warm pool sandboxes', before.pooled, after.pooled));
  lines.push(row('server fds', before.fds, after.fds));
  lines.push(row('temp files in data_dir', before.tempFiles, after.tempFiles));
  lines.push(row('server RSS', Math.round(before.rssBytes / MiB), Math.round(after.rssBytes / MiB), ' MiB'));
  lines.push(row('server heap after GC', Math.round(before.heapUsedBytes / MiB), Math.round(after.heapUsedBytes / MiB), ' MiB'));
  const broken = outcomes.filter((o) => o.problem);
  for (const o of broken) lines.push(`BROKEN run ${o.index} (${o.name}): ${o.problem}`);
  return lines.join('\n');
}

/** Bounds the soak holds the server to: what fails `npm run soak` and the CI soak test. */
export const SOAK_BOUNDS = { fdGrowth: 8, heapGrowthBytes: 64 * MiB, rssGrowthBytes: 192 * MiB };

/** Why the soak failed, or an empty list. */
export function soakProblems(report: SoakReport): string[] {
  const { before, after } = report;
  const problems = report.outcomes.filter((o) => o.problem).map((o) => `run ${o.index} (${o.name}): ${o.problem}`);
  if (after.containers || after.volumes) problems.push(`sandboxes left: ${after.containers} containers, ${after.volumes} volumes`);
  if (after.pooled > SOAK_SERVER_CONFIG.pool.size) problems.push(`the warm pool holds ${after.pooled} sandboxes, past its size of ${SOAK_SERVER_CONFIG.pool.size}`);
  if (after.tempFiles > before.tempFiles) problems.push(`temp files left in data_dir: ${after.tempFiles - before.tempFiles}`);
  if (after.fds - before.fds > SOAK_BOUNDS.fdGrowth) problems.push(`server fds grew by ${after.fds - before.fds}`);
  if (after.heapUsedBytes - before.heapUsedBytes > SOAK_BOUNDS.heapGrowthBytes) problems.push(`server heap grew by ${Math.round((after.heapUsedBytes - before.heapUsedBytes) / MiB)} MiB`);
  if (after.rssBytes - before.rssBytes > SOAK_BOUNDS.rssGrowthBytes) problems.push(`server RSS grew by ${Math.round((after.rssBytes - before.rssBytes) / MiB)} MiB`);
  return problems;
}
