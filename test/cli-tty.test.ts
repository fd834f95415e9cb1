// The CLI on a terminal: `script` (util-linux) gives the process a pseudo-terminal, as a person's
// shell would. `run` redraws a status line; `serve` prints readable log lines instead of pino JSON.
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { stringify } from 'smol-toml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { leftovers } from './fixtures/docker.js';
import { BIN } from './fixtures/cli-process.js';
import { startHarness, type Harness } from './fixtures/harness.js';
import { until } from './fixtures/until.js';

const ANSI = /\u001b\[[0-9;?]*[A-Za-z]/g;
const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

interface OnTerminal {
  pid: number;
  output(): string;
  done: Promise<number | null>;
}

/** Runs `node BIN ...args` on a pseudo-terminal; `script -e` exits with the command's status. */
function onTerminal(args: string[], env: Record<string, string>): OnTerminal {
  const command = `stty cols 100 rows 30; exec ${[process.execPath, BIN, ...args].map(quote).join(' ')}`;
  const child = spawn('script', ['-qfec', command, '/dev/null'], { env: { PATH: process.env.PATH, HOME: tmpdir(), TERM: 'xterm', ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  const chunks: Buffer[] = [];
  child.stdout.on('data', (c: Buffer) => chunks.push(c));
  child.stderr.on('data', (c: Buffer) => chunks.push(c));
  const done = new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', resolve);
  });
  return { pid: child.pid!, output: () => Buffer.concat(chunks).toString(), done };
}

function childrenOf(pid: number): number[] {
  try {
    return execFileSync('pgrep', ['-P', String(pid)]).toString().trim().split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

let h: Harness;
let dir: string;
beforeAll(async () => {
  h = await startHarness();
  dir = await mkdtemp(path.join(tmpdir(), 'cli-tty-'));
});
afterAll(async () => {
  await h?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('codex-runner run on a terminal', () => {
  it('keeps a status line with the step, the running command and the time, and prints event lines above it', async () => {
    const repo = path.join(dir, 'repo');
    await mkdir(repo);
    await writeFile(path.join(repo, 'a.txt'), 'a\n');
    execFileSync('git', ['init', '-q'], { cwd: repo });
    const prompt = h.prompt([{ exec: 'sleep 2 && echo done', yieldMs: 30_000 }, { message: 'Slept.' }]);
    const term = onTerminal(['run', repo, '-p', prompt, '--diff', path.join(dir, 'tty.patch')], { CODEX_RUNNER_URL: h.url, CODEX_RUNNER_TOKEN: h.token });
    expect(await term.done).toBe(0);
    const raw = term.output();
    // log-update erases and redraws the line in place.
    expect(raw).toMatch(/\u001b\[2K/);
    const text = raw.replace(ANSI, '');
    expect(text).toMatch(/[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] \d+\.\ds {2}running: \$ sleep 2 && echo done/);
    // Event lines carry no timestamp on a terminal: the status line has the time.
    expect(text).toMatch(/^\$ sleep 2 && echo done\r?$/m);
    expect(text).not.toMatch(/^\d{4}-\d\d-\d\dT/m);
    expect(text).toMatch(/^Slept\.\r?$/m);
  });
});

describe('codex-runner serve on a terminal', () => {
  it('prints readable log lines, serves, and stops on SIGTERM leaving nothing behind', async () => {
    const instance = `tty-${randomBytes(4).toString('hex')}`;
    const config = path.join(dir, 'config.toml');
    await writeFile(config, stringify({ server: { listen: '127.0.0.1:0', data_dir: path.join(dir, 'data'), instance, shutdown_grace_s: 0 }, pool: { size: 0 } }));
    const term = onTerminal(['serve', '--config', config], { CODEX_RUNNER_TOKEN: `tok-${randomBytes(8).toString('hex')}` });
    try {
      const url = await until('the server to listen', async () => /codex-runner listening\s+url: "([^"]+)"/.exec(term.output().replace(ANSI, ''))?.[1], 30_000);
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
      const text = term.output().replace(ANSI, '');
      expect(text).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: starting\r?$/m);
      expect(text).not.toMatch(/^\{"level"/m);
      // The server is script's child (exec): SIGTERM is what a service manager sends.
      const [serverPid] = childrenOf(term.pid);
      process.kill(serverPid!, 'SIGTERM');
      expect(await term.done).toBe(0);
      expect(term.output().replace(ANSI, '')).toMatch(/INFO: shutting down/);
      expect(await leftovers(`codex-runner.instance=${instance}`)).toEqual({ containers: 0, volumes: 0 });
    } finally {
      // Only what this test started: a server still running under its script.
      for (const pid of childrenOf(term.pid)) process.kill(pid, 'SIGKILL');
    }
  });
});
