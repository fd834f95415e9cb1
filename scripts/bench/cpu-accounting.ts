// CPU time per run, by who spent it, read from /proc before and after a series of runs: on two
// cores the CPU a run costs bounds the throughput runs in flight can reach, whatever the service does.
import { availableParallelism } from 'node:os';
import { readdir, readFile } from 'node:fs/promises';

/** Linux's clock ticks per second (USER_HZ), what /proc/<pid>/stat counts in. */
const TICKS_PER_S = 100;

export type CpuGroup = 'engine' | 'sandboxes' | 'server' | 'bench' | 'kernel' | 'other';

/** Busy CPU ms, the machine's and each group's. */
export interface CpuSnapshot {
  machineMs: number;
  groups: Record<CpuGroup, number>;
}

export interface CpuPerRun {
  runs: number;
  /** What the whole machine was busy for, per run: the bound on throughput. */
  machineMs: number;
  groups: Record<CpuGroup, number>;
  /** Runs per second the machine's cores could sustain at that cost. */
  boundRunsPerS: number;
}

const ENGINE = /^(dockerd|containerd|docker-proxy)$/;
/** A container's shim copies its execs' stdio and outlives none of it; runc is its child. */
const SANDBOX = /^(containerd-shim.*|runc)$/;

/**
 * Groups by process name, each process's own CPU and that of the children it reaped. A sandbox's
 * processes that end under their container's shim (an exec's, the floor's main process) are counted
 * with it, and the engine leaves the shims to PID 1 to reap: the shims still running and PID 1's
 * reaped share are the sandboxes'. The server's share includes the git processes it reaps. `other`
 * is whatever else ran meanwhile: on a quiet machine, next to nothing.
 * A process that is still in a sandbox when its PID 1 dies (the service's Codex, which the main
 * process reaps, and the main process itself) is reaped by the kernel on the dying init's behalf,
 * and its CPU is then added to no process's: `cpuPerRun` counts the machine's busy time that no
 * group holds as the sandboxes'.
 */
export async function cpuSnapshot(serverPid: number): Promise<CpuSnapshot> {
  const groups: Record<CpuGroup, number> = { engine: 0, sandboxes: 0, server: 0, bench: 0, kernel: 0, other: 0 };
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = await readFile(`/proc/${name}/stat`, 'utf8').catch(() => null);
    if (!stat) continue;
    const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const own = Number(fields[11]) + Number(fields[12]);
    const reaped = Number(fields[13]) + Number(fields[14]);
    const pid = Number(name);
    const ms = (ticks: number) => (ticks * 1000) / TICKS_PER_S;
    if (pid === serverPid) groups.server += ms(own + reaped);
    // The bench's own process: the client, the stand-in model and the floor's relay.
    else if (pid === process.pid) groups.bench += ms(own + reaped);
    else if (pid === 1) groups.sandboxes += ms(reaped);
    else if (SANDBOX.test(comm)) groups.sandboxes += ms(own + reaped);
    else if (ENGINE.test(comm)) groups.engine += ms(own + reaped);
    else if (/^(kworker|jbd2|ksoftirqd|kswapd|rcu_)/.test(comm)) groups.kernel += ms(own);
    else groups.other += ms(own + reaped);
  }
  const [, ...ticks] = (await readFile('/proc/stat', 'utf8')).split('\n')[0]!.trim().split(/\s+/).map(Number);
  // user nice system idle iowait irq softirq steal: busy is all but idle and iowait.
  const busy = ticks.slice(0, 8).reduce((a, b) => a + b, 0) - ticks[3]! - ticks[4]!;
  return { machineMs: (busy * 1000) / TICKS_PER_S, groups };
}

export function cpuPerRun(before: CpuSnapshot, after: CpuSnapshot, runs: number): CpuPerRun {
  const groups = Object.fromEntries(Object.keys(before.groups).map((g) => [g, (after.groups[g as CpuGroup] - before.groups[g as CpuGroup]) / runs])) as Record<CpuGroup, number>;
  const machineMs = (after.machineMs - before.machineMs) / runs;
  const attributed = Object.values(groups).reduce((a, b) => a + b, 0);
  groups.sandboxes += Math.max(0, machineMs - attributed);
  return { runs, machineMs, groups, boundRunsPerS: machineMs > 0 ? (availableParallelism() * 1000) / machineMs : Infinity };
}

/**
 * `runs` runs one after another, then `settle` (what a run leaves to do after its answer: the
 * sandbox's removal, the pool's refill, counted as the run's), CPU read around the whole series.
 */
export async function measureCpuPerRun(serverPid: number, runOnce: () => Promise<unknown>, runs: number, settle: () => Promise<unknown>): Promise<CpuPerRun> {
  const before = await cpuSnapshot(serverPid);
  for (let i = 0; i < runs; i++) await runOnce();
  await settle();
  return cpuPerRun(before, await cpuSnapshot(serverPid), runs);
}
