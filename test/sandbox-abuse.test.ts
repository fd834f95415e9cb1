// A hostile run spending what its sandbox has, each in a run of its own: processes (a fork bomb),
// memory (a hog in a subprocess), CPU (an endless loop), its tmpfs (filled) and output (gigabytes
// on a command's stdout). Each run ends with a clear status while the server answers and other runs
// carry on, and leaves nothing behind. Real Docker, real Codex. (Codex itself killed by the OOM
// killer is sandbox-failures.test.ts; writes into Codex's own stdout are run-attacks.ts.)
import { expectRunReleased } from './fixtures/released.js';
import { stat } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTar, readTarContents } from '../server/archive/test-tarballs.js';
import { runFiles } from '../server/runs/run-files.js';
import { leftovers } from './fixtures/docker.js';
import { readSse, startHarness, type Harness } from './fixtures/harness.js';
import type { StandInStep } from './fixtures/responses-stand-in.js';

const MiB = 1024 * 1024;
const PIDS_LIMIT = 64;
const EVENT_LOG_MB = 2;

let h: Harness;
beforeAll(async () => {
  h = await startHarness({
    sandbox: { pids_limit: PIDS_LIMIT, memory_mb: 256, workspace_mb: 16, tmp_mb: 16, home_mb: 16 },
    // Small enough that a few commands' output passes it (Codex keeps ~1 MiB of each command's output).
    limits: { run_max_event_log_mb: EVENT_LOG_MB },
  });
});
afterAll(async () => {
  await h?.close();
});

interface Ended {
  run: any;
  elapsedMs: number;
  /** Each /healthz answer while the run was live: its status and how long it took. */
  health: { status: number; ms: number }[];
}

/** Runs the steps to their end while asking /healthz every 200 ms; checks nothing is left behind. */
async function runWhileProbingHealth(steps: StandInStep[], options?: object, workspace?: Buffer): Promise<Ended> {
  const started = Date.now();
  const health: Ended['health'] = [];
  let live = true;
  const prober = (async () => {
    while (live) {
      const t = Date.now();
      const res = await fetch(`${h.url}/healthz`, { signal: AbortSignal.timeout(5_000) });
      await res.body?.cancel();
      health.push({ status: res.status, ms: Date.now() - t });
      await new Promise((r) => setTimeout(r, 200));
    }
  })();
  try {
    const res = await h.createRun({ prompt: h.prompt(steps), options, workspace, wait: true });
    expect(res.status).toBe(200);
    const run: any = await res.json();
    const elapsedMs = Date.now() - started;
    await expectRunReleased(run.id);
    return { run, elapsedMs, health };
  } finally {
    live = false;
    await prober;
  }
}

function expectServerAnswered(health: Ended['health']): void {
  expect(health.length).toBeGreaterThan(0);
  for (const answer of health) expect(answer).toEqual({ status: 200, ms: expect.any(Number) });
  expect(Math.max(...health.map((a) => a.ms))).toBeLessThan(1_000);
}

async function commandOutputs(id: string): Promise<string[]> {
  const events = await readSse(await h.api(`/v1/runs/${id}/events`));
  return events.filter((e) => e.data.type === 'item.completed' && e.data.item?.type === 'command_execution').map((e) => e.data.item.aggregated_output);
}

const PIDS_DIR = 'cg=/sys/fs/cgroup/pids; [ -d $cg ] || cg=/sys/fs/cgroup';
// Builtins only: past the limit nothing can fork.
const readPidsEvents = `${PIDS_DIR}; read -r max < $cg/pids.max; read -r events < $cg/pids.events; echo "pids_max=$max pids_events=$events"`;

async function succeeds(marker: string): Promise<void> {
  const res = await h.createRun({ prompt: h.prompt([{ exec: `echo ${marker}` }, { message: marker }]), wait: true });
  const run: any = await res.json();
  expect([run.status, run.final_message], JSON.stringify(run.error)).toEqual(['succeeded', marker]);
}

