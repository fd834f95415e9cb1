// The `codex-runner` CLI end to end: the real bin (scripts/codex-runner.js) as a child process, not
// on a terminal, against a real server on real Docker with the real Codex binary (the stand-in
// plays the model).
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse } from 'smol-toml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readTarContents } from '../server/archive/test-tarballs.js';
import { git, startCli, type CliResult } from './fixtures/cli-process.js';
import { startHarness, type Harness } from './fixtures/harness.js';
import { until } from './fixtures/until.js';

const TIMESTAMPED = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z \+\d+(\.\d)?s /;

/** A loopback port nothing listens on (fetch refuses to even try some low ports). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

let h: Harness;
let dir: string;
let serverEnv: Record<string, string>;

const cli = (args: string[], cwd = dir, env: Record<string, string> = serverEnv) => startCli(args, cwd, env).done;

/** A committed repository: README.md, src/app.js, a .gitignore leaving out *.log; plus an untracked file and an ignored one. */
async function makeRepo(name: string): Promise<string> {
  const repo = path.join(dir, name);
  await mkdir(path.join(repo, 'src'), { recursive: true });
  await writeFile(path.join(repo, 'README.md'), '# demo\n\nold line\n');
  await writeFile(path.join(repo, 'src/app.js'), 'console.log("app");\n');
  await writeFile(path.join(repo, '.gitignore'), '*.log\n');
  git(repo, 'init', '-q');
  git(repo, 'add', '-A');
  git(repo, 'commit', '-qm', 'init');
  await writeFile(path.join(repo, 'notes.txt'), 'untracked\n');
  await writeFile(path.join(repo, 'debug.log'), 'ignored\n');
  return repo;
}

const editReadme = () => h.prompt([{ exec: "sed -i 's/old line/new line/' README.md" }, { message: 'Changed the old line.' }], 'change the old line');

