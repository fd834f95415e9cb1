// What one run leaves behind reaches no later run: files in /tmp, $HOME, /dev/shm, /dev/mqueue and
// the workspace, detached processes (`setsid nohup sleep 1000 &`, one that ignores SIGTERM, listeners
// on an abstract socket and on loopback TCP) die with its sandbox, and the next run, of the same
// tenant or another, finds none of it: from a fresh sandbox, and from a warm-pool sandbox started
// while the first run ran. Real server (harness), real Docker, real Codex; the stand-in scripts the
// runs. The host's /proc is read to see the first run's processes live and then gone.
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { docker, leftovers } from './fixtures/docker.js';
import { readSse, startHarness, type Harness } from './fixtures/harness.js';

const TOKENS = { a: `tok-a-${randomBytes(6).toString('hex')}`, b: `tok-b-${randomBytes(6).toString('hex')}` } as const;
type Tenant = keyof typeof TOKENS;
const sha = (text: string) => createHash('sha256').update(text).digest('hex');

/** The first run's mark on everything it leaves; the probes build it at run time, so no command of theirs holds it whole. */
const HEX = randomBytes(5).toString('hex');
const MARK = `iso${HEX}`;
/** 127.0.0.1:9999 in /proc/net/tcp: `0100007F:270F`, state 0A (LISTEN). */
const TCP_PORT = 9999;
const TCP_LISTEN_ENTRY = `0100007F:${TCP_PORT.toString(16).toUpperCase()}`;
const SCRATCH_DIRS = ['/tmp', '/home/codex', '/home/codex/.codex', '/dev/shm', '/dev/mqueue', '/workspace'];

const PLANT = [
  `M=${MARK}`,
  // (A queue in /dev/mqueue is made by the open; it takes no write.)
  `for d in ${SCRATCH_DIRS.join(' ')}; do { echo "$M" > "$d/leak-$M" || test -e "$d/leak-$M"; } 2>/dev/null && echo "wrote $d"; done`,
  'mkdir -p "/tmp/dir-$M" && echo "$M" > "/tmp/dir-$M/inner"',
  'setsid nohup sleep 1000 >/dev/null 2>&1 </dev/null &',
  // Outlives Codex and shrugs off a polite stop: only the sandbox's end takes it.
  `setsid bash -c 'trap "" TERM HUP INT; while :; do echo "$0" >> /tmp/ticker; sleep 1; done' "keeper-$M" >/dev/null 2>&1 </dev/null &`,
  'setsid socat "ABSTRACT-LISTEN:abs-$M,fork" /dev/null >/dev/null 2>&1 </dev/null &',
  `setsid socat TCP-LISTEN:${TCP_PORT},bind=127.0.0.1,reuseaddr,fork /dev/null >/dev/null 2>&1 </dev/null &`,
  'sleep 1',
  'echo "unix=$(grep -c "abs-$M" /proc/net/unix)"',
  `echo "tcp=$(grep -c " ${TCP_LISTEN_ENTRY} 00000000:0000 0A " /proc/net/tcp)"`,
  'echo planted',
].join('\n');

// Everything a later run can look at; prints the mark only if it finds it (built here from two halves).
const PROBE = [
  `M=iso; M="\${M}${HEX}"`,
  // A control the same searches must find: they do look where the first run wrote.
  `C=ctl; C="\${C}${HEX}"; echo "$C" > "/dev/shm/$C"`,
  'echo "control_names=$(find / \\( -path /proc -o -path /sys \\) -prune -o -name "*$C*" -print 2>/dev/null | tr "\\n" " ")"',
  `echo "control_contents=$(grep -rl "$C" ${SCRATCH_DIRS.filter((d) => d !== '/home/codex/.codex').join(' ')} 2>/dev/null | tr "\\n" " ")"`,
  'echo "names=$(find / \\( -path /proc -o -path /sys \\) -prune -o -name "*$M*" -print 2>/dev/null | tr "\\n" " ")"',
  `echo "contents=$(grep -rl "$M" ${SCRATCH_DIRS.filter((d) => d !== '/home/codex/.codex').join(' ')} 2>/dev/null | tr "\\n" " ")"`,
  `echo "scratch=$(ls -A ${SCRATCH_DIRS.join(' ')} 2>&1 | tr "\\n" " ")"`,
  'echo "unix=$(grep -c "$M" /proc/net/unix)"',
  `echo "tcp=$(grep -c " ${TCP_LISTEN_ENTRY} 00000000:0000 0A " /proc/net/tcp)"`,
  'echo "ticker=$(test -e /tmp/ticker && echo yes || echo no)"',
  // When pid 1 started (clock ticks since boot): a sandbox from the warm pool was started ahead.
  'echo "pid1_start=$(cut -d" " -f22 /proc/1/stat)"',
  'echo "--- processes"',
  'for p in /proc/[0-9]*; do { tr "\\0" " " < $p/cmdline; echo; } 2>/dev/null; done',
].join('\n');