describe('a run spending what its sandbox has', () => {
  it('a fork bomb stops at the pids limit: Codex goes on, the run ends succeeded, the server answers throughout and serves the next run', async () => {
    const { run, elapsedMs, health } = await runWhileProbingHealth([{ exec: ':(){ :|:& };:' }, { exec: readPidsEvents }, { message: 'bombed' }], { timeout_s: 30 });
    // Codex ends the command's process group with it: the bomb dies out and its next command runs.
    expect([run.status, run.final_message], JSON.stringify(run.error)).toEqual(['succeeded', 'bombed']);
    expect(elapsedMs).toBeLessThan(30_000);
    const [bomb, events] = await commandOutputs(run.id);
    expect(bomb).toMatch(/fork: (retry: )?Resource temporarily unavailable/);
    // The kernel counted the forks it refused at the limit.
    expect(events).toMatch(new RegExp(`^pids_max=${PIDS_LIMIT} pids_events=max [1-9]\\d*$`, 'm'));
    expectServerAnswered(health);
    await succeeds('after-the-bomb');
  });

  it('every pid held for good: the relay cannot fork for Codex\'s next call, and the run ends failed, naming it, well before its timeout', async () => {
    // A holder in its own session (so Codex does not end it with the command) takes every pid that
    // comes free, builtins only, for as long as the sandbox lives; the command waits until none is left.
    const holder = 'while :; do read -r n < $1/pids.current; if ((n < $2)); then sleep 300 & fi; done';
    const holdEveryPid = `${PIDS_DIR}; read -r max < $cg/pids.max
setsid bash -c '${holder}' holder $cg $max >/dev/null 2>&1 &
while read -r n < $cg/pids.current && ((n < max)); do :; done; echo held`;
    // Under load a call may still slip through before the holder takes a pid that came free (CI once
    // saw two do so, when the script had only two); of five, the run must stop at one.
    const afterHold = Array.from({ length: 4 }, () => ({ exec: 'echo unreachable' }));
    const { run, elapsedMs, health } = await runWhileProbingHealth([{ exec: holdEveryPid }, ...afterHold, { message: 'unreachable' }], { timeout_s: 30 });
    const outputs = await commandOutputs(run.id);
    expect(outputs[0]).toBe('held\n');
    expect(outputs.slice(1).every((o) => o === 'unreachable\n')).toBe(true);
    // The socat relay forks per connection: a failed fork ends it, and with it the sandbox.
    expect(run.status).toBe('failed');
    expect(run.error).toEqual({ code: 'sandbox_stopped', message: 'the sandbox stopped: its relay to the gateway ended' });
    expect(elapsedMs).toBeLessThan(15_000);
    expectServerAnswered(health);
    await succeeds('after-the-hold');
  });

  it('a memory hog in a subprocess is killed alone: Codex goes on and the run succeeds', async () => {
    // tail holds a newline-less 2000 MB in memory; the kernel's OOM killer picks it, the biggest, over Codex.
    const { run, health } = await runWhileProbingHealth([
      { exec: 'head -c 2000M /dev/zero | tail > /dev/null; echo "hog_exit=$?"' },
      { exec: 'echo survived > after-hog.txt' },
      { message: 'hogged' },
    ]);
    expect([run.status, run.final_message], JSON.stringify(run.error)).toEqual(['succeeded', 'hogged']);
    const [hog] = await commandOutputs(run.id);
    expect(hog).toContain('hog_exit=137');
    expect(run.changes.files.map((f: any) => f.path)).toEqual(['after-hog.txt']);
    expectServerAnswered(health);
  });

  it('an endless CPU loop ends timed_out at timeout_s, promptly, while a run beside it succeeds', async () => {
    const beside = h.createRun({ prompt: h.prompt([{ exec: 'sleep 1; echo beside > beside.txt' }, { message: 'beside' }]), wait: true });
    const { run, elapsedMs, health } = await runWhileProbingHealth([{ exec: 'echo spinning > spin.txt; while :; do :; done' }, { message: 'unreachable' }], { timeout_s: 3 });
    expect(run.status).toBe('timed_out');
    expect(run.error).toEqual({ code: 'timeout', message: 'run exceeded its timeout of 3 s' });
    expect(elapsedMs).toBeLessThan(15_000);
    // What the loop's sandbox held when it was stopped is kept.
    expect(run.changes.files.map((f: any) => f.path)).toEqual(['spin.txt']);
    expectServerAnswered(health);
    const other: any = await (await beside).json();
    expect([other.status, other.final_message], JSON.stringify(other.error)).toEqual(['succeeded', 'beside']);
    await expectRunReleased(other.id);
  });

  it('a full $HOME (Codex\'s own state) and a full /tmp: Codex goes on, and the run keeps its outcome, diff and workspace', async () => {
    const workspace = await makeTar([{ name: 'app.js', content: 'console.log(1);\n' }]);
    const fill = (dir: string, key: string) => `dd if=/dev/zero of=${dir}/fill bs=1M 2>&1 | grep -o 'No space left on device' | sed 's/^/${key}=/'; echo "${key}_avail=$(df --output=avail ${dir} | tail -n1 | tr -d ' ')"`;
    const { run, health } = await runWhileProbingHealth(
      [
        { exec: `echo before > before.txt; ${fill('$HOME', 'home')}; ${fill('$HOME/.codex', 'codex_home')}; ${fill('/tmp', 'tmp')}` },
        // A turn after the fill: Codex, its state unwritable, still runs commands and answers.
        { exec: 'echo after > after.txt' },
        { message: 'filled' },
      ],
      undefined,
      workspace,
    );
    expect([run.status, run.final_message], JSON.stringify(run.error)).toEqual(['succeeded', 'filled']);
    const [fillOutput] = await commandOutputs(run.id);
    for (const key of ['home', 'codex_home', 'tmp']) {
      expect(fillOutput).toContain(`${key}=No space left on device`);
      expect(fillOutput).toContain(`${key}_avail=0`);
    }
    expect(run.changes.files.map((f: any) => f.path).sort()).toEqual(['after.txt', 'before.txt']);
    const diff = await (await h.api(`/v1/runs/${run.id}/diff`)).text();
    expect(diff).toContain('+before');
    expect(diff).toContain('+after');
    const files = await readTarContents(Buffer.from(await (await h.api(`/v1/runs/${run.id}/workspace`)).arrayBuffer()));
    expect([files.get('app.js'), files.get('before.txt'), files.get('after.txt')]).toEqual(['console.log(1);\n', 'before\n', 'after\n']);
    expectServerAnswered(health);
  });
});

