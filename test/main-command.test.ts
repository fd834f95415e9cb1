// A sandbox's main command (Codex's, in a run) goes to the process the sandbox started with (the
// image's codex-runner-main), not to an exec: the command, its environment and its stdin reach it
// as an exec's would, the engine's records hold none of them, and once it exits every other process
// of the sandbox is gone while its files stay readable. Real Docker, the sandbox image.
import { readFileSync } from 'node:fs';
import { PassThrough, Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Sandbox } from '../server/sandbox/driver.js';
import { COLLECT_DIR, COLLECT_WORKSPACE } from '../server/sandbox/driver.js';
import { readTarContents } from '../server/archive/test-tarballs.js';
import { bareSandboxDriver, startBareSandbox } from './fixtures/bare-sandbox.js';
import { docker, leftovers } from './fixtures/docker.js';

const { driver, instance } = bareSandboxDriver('main-command-test');
let sandbox: Sandbox;

beforeEach(async () => {
  sandbox = await startBareSandbox(driver, 16);
});

afterEach(async () => {
  await sandbox.remove();
  expect(await leftovers(`codex-runner.instance=${instance}`)).toEqual({ containers: 0, volumes: 0 });
});

function sink(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  const parts: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => parts.push(chunk));
  return { stream, text: () => Buffer.concat(parts).toString('latin1') };
}

/** Every exec made in the sandbox, from the engine's events: their command lines. */
async function execsMade(): Promise<string[]> {
  const events = (await docker.getEvents({
    since: Math.floor(Date.now() / 1000) - 120,
    until: Date.now() / 1000,
    filters: { container: [sandbox.id], event: ['exec_create'] },
  } as Parameters<typeof docker.getEvents>[0])) as unknown as Readable;
  const text = (await events.toArray()).map((c: Buffer) => c.toString()).join('');
  return text.split('\n').filter(Boolean).map((line) => (JSON.parse(line) as { status: string }).status.replace(/^exec_create: /, '').trim());
}

/** How many reads of the engine's archive API the sandbox had, from the engine's events. */
async function archiveReads(): Promise<number> {
  const events = (await docker.getEvents({
    since: Math.floor(Date.now() / 1000) - 120,
    until: Date.now() / 1000 + 1,
    filters: { container: [sandbox.id], event: ['archive-path'] },
  } as Parameters<typeof docker.getEvents>[0])) as unknown as Readable;
  return (await events.toArray()).map((c: Buffer) => c.toString()).join('').split('\n').filter(Boolean).length;
}

/** The sandbox's processes as the host sees them, but PID 1 (tini): their command lines. */
async function processes(): Promise<string[]> {
  const { State } = await docker.getContainer(sandbox.id).inspect();
  const under = (pid: number): number[] => {
    const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
    return children.flatMap((child) => [child, ...under(child)]);
  };
  return under(State.Pid).map((pid) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim());
}

