// A big workspace through the service against its floor: the same plain tar put into a hardened
// container's tmpfs workspace volume and the tree read back out through the Engine archive API, by
// hand (what `docker cp` does both ways). The service's cost is the run with the big workspace minus
// the same run with a one-file workspace, so Codex's own time and the container start cancel out.
// Rounds of floor, one-file run and big run, interleaved; each figure is their median.
import { createReadStream, createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type Dockerode from 'dockerode';
import type { Config } from '../../server/config/config.js';
import { makeTar } from '../../server/archive/test-tarballs.js';
import { HOME_DIR, WORKSPACE_DIR } from '../../server/sandbox/driver.js';
import type { ResponsesStandIn } from '../../test/fixtures/responses-stand-in.js';
import { scriptMarker } from '../../test/fixtures/responses-stand-in.js';
import { FLOOR_HARDENING, FLOOR_LABEL } from './floor.js';
import { memoryGrowth, type MemoryGrowth, type MemoryParts } from './memory-parts.js';
import { readRss, sampleRss } from './proc.js';
import type { ServerChild } from './server-child.js';
import { createRunUpload } from './service-client.js';
import { summarize } from './stats.js';

const MiB = 1024 * 1024;

export interface BigWorkspaceResult {
  name: string;
  tarBytes: number;
  files: number;
  rounds: number;
  /** Archive API by hand: the tar in, the tree out (to a file); medians over the rounds. */
  floorInMs: number;
  floorOutMs: number;
  runMs: number;
  oneFileRunMs: number;
  /** Medians of the floor (in + out) and of the overhead (run minus one-file run) over the rounds. */
  floorMs: number;
  overheadMs: number;
  /** Every round's overhead / floor, for the spread. */
  ratios: number[];
  /** The phases of the run whose overhead is the median. */
  phases: Record<string, number>;
  /** Peak server RSS over its RSS before the big run: the median over the rounds, and the largest. */
  rssGrowth: number;
  rssGrowthMax: number;
  /** The largest round's growth by part, read inside the server at its highest RSS. */
  largestGrowthParts: MemoryGrowth;
}

/** The machine's noise is large (its floor alone varies by 40% between runs): every figure is a median of this many rounds, interleaved. */
export const BIG_WORKSPACE_ROUNDS = 3;

interface Round {
  floorInMs: number;
  floorOutMs: number;
  tarBytes: number;
  big: { ms: number; runId: string };
  small: { ms: number; runId: string };
  rssGrowth: number;
  growthParts: MemoryGrowth;
}

export async function measureBigWorkspace(
  docker: Dockerode,
  server: ServerChild,
  standIn: ResponsesStandIn,
  token: string,
  config: Config,
  benchId: string,
  dir: string,
  workspace: { name: string; tarball: string; files: number },
): Promise<BigWorkspaceResult> {
  const script = `bench-big-${workspace.name.replace(/\W+/g, '-')}`;
  // A run that changes one small file: the diff and the export are proportional to what changed.
  standIn.script(script, [{ exec: 'echo changed > changed-by-the-run.txt' }, { message: 'done' }]);
  const prompt = `${scriptMarker(script)} change one file`;

  const oneFile = path.join(dir, 'one-file.tar');
  await pipeline(async function* () {
    yield await makeTar([{ name: 'a.txt', content: 'a\n' }]);
  }, createWriteStream(oneFile));
  try {
    const rounds: Round[] = [];
    for (let i = 0; i < BIG_WORKSPACE_ROUNDS; i++) {
      const { tarBytes, inMs, outMs } = await floorArchive(docker, config, benchId, workspace.tarball, dir);
      const small = await timedRun(server, token, prompt, oneFile);
      const idleParts: MemoryParts = (await server.memoryAfterGc()).parts;
      const idle = (await readRss(server.pid)).rss;
      const sampler = sampleRss(server.pid);
      server.watchMemory();
      const big = await timedRun(server, token, prompt, workspace.tarball).finally(sampler.stop);
      const peak = (await sampler.stop()).peak;
      const growthParts = memoryGrowth(idleParts, await server.memoryPeak());
      // The next round starts once this one's sandboxes are removed.
      await server.untilRunEnded(big.runId);
      rounds.push({ floorInMs: inMs, floorOutMs: outMs, tarBytes, big, small, rssGrowth: peak - idle, growthParts });
    }
    const overhead = (r: Round) => r.big.ms - r.small.ms;
    const middle = [...rounds].sort((a, b) => overhead(a) - overhead(b))[Math.floor(rounds.length / 2)]!;
    return {
      name: workspace.name,
      tarBytes: middle.tarBytes,
      files: workspace.files,
      rounds: rounds.length,
      floorInMs: median(rounds.map((r) => r.floorInMs)),
      floorOutMs: median(rounds.map((r) => r.floorOutMs)),
      runMs: median(rounds.map((r) => r.big.ms)),
      oneFileRunMs: median(rounds.map((r) => r.small.ms)),
      floorMs: median(rounds.map((r) => r.floorInMs + r.floorOutMs)),
      overheadMs: median(rounds.map(overhead)),
      ratios: rounds.map((r) => overhead(r) / (r.floorInMs + r.floorOutMs)),
      phases: (await server.untilRunEnded(middle.big.runId))?.timingsMs ?? {},
      rssGrowth: median(rounds.map((r) => r.rssGrowth)),
      rssGrowthMax: Math.max(...rounds.map((r) => r.rssGrowth)),
      largestGrowthParts: rounds.reduce((a, b) => (b.rssGrowth > a.rssGrowth ? b : a)).growthParts,
    };
  } finally {
    await rm(oneFile, { force: true });
  }
}

function median(values: number[]): number {
  return summarize(values).median;
}

async function timedRun(server: ServerChild, token: string, prompt: string, tarball: string): Promise<{ ms: number; runId: string }> {
  const t0 = performance.now();
  const { run } = await createRunUpload(server.url, token, prompt, tarball);
  const ms = performance.now() - t0;
  if (run.status !== 'succeeded') throw new Error(`big-workspace run ${run.id} ended ${run.status}: ${JSON.stringify(run.error)}; server said: ${server.problems().join(' | ')}`);
  return { ms, runId: run.id };
}

/** The tar into a hardened container's tmpfs workspace volume and the tree back out, by hand. */
async function floorArchive(docker: Dockerode, config: Config, benchId: string, tarball: string, dir: string): Promise<{ tarBytes: number; inMs: number; outMs: number }> {
  const { sandbox } = config;
  const volumeName = `codex-runner-bench-floor-ws-${benchId}-${Date.now()}`;
  await docker.createVolume({
    Name: volumeName,
    Driver: 'local',
    DriverOpts: { type: 'tmpfs', device: 'tmpfs', o: `size=${sandbox.workspaceMb}m,uid=${sandbox.uid},gid=${sandbox.gid},mode=0700,nosuid,nodev` },
    Labels: { [FLOOR_LABEL]: benchId },
  });
  let container: Dockerode.Container | undefined;
  const out = path.join(dir, 'floor-tree.tar');
  try {
    container = await docker.createContainer({
      Image: sandbox.image,
      Cmd: ['sleep', 'infinity'],
      User: `${sandbox.uid}:${sandbox.gid}`,
      Labels: { [FLOOR_LABEL]: benchId },
      NetworkDisabled: true,
      HostConfig: {
        ...FLOOR_HARDENING,
        Memory: sandbox.memoryMb * MiB,
        Tmpfs: { '/tmp': 'rw,size=16m', [HOME_DIR]: 'rw,size=16m' },
        Mounts: [{ Type: 'volume', Source: volumeName, Target: WORKSPACE_DIR }],
      },
    });
    await container.start();
    const t0 = performance.now();
    // A MiB per read and per write, as the service does: the floor is the archive API at its best.
    await container.putArchive(createReadStream(tarball, { highWaterMark: MiB }), { path: WORKSPACE_DIR });
    const t1 = performance.now();
    const tree = await container.getArchive({ path: WORKSPACE_DIR });
    const counted = { bytes: 0 };
    tree.on('data', (chunk: Buffer) => (counted.bytes += chunk.length));
    await pipeline(tree, createWriteStream(out, { highWaterMark: MiB }));
    const t2 = performance.now();
    return { tarBytes: counted.bytes, inMs: t1 - t0, outMs: t2 - t1 };
  } finally {
    await container?.remove({ force: true }).catch(() => {});
    await docker.getVolume(volumeName).remove().catch(() => {});
    await rm(out, { force: true });
  }
}