describe('gigabytes on a command\'s stdout', () => {
  /** The test process's RSS (the server runs in it) sampled through `work`: the most it grew. */
  async function rssGrowthThrough<T>(work: () => Promise<T>): Promise<{ result: T; growthBytes: number }> {
    globalThis.gc?.();
    const before = process.memoryUsage().rss;
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 50);
    try {
      const result = await work();
      return { result, growthBytes: Math.max(peak, process.memoryUsage().rss) - before };
    } finally {
      clearInterval(sampler);
    }
  }

  async function expectEventLogWithinCap(id: string): Promise<void> {
    const { size } = await stat(runFiles(h.dataDir, id).events);
    // Lifecycle events are stored past the cap; they are a few KiB.
    expect(size).toBeLessThan(EVENT_LOG_MB * MiB + 64 * 1024);
  }

  it('2 GiB without a newline: the run succeeds, the server\'s memory stays flat, the event log within its cap', async () => {
    const { result, growthBytes } = await rssGrowthThrough(() =>
      runWhileProbingHealth([{ exec: "head -c 2G /dev/zero | tr '\\0' x; echo; echo flood-ended" }, { message: 'flooded' }], { timeout_s: 60 }),
    );
    const { run, health } = result;
    expect([run.status, run.final_message], JSON.stringify(run.error)).toEqual(['succeeded', 'flooded']);
    expect(growthBytes).toBeLessThan(256 * MiB);
    await expectEventLogWithinCap(run.id);
    expectServerAnswered(health);
  });

  it('3 GiB of short lines over three commands: the log stops at its cap, the run still gets its final message', async () => {
    const flood = "yes 'a line of output' | head -c 1G; echo flood-ended";
    const { result, growthBytes } = await rssGrowthThrough(() =>
      runWhileProbingHealth([{ exec: flood }, { exec: flood }, { exec: flood }, { message: 'flooded thrice' }], { timeout_s: 60 }),
    );
    const { run, health } = result;
    expect([run.status, run.final_message], JSON.stringify(run.error)).toEqual(['succeeded', 'flooded thrice']);
    // Each command's ~1 MiB of kept output is one event: the third no longer fits in 2 MiB.
    expect(run.events_truncated).toBe(true);
    expect(run.events_dropped).toBeGreaterThan(0);
    expect(growthBytes).toBeLessThan(256 * MiB);
    await expectEventLogWithinCap(run.id);
    expectServerAnswered(health);
  });
});