/** processes(), read again while one of them is between names (an exec or an exit under way), up to a second. */
async function processesSettled(): Promise<string[]> {
  for (let tries = 0; ; tries++) {
    const found = await processes();
    if (!found.includes('') || tries === 20) return found;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe("a sandbox's main command", () => {
  it('gets argv with spaces and an empty argument, its environment, its stdin and its exit code, and no exec is made', async () => {
    const [out, err] = [sink(), sink()];
    const script = 'printf "[%s]" "$@"; echo; echo "secret=$RUN_SECRET lines=$(printf %s "$MULTI" | wc -l)"; cat; echo oops >&2; exit 7';
    const code = await sandbox.runMain(['bash', '-c', script, 'name', 'two words', '', '-n'], {
      env: ['RUN_SECRET=s3cr3t-value', 'MULTI=a\nb\nc'],
      stdin: 'the prompt\n',
      stdout: out.stream,
      stderr: err.stream,
    });
    expect(code).toBe(7);
    // Nothing of the main process's own report reaches the command's streams.
    expect(out.text()).toBe('[two words][][-n]\nsecret=s3cr3t-value lines=2\nthe prompt\n');
    expect(err.text()).toBe('oops\n');
    expect(await execsMade()).toEqual([]);
    const record = await docker.getContainer(sandbox.id).inspect();
    expect(record.Config.Cmd).toEqual(['codex-runner-main']);
    expect(JSON.stringify(record)).not.toMatch(/s3cr3t|two words/);
  });

  it('leaves nothing running behind it but the main process, and the sandbox up with its files, so no freeze is needed', async () => {
    // A detached writer in a session of its own, and a child Codex would not wait for.
    const script = 'setsid bash -c "while :; do echo x >> /workspace/late.txt; done" >/dev/null 2>&1 & (sleep 300 &); echo kept > /workspace/kept.txt; sleep 0.2';
    expect(await sandbox.runMain(['bash', '-c', script])).toBe(0);
    // Its own tar of the tree, read to its end: the main process's tar is done with it then.
    await (await sandbox.getArchive(COLLECT_DIR)).toArray();
    // The main process alone, be it still the shell or already the sleep it becomes. The tree's end
    // can reach us as the shell execs that sleep, when its cmdline reads empty: read once it settled.
    expect(await processesSettled()).toEqual([expect.stringMatching(/^(\/bin\/bash \/usr\/local\/bin\/codex-runner-main|sleep infinity)$/)]);
    const sizeNow = (await readTarContents(Buffer.concat(await (await sandbox.getArchive(COLLECT_WORKSPACE)).toArray()))).get('ws/late.txt')!.length;
    await new Promise((resolve) => setTimeout(resolve, 200));
    const tree = await readTarContents(Buffer.concat(await (await sandbox.getArchive(COLLECT_WORKSPACE)).toArray()));
    expect(tree.get('ws/kept.txt')).toBe('kept\n');
    expect(tree.get('ws/late.txt')!.length).toBe(sizeNow);
    await sandbox.freeze();
    expect((await docker.getContainer(sandbox.id).inspect()).State).toMatchObject({ Running: true, Paused: false });
    expect(await sandbox.stopReason(1_000)).toBeNull();
  });

  it('streams a Readable stdin; output that merely looks like the report passes through', async () => {
    const out = sink();
    const fake = '\\0codex-runner-main:00000000000000000000000000000000:0:quiet\\n';
    expect(await sandbox.runMain(['bash', '-c', `wc -c; printf '${fake}'`], { stdin: Readable.from([Buffer.alloc(300_000, 1)]), stdout: out.stream })).toBe(0);
    expect(out.text()).toBe('300000\n\0codex-runner-main:00000000000000000000000000000000:0:quiet\n');
  });

  it("hands the first read of the tree its own tar, made once nothing else ran, and the next read the engine's", async () => {
    const script = 'mkdir -p /workspace/d && printf "%s" one > /workspace/d/f.txt && ln -s d/f.txt /workspace/link && mkfifo /workspace/fifo && echo home > /home/codex/.codex/h.txt';
    expect(await sandbox.runMain(['bash', '-c', script])).toBe(0);
    const names = async () => {
      const tar = Buffer.concat(await (await sandbox.getArchive(COLLECT_DIR)).toArray());
      return [...(await readTarContents(tar)).entries()].filter(([name]) => name.startsWith('.cr/ws/') || name.startsWith('.cr/home/h'));
    };
    const own = await names();
    expect(await archiveReads()).toBe(0);
    expect(own).toEqual([['.cr/home/h.txt', 'home\n'], ['.cr/ws/', ''], ['.cr/ws/d/', ''], ['.cr/ws/d/f.txt', 'one'], ['.cr/ws/link', '-> d/f.txt']]);
    // The engine's archive of the same stopped tree: the same files.
    expect(await names()).toEqual(own);
    expect(await archiveReads()).toBe(1);
    expect(await execsMade()).toEqual([]);
  });

  it('leaves a tree its owner cannot read wholly to the engine, which reads as root', async () => {
    const script = 'echo secret > /workspace/closed.txt && chmod 000 /workspace/closed.txt';
    expect(await sandbox.runMain(['bash', '-c', script])).toBe(0);
    const tar = Buffer.concat(await (await sandbox.getArchive(COLLECT_DIR)).toArray());
    expect((await readTarContents(tar)).get('.cr/ws/closed.txt')).toBe('secret\n');
  });

  it('runs once: a second command is refused', async () => {
    expect(await sandbox.runMain(['true'])).toBe(0);
    await expect(sandbox.runMain(['true'])).rejects.toThrow(/already/);
  });

  it('follows the execs made before it, as a setup phase makes them', async () => {
    const before = sink();
    expect(await sandbox.exec(['bash', '-c', 'echo set-up > /workspace/setup.txt; echo done'], { stdout: before.stream })).toBe(0);
    expect(before.text()).toBe('done\n');
    const out = sink();
    expect(await sandbox.runMain(['cat', '/workspace/setup.txt'], { stdout: out.stream })).toBe(0);
    expect(out.text()).toBe('set-up\n');
  });

  it('ends with the sandbox when its main process is killed, and the stop is named', async () => {
    const running = sandbox.runMain(['sleep', '30']);
    let main: string[] = [];
    while (!(main = await processes()).some((p) => p === 'sleep 30')) await new Promise((resolve) => setTimeout(resolve, 20));
    const { State } = await docker.getContainer(sandbox.id).inspect();
    const mainPid = Number(readFileSync(`/proc/${State.Pid}/task/${State.Pid}/children`, 'utf8').trim().split(/\s+/)[0]);
    process.kill(mainPid, 'SIGKILL');
    expect(await running).toBe(137);
    const stopped = await sandbox.stopReason();
    expect([stopped?.code, stopped?.message]).toEqual(['sandbox_stopped', 'the sandbox stopped: its main process exited with code 137']);
  });

  it('can be frozen at once after the start, with no command given, and removed', async () => {
    await sandbox.freeze();
    expect((await docker.getContainer(sandbox.id).inspect()).State.Paused).toBe(true);
    // afterEach removes the frozen sandbox and checks that nothing is left.
  });
});
