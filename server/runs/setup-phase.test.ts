import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { ExecOptions, Sandbox } from '../sandbox/driver.js';
import type { EventLog } from './event-log.js';
import { runSetup, SetupFailedError, type SetupSpec } from './setup-phase.js';

type Exec = (argv: string[], options: ExecOptions) => Promise<number>;

/** A sandbox that only runs execs, each answered by `script`, and records their argv and env. */
function sandboxOf(script: Exec) {
  const execs: { argv: string[]; env: string[] }[] = [];
  const sandbox = {
    exec: async (argv: string[], options: ExecOptions = {}) => {
      execs.push({ argv, env: options.env ?? [] });
      return script(argv, options);
    },
  } as unknown as Sandbox;
  return { sandbox, execs };
}

function recorder() {
  const events: { kind: string; data: any }[] = [];
  return { events, log: { append: (kind: string, data: unknown) => events.push({ kind, data }) } as unknown as EventLog };
}

const log = pino({ level: 'silent' });
const spec = (extra: Partial<SetupSpec> = {}): SetupSpec => ({ commands: ['one', 'two'], timeoutMs: 5_000, env: [], secrets: {}, maxLineBytes: 1024, ...extra });
const write = (options: ExecOptions, stdout: string, stderr = '') => {
  options.stdout?.write(stdout);
  if (stderr) options.stderr?.write(stderr);
};
const isReap = (argv: string[]) => argv[0] === 'bash' && argv[1] === '-c';

describe('runSetup', () => {
  it('runs each command with bash -lc, its output as setup events, in order', async () => {
    const { sandbox, execs } = sandboxOf(async (argv, o) => (write(o, `ran ${argv[2]}\n`, 'warn\n'), 0));
    const { events, log: ev } = recorder();
    await runSetup(sandbox, spec({ env: ['HTTP_PROXY=http://127.0.0.1:8090'] }), ev, new AbortController().signal, log);
    expect(execs.map((e) => e.argv)).toEqual([['bash', '-lc', 'one'], ['bash', '-lc', 'two']]);
    expect(execs[0]!.env).toEqual(['HTTP_PROXY=http://127.0.0.1:8090']);
    expect(events.every((e) => e.kind === 'setup')).toBe(true);
    expect(events.map((e) => e.data.type)).toEqual(['setup.started', 'setup.output', 'setup.output', 'setup.finished', 'setup.started', 'setup.output', 'setup.output', 'setup.finished']);
    expect(events[1]!.data).toEqual({ type: 'setup.output', index: 0, stream: 'stdout', text: 'ran one' });
    expect(events[2]!.data).toEqual({ type: 'setup.output', index: 0, stream: 'stderr', text: 'warn' });
  });

  it('stops at the first failing command, its message the output tail', async () => {
    const { sandbox, execs } = sandboxOf(async (argv, o) => (argv[2] === 'one' ? (write(o, 'line a\nline b'), 2) : 0));
    const { log: ev } = recorder();
    const err = await runSetup(sandbox, spec(), ev, new AbortController().signal, log).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SetupFailedError);
    expect((err as Error).message).toBe('setup command 1 (one) exited with code 2: line a\nline b');
    expect(execs).toHaveLength(1);
  });

  it('gives secrets to the setup execs only, redacts them from events and messages, and reaps after', async () => {
    const secret = 'hunter2-value';
    const { sandbox, execs } = sandboxOf(async (argv, o) => {
      if (isReap(argv)) return (write(o, 'PID 1\nHOME=/home/codex\n'), 0);
      write(o, `token=${secret}\n`);
      return argv[2] === 'two' ? 1 : 0;
    });
    const { events, log: ev } = recorder();
    const err = await runSetup(sandbox, spec({ secrets: { TOKEN: secret } }), ev, new AbortController().signal, log).catch((e: unknown) => e);
    expect((err as Error).message).toBe('setup command 2 (two) exited with code 1: token=[redacted]\ntoken=[redacted]');
    expect(JSON.stringify(events)).not.toContain(secret);
    expect(execs[0]!.env).toEqual([`TOKEN=${secret}`]);

    const ok = sandboxOf(async (argv, o) => (isReap(argv) ? (write(o, 'PID 1\nHOME=/home/codex\n'), 0) : 0));
    await runSetup(ok.sandbox, spec({ secrets: { TOKEN: secret } }), recorder().log, new AbortController().signal, log);
    const reap = ok.execs.at(-1)!;
    expect(isReap(reap.argv)).toBe(true);
    expect(reap.env).toEqual([]);
  });

  it('refuses to go on while a process still holds a secret or hides its environment', async () => {
    const secret = 'still-here-123';
    for (const [answer, code, message] of [
      [`PID 9\nTOKEN=${secret}\n`, 0, /still held/],
      ['PID 9\nUNREADABLE 9\n', 0, /hides its environment/],
      ['', 3, /could not be ended/],
    ] as const) {
      const { sandbox } = sandboxOf(async (argv, o) => (isReap(argv) ? (write(o, answer), code) : 0));
      const err = await runSetup(sandbox, spec({ secrets: { TOKEN: secret } }), recorder().log, new AbortController().signal, log).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SetupFailedError);
      expect((err as Error).message).toMatch(message);
      expect((err as Error).message).not.toContain(secret);
    }
  });

  it('fails a setup that passes its time limit, and rethrows the run\'s own stop', async () => {
    const hang: Exec = (_argv, o) =>
      new Promise((_, reject) => o.signal!.addEventListener('abort', () => reject(o.signal!.reason), { once: true }));
    const err = await runSetup(sandboxOf(hang).sandbox, spec({ timeoutMs: 50 }), recorder().log, new AbortController().signal, log).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SetupFailedError);
    expect((err as Error).message).toMatch(/setup exceeded its setup_timeout_s of 0 s in command 1/);
    const run = new AbortController();
    setTimeout(() => run.abort(new Error('cancelled')), 20);
    const stopped = await runSetup(sandboxOf(hang).sandbox, spec(), recorder().log, run.signal, log).catch((e: unknown) => e);
    expect((stopped as Error).message).toBe('cancelled');
  });
});
