// `codex-runner run --continue ID` end to end: the real bin against a real server on real Docker
// with the real Codex (the stand-in plays the model). A follow-up turn starts from its parent's
// final workspace and Codex session, sends no workspace, and its diff applies to a tree holding the
// parent's result (or, with --base root, every turn's changes to the tree as first uploaded). And the
// README's --continue example, as written.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readTarContents } from '../server/archive/test-tarballs.js';
import { BIN, git, startCli, type CliResult } from './fixtures/cli-process.js';
import { startHarness, type Harness } from './fixtures/harness.js';
import { readmeBlock } from './fixtures/readme-block.js';

let h: Harness;
let dir: string;
let env: Record<string, string>;

const cli = (args: string[], cwd = dir) => startCli(args, cwd, env).done;
const runIdOf = (res: CliResult) => /^(run_\S+) (succeeded|failed)/m.exec(res.stderr)?.[1] ?? '';
const readme = (repo: string) => readFile(path.join(repo, 'README.md'), 'utf8');

/** A committed repository holding README.md with "old line". */
async function makeRepo(name: string): Promise<string> {
  const repo = path.join(dir, name);
  await mkdir(repo);
  await writeFile(path.join(repo, 'README.md'), '# demo\n\nold line\n');
  git(repo, 'init', '-q');
  git(repo, 'add', '-A');
  git(repo, 'commit', '-qm', 'init');
  return repo;
}

