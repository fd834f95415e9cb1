// A sandbox's first exec takes the process started for it ahead (the image's codex-runner-standby):
// the command, its environment and its stdin reach it as a fresh exec's would, the engine's record
// of the exec holds none of them, and a standby that died is replaced by a fresh exec. Real Docker,
// the sandbox image.
import { PassThrough, Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Sandbox } from '../server/sandbox/driver.js';
import { bareSandboxDriver, startBareSandbox } from './fixtures/bare-sandbox.js';
import { docker, leftovers } from './fixtures/docker.js';

const { driver, instance } = bareSandboxDriver('standby-test');
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
  return { stream, text: () => Buffer.concat(parts).toString() };
}

/** Every exec made in the sandbox, in order, from the engine's events: its id and command line. */
async function execsMade(): Promise<{ id: string; command: string }[]> {
  const events = (await docker.getEvents({
    since: Math.floor(Date.now() / 1000) - 120,
    until: Date.now() / 1000,
    filters: { container: [sandbox.id], event: ['exec_create'] },
  } as Parameters<typeof docker.getEvents>[0])) as unknown as Readable;
  const text = (await events.toArray()).map((c: Buffer) => c.toString()).join('');
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as { status: string; Actor: { Attributes: { execID: string } } })
    .map((e) => ({ id: e.Actor.Attributes.execID, command: e.status.replace(/^exec_create: /, '').trim() }));
}

/** The standby's exec, once its process runs: the first exec would otherwise wait for its start. */
async function standbyRunning(): Promise<string> {
  for (let i = 0; i < 100; i++) {
    const standby = (await execsMade()).find((e) => e.command === 'codex-runner-standby');
    if (standby && (await docker.getExec(standby.id).inspect()).Pid > 0) return standby.id;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error('no standby process was started');
}

describe("a sandbox's first exec", () => {
  it('runs in the standby process: argv with spaces and an empty argument, its environment, its stdin, its exit code', async () => {
    const standby = await standbyRunning();
    const [out, err] = [sink(), sink()];
    const script = 'printf "[%s]" "$@"; echo; echo "secret=$RUN_SECRET lines=$(printf %s "$MULTI" | wc -l)"; cat; echo oops >&2; exit 7';
    const code = await sandbox.exec(['bash', '-c', script, 'name', 'two words', '', '-n'], {
      env: ['RUN_SECRET=s3cr3t-value', 'MULTI=a\nb\nc'],
      stdin: 'the prompt\n',
      stdout: out.stream,
      stderr: err.stream,
    });
    expect(code).toBe(7);
    expect(out.text()).toBe('[two words][][-n]\nsecret=s3cr3t-value lines=2\nthe prompt\n');
    expect(err.text()).toBe('oops\n');
    // One exec only, the standby's, which ran the command; the engine's record of it holds neither the command nor its secret.
    expect((await execsMade()).map((e) => e.command)).toEqual(['codex-runner-standby']);
    const record = await docker.getExec(standby).inspect();
    expect(record).toMatchObject({ Running: false, ExitCode: 7, ProcessConfig: { entrypoint: 'codex-runner-standby', arguments: [] } });
    expect(JSON.stringify(record)).not.toMatch(/s3cr3t|two words/);
  });

  it('streams a Readable stdin, and gives a command with no stdin an ended one', async () => {
    await standbyRunning();
    const out = sink();
    expect(await sandbox.exec(['wc', '-c'], { stdin: Readable.from([Buffer.alloc(300_000, 1)]), stdout: out.stream })).toBe(0);
    expect(out.text().trim()).toBe('300000');
    const second = sink();
    // The second exec is a fresh one: nothing waits on its stdin.
    expect(await sandbox.exec(['cat'], { stdout: second.stream })).toBe(0);
    expect(second.text()).toBe('');
    expect((await execsMade()).map((e) => e.command)).toEqual(['codex-runner-standby', 'cat']);
  });

  it('starts its own exec when the standby process is gone', async () => {
    const standby = await standbyRunning();
    // Killed from the host, outside the sandbox's exec path (an exec would take it).
    process.kill((await docker.getExec(standby).inspect()).Pid, 'SIGKILL');
    while ((await docker.getExec(standby).inspect()).Running) await new Promise((resolve) => setTimeout(resolve, 20));
    const out = sink();
    expect(await sandbox.exec(['echo', 'fresh'], { env: ['A=1'], stdout: out.stream })).toBe(0);
    expect(out.text()).toBe('fresh\n');
    expect((await execsMade()).map((e) => e.command)).toEqual(['codex-runner-standby', 'echo fresh']);
  });

  it('is waited for by a freeze at once after the start, which would otherwise meet its exec half-started and wedge the engine', async () => {
    // No wait for the standby: the freeze comes while its exec may still be made and started.
    await sandbox.freeze();
    const standby = (await execsMade()).find((e) => e.command === 'codex-runner-standby');
    expect(standby).toBeDefined();
    expect((await docker.getExec(standby!.id).inspect()).Pid).toBeGreaterThan(0);
    // afterEach removes the frozen sandbox and checks that nothing is left.
  });
});