interface HostProcess {
  pid: string;
  startTime: string;
  cmdline: string;
}

/** The host's processes whose cgroup names `containerId` (cgroup v1: `/docker/<id>`; systemd: `docker-<id>.scope`). */
async function hostProcessesOf(containerId: string): Promise<HostProcess[]> {
  const found: HostProcess[] = [];
  for (const pid of (await readdir('/proc')).filter((name) => /^\d+$/.test(name))) {
    const cgroup = await readFile(`/proc/${pid}/cgroup`, 'utf8').catch(() => '');
    if (!cgroup.includes(containerId)) continue;
    const process = await hostProcess(pid);
    if (process) found.push(process);
  }
  return found;
}

async function hostProcess(pid: string): Promise<HostProcess | null> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // Field 22, counted after the parenthesised command name (which may hold spaces).
    const startTime = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]!;
    const cmdline = (await readFile(`/proc/${pid}/cmdline`)).toString().split('\0').join(' ').trim();
    return { pid, startTime, cmdline };
  } catch {
    return null;
  }
}

/**
 * 'main process alone' when nothing runs in the sandbox but tini and its main process (the shell,
 * or the sleep it becomes once its command has ended), or not even those (being killed); else what does.
 */
async function onlyMainLeft(containerId: string): Promise<string> {
  const left = (await hostProcessesOf(containerId)).map((p) => p.cmdline);
  const ours = (c: string) => c.startsWith('/usr/bin/tini -- codex-runner-main') || /^(\/bin\/bash \/usr\/local\/bin\/codex-runner-main|sleep infinity)/.test(c);
  return left.every(ours) ? 'main process alone' : `running: ${left.join(' | ')}`;
}

/** Every host process whose command line holds `text`. */
async function hostProcessesWith(text: string): Promise<HostProcess[]> {
  const all = await Promise.all((await readdir('/proc')).filter((name) => /^\d+$/.test(name)).map(hostProcess));
  return all.filter((p): p is HostProcess => p !== null && p.cmdline.includes(text));
}

/** Waits, as long as a removal may take, until the run's container and volume are gone. */
async function untilReleased(labelRunId: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const left = await leftovers(`codex-runner.run-id=${labelRunId}`);
    if (left.containers === 0 && left.volumes === 0) return;
    await sleep(50);
  }
}

/** What is left of a run on the host: its container and volume, and the processes the host saw in it. */
async function whatRemains(seen: HostProcess[], containerId: string, labelRunId: string) {
  // A pid may be reused by then; the same pid with the same start time is the same process.
  const survivors: HostProcess[] = [];
  for (const p of seen) {
    const now = await hostProcess(p.pid);
    if (now && now.startTime === p.startTime) survivors.push(now);
  }
  return {
    leftovers: await leftovers(`codex-runner.run-id=${labelRunId}`),
    inspect: await docker.getContainer(containerId).inspect().then(() => 200, (err: { statusCode?: number }) => err.statusCode),
    survivors,
    withMark: await hostProcessesWith(MARK),
    inItsCgroup: await hostProcessesOf(containerId),
  };
}

const field = (output: string, name: string) => new RegExp(`^${name}=(.*)$`, 'm').exec(output)?.[1]?.trim();