beforeAll(async () => {
  h = await startHarness();
  dir = await mkdtemp(path.join(tmpdir(), 'cli-test-'));
  serverEnv = { CODEX_RUNNER_URL: h.url, CODEX_RUNNER_TOKEN: h.token };
});
afterAll(async () => {
  await h?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('codex-runner run', () => {
  let repo: string;
  let result: CliResult;
  let runId: string;

  beforeAll(async () => {
    repo = await makeRepo('applied');
    result = await cli(['run', repo, '-p', editReadme(), '--apply', '--out', path.join(dir, 'ws.tar.gz'), '--diff', path.join(dir, 'applied.patch')]);
    runId = /^(run_\S+) succeeded/m.exec(result.stderr)?.[1] ?? '';
  });

  it('exits 0 and prints the final message alone on stdout', () => {
    expect(result.stderr).not.toMatch(/codex-runner: /);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe('Changed the old line.\n');
  });

  it('shows progress off a terminal as plain timestamped lines: the lifecycle, the command, the message', () => {
    const lines = result.stderr.trimEnd().split('\n');
    const progress = lines.filter((l) => TIMESTAMPED.test(l)).map((l) => l.replace(TIMESTAMPED, ''));
    expect(progress[0]).toMatch(/^uploading 4 files from /);
    expect(progress).toContain(`run ${runId} queued`);
    expect(progress).toContain('run starting Codex');
    expect(progress).toContain("$ sed -i 's/old line/new line/' README.md");
    expect(progress).toContain("  exit 0: sed -i 's/old line/new line/' README.md");
    expect(progress).toContain('message: Changed the old line.');
    expect(progress.at(-1)).toBe('run succeeded');
    // No cursor movement, colours or carriage returns: a CI log shows it as it is.
    expect(result.stderr).not.toMatch(/[\r\u001b]/);
    expect(lines).toContain(`diff: ${path.join(dir, 'applied.patch')}`);
    expect(lines).toContain(`applied to ${repo}`);
  });

  it('applies the diff to the repository with git apply', async () => {
    expect(await readFile(path.join(repo, 'README.md'), 'utf8')).toBe('# demo\n\nnew line\n');
    expect(git(repo, 'status', '--porcelain', '--untracked-files=no')).toBe(' M README.md\n');
    expect(await readFile(path.join(dir, 'applied.patch'), 'utf8')).toContain('+new line');
  });

  it('sent what git would commit: tracked and untracked files, neither ignored ones nor .git; --out holds the edited workspace', async () => {
    const ws = await readTarContents(await readFile(path.join(dir, 'ws.tar.gz')));
    expect([...ws.keys()].filter((k) => !k.endsWith('/')).sort()).toEqual(['.gitignore', 'README.md', 'notes.txt', 'src/app.js']);
    expect(ws.get('README.md')).toBe('# demo\n\nnew line\n');
  });

  it('refuses --apply on a tree with uncommitted changes (exit 2) before uploading, and --force applies anyway', async () => {
    const dirty = await makeRepo('dirty');
    await writeFile(path.join(dirty, 'src/app.js'), 'console.log("local edit");\n');
    const before = ((await (await h.api('/v1/runs?limit=100')).json()) as any).runs.length;
    const refused = await cli(['run', dirty, '-p', editReadme(), '--apply']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/--apply needs a clean work tree, and .* has uncommitted changes \(src\/app\.js\); commit or stash them, or pass --force/);
    expect(((await (await h.api('/v1/runs?limit=100')).json()) as any).runs.length).toBe(before);

    const forced = await cli(['run', dirty, '-p', editReadme(), '--apply', '--force'], dirty);
    expect(forced.code).toBe(0);
    expect(await readFile(path.join(dirty, 'README.md'), 'utf8')).toBe('# demo\n\nnew line\n');
    expect(await readFile(path.join(dirty, 'src/app.js'), 'utf8')).toBe('console.log("local edit");\n');
    // Without --diff the patch is written to the current directory, named after the run.
    const id = /^(run_\S+) succeeded/m.exec(forced.stderr)![1]!;
    expect((await stat(path.join(dirty, `codex-runner-${id}.patch`))).size).toBeGreaterThan(0);
  });

  it('applies from a subdirectory of a repository to that subdirectory', async () => {
    const top = await makeRepo('nested');
    await mkdir(path.join(top, 'pkg'));
    await writeFile(path.join(top, 'pkg/README.md'), '# pkg\n\nold line\n');
    git(top, 'add', '-A');
    git(top, 'commit', '-qm', 'pkg');
    const res = await cli(['run', 'pkg', '-p', editReadme(), '--apply', '--diff', path.join(dir, 'nested.patch')], top);
    expect(res.code).toBe(0);
    expect(await readFile(path.join(top, 'pkg/README.md'), 'utf8')).toBe('# pkg\n\nnew line\n');
    expect(await readFile(path.join(top, 'README.md'), 'utf8')).toBe('# demo\n\nold line\n');
  });

  it('prints the run as JSON with --json', async () => {
    const repo = await makeRepo('json');
    const res = await cli(['run', repo, '-p', editReadme(), '--json', '--diff', path.join(dir, 'json.patch')]);
    expect(res.code).toBe(0);
    const run = JSON.parse(res.stdout);
    expect(run).toMatchObject({ status: 'succeeded', final_message: 'Changed the old line.', changes: { files_changed: 1 } });
    expect(await readFile(path.join(repo, 'README.md'), 'utf8')).toBe('# demo\n\nold line\n');
  });

  it('sends a directory outside git without what its .gitignore excludes', async () => {
    const plain = path.join(dir, 'plain');
    await mkdir(path.join(plain, 'node_modules/x'), { recursive: true });
    await writeFile(path.join(plain, '.gitignore'), 'node_modules/\n');
    await writeFile(path.join(plain, 'node_modules/x/index.js'), 'x\n');
    await writeFile(path.join(plain, 'README.md'), 'old line\n');
    const res = await cli(['run', plain, '-p', editReadme(), '--apply', '--out', path.join(dir, 'plain.tar.gz'), '--diff', path.join(dir, 'plain.patch')]);
    expect(res.code).toBe(0);
    expect(await readFile(path.join(plain, 'README.md'), 'utf8')).toBe('new line\n');
    const ws = await readTarContents(await readFile(path.join(dir, 'plain.tar.gz')));
    expect([...ws.keys()].filter((k) => !k.endsWith('/')).sort()).toEqual(['.gitignore', 'README.md']);
  });
});

describe('exit codes', () => {
  it('1 when the run fails', async () => {
    const repo = await makeRepo('fails');
    const prompt = h.prompt([{ status: 401, body: { error: { message: 'Incorrect API key provided', type: 'invalid_request_error' } } }]);
    const res = await cli(['run', repo, '-p', prompt, '--apply', '--diff', path.join(dir, 'fails.patch')]);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/^run_\S+ failed in /m);
    expect(res.stderr).toMatch(/^error: provider_auth: /m);
    expect(res.stderr).toContain('not applying the diff: the run did not succeed');
  });

  it('2 for a usage error: an unknown flag, a bad number, no prompt, no token, options the server refuses', async () => {
    expect((await cli(['run', '--bogus', '-p', 'x'])).code).toBe(2);
    expect((await cli(['run', '-p', 'x', '--timeout', 'soon'])).stderr).toMatch(/--timeout.*a whole number above 0/);
    expect((await cli(['run', '-p', 'x', '--timeout', 'soon'])).code).toBe(2);
    expect((await cli(['run', dir])).code).toBe(2);
    expect((await cli(['frobnicate'])).code).toBe(2);
    expect(await cli(['run', path.join(dir, 'nowhere'), '-p', 'x'])).toMatchObject({ code: 2, stderr: `codex-runner: ${path.join(dir, 'nowhere')} is not a directory\n` });
    const noToken = await cli(['list'], dir, { CODEX_RUNNER_URL: h.url });
    expect(noToken).toMatchObject({ code: 2, stderr: 'codex-runner: no API token: pass --token or set CODEX_RUNNER_TOKEN\n' });
    const empty = path.join(dir, 'empty');
    await mkdir(empty);
    const refused = await cli(['run', empty, '-p', 'x', '--provider', 'nowhere']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/codex-runner: 400 invalid_options: .*nowhere/);
  });

  it('3 when the run times out', async () => {
    const repo = await makeRepo('slow');
    const res = await cli(['run', repo, '-p', h.prompt([{ exec: 'sleep 60', yieldMs: 30_000 }]), '--timeout', '3', '--diff', path.join(dir, 'slow.patch')]);
    expect(res.code).toBe(3);
    expect(res.stderr).toMatch(/^run_\S+ timed_out in /m);
  });

  it('4 on Ctrl-C: the run is cancelled on the server', async () => {
    const repo = await makeRepo('interrupted');
    const child = startCli(['run', repo, '-p', h.prompt([{ exec: 'sleep 60', yieldMs: 30_000 }]), '--diff', path.join(dir, 'interrupted.patch')], dir, serverEnv);
    await until('the command to start', async () => (child.stderrText().includes('$ sleep 60') ? true : undefined), 60_000);
    child.signal('SIGINT');
    const res = await child.done;
    expect(res.code).toBe(4);
    const id = /run (run_\S+) queued/.exec(res.stderr)![1]!;
    expect(res.stderr).toContain(`cancelling ${id}`);
    expect(res.stderr).toMatch(/run cancelled: cancelled: /);
    const run: any = await (await h.api(`/v1/runs/${id}`)).json();
    expect(run.status).toBe('cancelled');
  });

  it('5 when the server is unreachable or refuses the token', async () => {
    const port = await closedPort();
    const unreachable = await cli(['list'], dir, { CODEX_RUNNER_URL: `http://127.0.0.1:${port}`, CODEX_RUNNER_TOKEN: 'x' });
    expect(unreachable.code).toBe(5);
    expect(unreachable.stderr).toBe(`codex-runner: cannot reach http://127.0.0.1:${port}: ECONNREFUSED\n`);
    const empty = await mkdtemp(path.join(dir, 'unauth-'));
    const unauthorised = await cli(['run', empty, '-p', 'x', '--token', 'not-a-token']);
    expect(unauthorised.code).toBe(5);
    expect(unauthorised.stderr).toContain('codex-runner: 401 unauthorized: invalid bearer token');
  });
});

describe('status, logs, cancel, list', () => {
  let id: string;
  beforeAll(async () => {
    const res = await h.createRun({ prompt: h.prompt([{ exec: 'echo one' }, { exec: 'echo two' }, { message: 'two commands' }]), wait: true });
    id = ((await res.json()) as any).id;
  });

  it('status prints the run, --json as the API gives it', async () => {
    const text = await cli(['status', id]);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(new RegExp(`^${id}  succeeded\\n`));
    expect(text.stdout).toContain('  final message: two commands');
    const json = await cli(['status', id, '--json']);
    expect(JSON.parse(json.stdout)).toEqual(await (await h.api(`/v1/runs/${id}`)).json());
    const missing = await cli(['status', 'run_nope']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/404 not_found/);
  });

  it('logs prints the events, and resumes after --after N', async () => {
    const all = await cli(['logs', id]);
    expect(all.code).toBe(0);
    expect(all.stdout).toMatch(/^\d+ \$ echo one$/m);
    expect(all.stdout).toMatch(/^\d+ {3}exit 0: echo two$/m);
    expect(all.stdout.trimEnd().split('\n').at(-1)).toMatch(/^\d+ run succeeded$/);
    const events = (await cli(['logs', id, '--json'])).stdout.trimEnd().split('\n').map((l) => JSON.parse(l));
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    const resumed = (await cli(['logs', id, '--json', '--after', '3'])).stdout.trimEnd().split('\n').map((l) => JSON.parse(l));
    expect(resumed).toEqual(events.slice(3));
  });

  it('logs --follow follows a live run to its end; cancel cancels it', async () => {
    const created: any = await (await h.createRun({ prompt: h.prompt([{ exec: 'sleep 60', yieldMs: 30_000 }]) })).json();
    const follow = startCli(['logs', created.id, '--follow'], dir, serverEnv);
    await until('the run to start', async () => ((await (await h.api(`/v1/runs/${created.id}`)).json()) as any).status === 'running' || undefined);
    const cancelled = await cli(['cancel', created.id]);
    expect(cancelled.code).toBe(0);
    expect(cancelled.stdout).toMatch(new RegExp(`^${created.id} (running|cancelled)\\n$`));
    const followed = await follow.done;
    expect(followed.code).toBe(0);
    expect(followed.stdout.trimEnd().split('\n').at(-1)).toMatch(/^\d+ run cancelled: cancelled: /);
    expect((await h.waitForEnd(created.id)).status).toBe('cancelled');
  });

  it('list prints the runs newest first, filtered by --status, pages with --limit and --cursor', async () => {
    const page: any = JSON.parse((await cli(['list', '--json', '--limit', '2'])).stdout);
    expect(page.runs).toHaveLength(2);
    expect(page.next_cursor).toEqual(expect.any(String));
    const next: any = JSON.parse((await cli(['list', '--json', '--limit', '2', '--cursor', page.next_cursor])).stdout);
    expect(next.runs[0].id).not.toBe(page.runs[0].id);
    const text = await cli(['list', '--status', 'succeeded']);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(new RegExp(`^${id}  succeeded  \\S+  \\S+  two commands$`, 'm'));
    expect(text.stdout).not.toMatch(/cancelled/);
  });
});

describe('codex-runner token', () => {
  it('prints TOML whose [[tenants]] block admits the token it prints', async () => {
    const res = await cli(['token', '--tenant', 'ci'], dir, {});
    expect(res.code).toBe(0);
    const config = parse(res.stdout) as { tenants: { name: string; token_sha256: string }[] };
    const token = /^# token .*: (\S+)$/m.exec(res.stdout)![1]!;
    expect(config.tenants).toHaveLength(1);
    const admitted = await startHarness({ tenants: config.tenants });
    try {
      const list = await cli(['list', '--json'], dir, { CODEX_RUNNER_URL: admitted.url, CODEX_RUNNER_TOKEN: token });
      expect(list).toMatchObject({ code: 0, stdout: '{"runs":[],"next_cursor":null}\n' });
      const other = await cli(['list'], dir, { CODEX_RUNNER_URL: admitted.url, CODEX_RUNNER_TOKEN: `${token}x` });
      expect(other.code).toBe(5);
    } finally {
      await admitted.close();
    }
  });
});