beforeAll(async () => {
  h = await startHarness();
  dir = await mkdtemp(path.join(tmpdir(), 'cli-follow-up-'));
  env = { CODEX_RUNNER_URL: h.url, CODEX_RUNNER_TOKEN: h.token };
});
afterAll(async () => {
  await h?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('codex-runner run --continue', () => {
  let repo: string;
  let firstId: string;
  let followUp: CliResult;
  let followUpId: string;
  const secondPrompt = () => h.prompt([{ exec: "sed -i 's/new line/newer line/' README.md" }, { message: 'Made it newer.' }], 'now make it newer');

  beforeAll(async () => {
    repo = await makeRepo('repo');
    const first = await cli(['run', repo, '-p', h.prompt([{ exec: "sed -i 's/old line/new line/' README.md" }, { message: 'Changed the old line.' }], 'change the old line'), '--apply', '--diff', path.join(dir, 'first.patch')]);
    expect(first.code, first.stderr).toBe(0);
    firstId = runIdOf(first);
    git(repo, 'commit', '-qam', 'first turn');
    followUp = await cli(['run', repo, '--continue', firstId, '-p', secondPrompt(), '--apply', '--diff', path.join(dir, 'second.patch'), '--out', path.join(dir, 'second.tar.gz')]);
    followUpId = runIdOf(followUp);
  });

  it('exits 0 with the follow-up\'s final message, having uploaded nothing', () => {
    expect(followUp.stderr).not.toMatch(/codex-runner: /);
    expect(followUp.code).toBe(0);
    expect(followUp.stdout).toBe('Made it newer.\n');
    expect(followUp.stderr).toContain(`continuing ${firstId}`);
    expect(followUp.stderr).not.toMatch(/uploading \d+ file/);
    expect(followUpId).not.toBe(firstId);
  });

  it("started from the parent's final workspace, and applied only this turn's diff to the clean tree", async () => {
    expect(await readme(repo)).toBe('# demo\n\nnewer line\n');
    expect(git(repo, 'diff')).toMatch(/-new line\n\+newer line\n/);
    const patch = await readFile(path.join(dir, 'second.patch'), 'utf8');
    expect(patch).toContain('+newer line');
    expect(patch).not.toContain('-old line');
    const ws = await readTarContents(await readFile(path.join(dir, 'second.tar.gz')));
    expect(ws.get('README.md')).toBe('# demo\n\nnewer line\n');
  });

  it("resumed the parent's Codex session: the model saw the first turn's prompt", () => {
    const second = h.standIn.requests.filter((r) => JSON.stringify(r.body).includes('now make it newer'));
    expect(second.length).toBeGreaterThan(0);
    expect(JSON.stringify(second[0]!.body)).toContain('change the old line');
  });

  it('is a run of its own, naming its parent and the first run', async () => {
    const run: any = await (await h.api(`/v1/runs/${followUpId}`)).json();
    expect(run).toMatchObject({ id: followUpId, status: 'succeeded', parent_id: firstId, root_id: firstId });
  });

  it("with --base root writes and applies every turn's changes, to a tree as first uploaded", async () => {
    const fresh = await makeRepo('fresh');
    const prompt = h.prompt([{ exec: "printf 'third turn\\n' >> README.md" }, { message: 'Added a line.' }], 'add a line');
    const res = await cli(['run', fresh, '--continue', followUpId, '--base', 'root', '-p', prompt, '--apply', '--diff', path.join(dir, 'root.patch')]);
    expect(res.stderr).not.toMatch(/codex-runner: /);
    expect(res.code).toBe(0);
    expect(res.stderr).toContain(`(every turn's changes, since ${firstId}'s upload)`);
    expect(await readme(fresh)).toBe('# demo\n\nnewer line\nthird turn\n');
    expect(await readFile(path.join(dir, 'root.patch'), 'utf8')).toContain('-old line');
  });

  it('refuses --with-git with --continue (exit 2), and names the run it cannot continue', async () => {
    const refused = await cli(['run', repo, '--continue', firstId, '-p', 'x', '--with-git']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/^codex-runner: --with-git .* --continue sends no workspace/);
    const unknown = await cli(['run', '--continue', 'run_nope', '-p', 'x']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/^codex-runner: cannot continue run_nope: 404 not_found: /m);
  });
});

describe('the README --continue example', () => {
  it("applies both turns' changes to the untouched checkout", async () => {
    const work = path.join(dir, 'readme');
    const repo = path.join(work, 'path/to/repo');
    await mkdir(repo, { recursive: true });
    await writeFile(path.join(repo, 'cli.js'), 'console.log("hello");\n');
    await writeFile(path.join(repo, 'README.md'), '# tool\n');
    git(repo, 'init', '-q');
    git(repo, 'add', '-A');
    git(repo, 'commit', '-qm', 'init');
    // codex-runner installed in the project: npx finds it in node_modules/.bin.
    await mkdir(path.join(work, 'node_modules/.bin'), { recursive: true });
    await symlink(BIN, path.join(work, 'node_modules/.bin/codex-runner'));
    const [first, second, ...rest] = (await readmeBlock('cli-continue', 'sh')).trimEnd().split('\n');
    expect(rest).toEqual([]);
    const bash = (line: string) => promisify(execFile)('bash', ['-euo', 'pipefail', '-c', line], { cwd: work, env: { PATH: process.env.PATH, HOME: dir, ...env }, timeout: 120_000 });

    // The README's prompts carry no stand-in marker: each turn gets the unmarked script, whose step
    // is the number of tool results in the whole history, the first turn's among them.
    h.standIn.scriptUnmarked([{ exec: `printf 'if (process.argv.includes("--verbose")) console.log("verbose");\\n' >> cli.js` }, { message: 'Added --verbose.' }]);
    await bash(first!);
    h.standIn.scriptUnmarked([
      { message: 'the follow-up started at step 0: its history lacks the first turn' },
      { exec: `printf '\\nUse --verbose for more output.\\n' >> README.md` },
      { message: 'Documented it.' },
    ]);
    const { stdout } = await bash(second!);
    expect(stdout).toBe('Documented it.\n');
    expect(await readFile(path.join(repo, 'cli.js'), 'utf8')).toContain('--verbose');
    expect(await readFile(path.join(repo, 'README.md'), 'utf8')).toBe('# tool\n\nUse --verbose for more output.\n');
  });
});