/** When a process that started `ticks` clock ticks after the host booted started, in ms since the epoch. */
async function startedAtMs(ticks: number): Promise<number> {
  const btime = Number(/^btime (\d+)$/m.exec(await readFile('/proc/stat', 'utf8'))![1]);
  return (btime + ticks / Number(execFileSync('getconf', ['CLK_TCK']).toString())) * 1000;
}

function leftoversCase(title: string, overrides: Record<string, unknown>, pooled: boolean): void {
  describe(title, () => {
    let h: Harness;
    let first: any;
    let firstOutput: string;
    let firstContainer: { id: string; labelRunId: string };
    let liveInSandbox: HostProcess[];
    let probes: { tenant: Tenant; run: any; output: string }[];
    let afterEnd: Awaited<ReturnType<typeof whatRemains>>;
    let atEnd: string | number | undefined;

    const post = (tenant: Tenant, prompt: string) =>
      h.api('/v1/runs', { method: 'POST', token: TOKENS[tenant], headers: { 'content-type': 'application/json' }, body: JSON.stringify({ prompt }) });

    async function waitForEnd(tenant: Tenant, id: string, timeoutMs = 120_000): Promise<any> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const run: any = await (await h.api(`/v1/runs/${id}`, { token: TOKENS[tenant] })).json();
        if (!['queued', 'running'].includes(run.status)) return run;
        if (Date.now() > deadline) throw new Error(`run ${id} still ${run.status} after ${timeoutMs} ms`);
        await sleep(100);
      }
    }

    async function commandOutputs(tenant: Tenant, id: string): Promise<string[]> {
      const events = await readSse(await h.api(`/v1/runs/${id}/events`, { token: TOKENS[tenant] }));
      return events.filter((e) => e.data.type === 'item.completed' && e.data.item?.type === 'command_execution').map((e) => e.data.item.aggregated_output as string);
    }

    beforeAll(async () => {
      h = await startHarness({
        ...overrides,
        tenants: [
          { name: 'a', token_sha256: sha(TOKENS.a) },
          { name: 'b', token_sha256: sha(TOKENS.b) },
        ],
      });
      const created = await post('a', h.prompt([{ exec: PLANT }, { exec: 'sleep 10' }, { message: 'left things behind' }]));
      expect(created.status).toBe(202);
      const { id } = (await created.json()) as { id: string };
      // While its second command sleeps, the host sees what it started, as processes of its container
      // (a pooled sandbox is labelled with its pool id: found among the instance's by its processes).
      const deadline = Date.now() + 90_000;
      search: for (;;) {
        for (const container of await docker.listContainers({ filters: { label: [`codex-runner.instance=${h.instance}`] } })) {
          const processes = await hostProcessesOf(container.Id);
          // All four background starts are racing each other: wait until each has exec'd its command.
          const started = [(c: string) => c === 'sleep 1000', (c: string) => c.includes(`keeper-${MARK}`), (c: string) => c.includes(`ABSTRACT-LISTEN:abs-${MARK}`), (c: string) => c.includes(`LISTEN:${TCP_PORT}`)];
          if (started.every((isIt) => processes.some((p) => isIt(p.cmdline)))) {
            firstContainer = { id: container.Id, labelRunId: container.Labels['codex-runner.run-id']! };
            liveInSandbox = processes;
            break search;
          }
        }
        if (Date.now() > deadline) throw new Error("the first run's leftovers never showed on the host");
        await sleep(200);
      }
      first = await waitForEnd('a', id);
      // As soon as the run has ended nothing of it runs on, if its sandbox is not removed yet: it is
      // frozen, or nothing but its main process is left in it.
      atEnd = await docker.getContainer(firstContainer.id).inspect().then(
        async (info) => (info.State.Status === 'running' ? await onlyMainLeft(firstContainer.id) : info.State.Status),
        (err: { statusCode?: number }) => err.statusCode,
      );
      // It is removed just after the run's outcome is answered; looked at then, before any other run starts.
      await untilReleased(firstContainer.labelRunId);
      afterEnd = await whatRemains(liveInSandbox, firstContainer.id, firstContainer.labelRunId);
      firstOutput = (await commandOutputs('a', id))[0] ?? '';

      // The next runs: one of the same tenant, one of another, side by side.
      probes = await Promise.all(
        (['a', 'b'] as const).map(async (tenant) => {
          const res = await post(tenant, h.prompt([{ exec: PROBE }, { message: 'looked around' }]));
          expect(res.status).toBe(202);
          const run = await waitForEnd(tenant, ((await res.json()) as { id: string }).id);
          return { tenant, run, output: (await commandOutputs(tenant, run.id))[0] ?? '' };
        }),
      );
    }, 240_000);

    afterAll(async () => {
      await h?.close();
    });

    it('did plant its files and processes, live on the host while it ran', () => {
      expect(first.status).toBe('succeeded');
      for (const dir of SCRATCH_DIRS) expect(firstOutput).toContain(`wrote ${dir}\n`);
      // The same /proc/net lines the next runs look for, seen by the run that made them.
      expect([field(firstOutput, 'unix'), field(firstOutput, 'tcp')]).toEqual(['1', '1']);
      expect(firstOutput).toMatch(/^planted$/m);
      const commands = liveInSandbox.map((p) => p.cmdline);
      expect(commands).toContain('sleep 1000');
      expect(commands.some((c) => c.includes(`keeper-${MARK}`))).toBe(true);
      expect(commands.some((c) => c.includes(`ABSTRACT-LISTEN:abs-${MARK}`))).toBe(true);
    });

    it('is gone with its sandbox when it ends: frozen at its end, then no container, no volume, none of its processes on the host', () => {
      // Frozen, left with its main process alone, being removed, or gone: never running anything of the run.
      expect(['paused', 'main process alone', 'removing', 404]).toContain(atEnd);
      expect(afterEnd).toEqual({ leftovers: { containers: 0, volumes: 0 }, inspect: 404, survivors: [], withMark: [], inItsCgroup: [] });
    });

    it('leaves the next run of the same tenant and of another no file, name, socket or process of its own', () => {
      expect(probes.map((p) => [p.tenant, p.run.status])).toEqual([['a', 'succeeded'], ['b', 'succeeded']]);
      for (const { output } of probes) {
        expect(output).toContain('--- processes');
        expect(field(output, 'control_names')).toBe(`/dev/shm/ctl${HEX}`);
        expect(field(output, 'control_contents')).toBe(`/dev/shm/ctl${HEX}`);
        expect(field(output, 'names')).toBe('');
        expect(field(output, 'contents')).toBe('');
        expect(field(output, 'scratch')).not.toContain(MARK);
        expect(field(output, 'unix')).toBe('0');
        expect(field(output, 'tcp')).toBe('0');
        expect(field(output, 'ticker')).toBe('no');
        const processes = output.slice(output.indexOf('--- processes')).split('\n').slice(1).filter(Boolean);
        // The listing works (Codex itself is in it), and holds nothing the first run started.
        expect(processes.some((p) => p.startsWith('codex exec '))).toBe(true);
        expect(processes.filter((p) => p.includes('sleep 1000') || p.includes('keeper-') || (p.includes('socat') && !p.includes('UNIX-CONNECT')))).toEqual([]);
      }
    });

    if (pooled) {
      it('gave a next run a sandbox from the warm pool, started while the first run was still live', async () => {
        const ahead = [];
        for (const { run, output } of probes) {
          const started = await startedAtMs(Number(field(output, 'pid1_start')));
          if (started < Date.parse(run.created_at) && started < Date.parse(first.finished_at)) ahead.push(run.id);
        }
        expect(ahead.length).toBeGreaterThan(0);
      });
    }
  });
}

leftoversCase('a run that leaves files and processes behind', {}, false);
// The pool's sandboxes wait while other runs run; one started beside the first run serves the next.
leftoversCase('a run that leaves files and processes behind, with a warm pool', { pool: { size: 1, min_available_mb: 0, refill_interval_ms: 100 } }, true);
