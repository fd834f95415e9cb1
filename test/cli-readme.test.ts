// The README's CLI examples, run as written against a real server (real Docker, the real Codex
// binary, the stand-in as the model): the shell session, the schema review, and the commands of the GitHub Actions and
// GitLab CI jobs on a checked-out repository. The jobs' checkout and `npm ci` steps are what this test
// does itself: the clone under test is the copy of codex-runner they would install.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readTarContents } from '../server/archive/test-tarballs.js';
import { BIN, git } from './fixtures/cli-process.js';
import { readmeBlock } from './fixtures/readme-block.js';
import { startHarness, type Harness } from './fixtures/harness.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('..', import.meta.url));

let h: Harness;
let dir: string;
beforeAll(async () => {
  h = await startHarness();
  dir = await mkdtemp(path.join(tmpdir(), 'cli-readme-'));
});
afterAll(async () => {
  await h?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});


/** A checked-out project: a package.json of its own (so npm must be told where codex-runner is), a CLI source and a README. */
async function checkout(repo: string): Promise<void> {
  await mkdir(repo, { recursive: true });
  await writeFile(path.join(repo, 'package.json'), '{ "name": "some-project", "version": "1.0.0", "private": true }\n');
  await writeFile(path.join(repo, 'cli.js'), 'console.log("hello");\n');
  await writeFile(path.join(repo, 'README.md'), '# tool\n');
  git(repo, 'init', '-q');
  git(repo, 'add', '-A');
  git(repo, 'commit', '-qm', 'init');
}

function scriptVerboseEdit(): void {
  h.standIn.scriptUnmarked([
    { exec: `printf 'if (process.argv.includes("--verbose")) console.log("verbose");\\n' >> cli.js && printf '\\nUse --verbose for more output.\\n' >> README.md` },
    { message: 'Added --verbose and documented it.' },
  ]);
}

async function bash(script: string, cwd: string, env: Record<string, string>) {
  return run('bash', ['-euo', 'pipefail', '-c', script], { cwd, env: { PATH: process.env.PATH, HOME: dir, ...env }, timeout: 120_000, maxBuffer: 16 * 1024 * 1024 });
}

async function expectVerboseApplied(repo: string): Promise<void> {
  expect(await readFile(path.join(repo, 'cli.js'), 'utf8')).toContain('--verbose');
  expect(await readFile(path.join(repo, 'README.md'), 'utf8')).toContain('Use --verbose');
}

describe('the README CLI session', () => {
  it('runs, applies, downloads the workspace and lists the run', async () => {
    const work = path.join(dir, 'session');
    await checkout(path.join(work, 'path/to/repo'));
    // codex-runner installed in the project: npx finds it in node_modules/.bin.
    await mkdir(path.join(work, 'node_modules/.bin'), { recursive: true });
    await symlink(BIN, path.join(work, 'node_modules/.bin/codex-runner'));
    scriptVerboseEdit();
    const { stdout, stderr } = await bash(await readmeBlock('cli-session', 'sh'), work, { CODEX_RUNNER_URL: h.url, CODEX_RUNNER_TOKEN: h.token });
    expect(stdout).toMatch(/^Added --verbose and documented it\.\n/);
    expect(stdout).toMatch(/2 files changed/);
    const id = /^(run_\S+) succeeded/m.exec(stderr)![1]!;
    expect(stdout).toMatch(new RegExp(`^${id}  succeeded  `, 'm'));
    await expectVerboseApplied(path.join(work, 'path/to/repo'));
    const ws = await readTarContents(await readFile(path.join(work, 'edited.tar.gz')));
    expect(ws.get('cli.js')).toContain('--verbose');
    expect(await readFile(path.join(work, 'verbose.patch'), 'utf8')).toContain('+Use --verbose for more output.');
  });

  it('holds a review to a schema: review.json is the run\'s output, the JSON the schema asked for', async () => {
    const work = path.join(dir, 'schema');
    await checkout(path.join(work, 'path/to/repo'));
    await mkdir(path.join(work, 'node_modules/.bin'), { recursive: true });
    await symlink(BIN, path.join(work, 'node_modules/.bin/codex-runner'));
    const answer = { verdict: 'fail', findings: ['cli.js: a missing file is not handled'] };
    h.standIn.scriptUnmarked([{ exec: 'cat cli.js' }, { message: JSON.stringify(answer) }]);
    await bash(await readmeBlock('cli-schema', 'sh'), work, { CODEX_RUNNER_URL: h.url, CODEX_RUNNER_TOKEN: h.token });
    expect(JSON.parse(await readFile(path.join(work, 'review.json'), 'utf8'))).toEqual(answer);
    const schema = JSON.parse(await readFile(path.join(work, 'review.schema.json'), 'utf8'));
    expect(h.standIn.requests.at(-1)!.body).toMatchObject({ text: { format: { type: 'json_schema', schema } } });
  });

  it('npx codex-runner runs the bin from the clone itself', async () => {
    const { stdout } = await run('npx', ['--offline', 'codex-runner', 'token', '--tenant', 'npx'], { cwd: ROOT, env: { ...process.env, CODEX_RUNNER_TOKEN: '' } });
    expect(stdout).toMatch(/^\[\[tenants\]\]\nname = "npx"\n/m);
  });
});

/** `${{ secrets.X }}` and `${{ inputs.X }}` from these values; any other expression is an error. */
function substitute(text: string, values: Record<string, string>): string {
  return text.replace(/\$\{\{\s*([\w.]+)\s*\}\}/g, (_, name: string) => {
    if (!(name in values)) throw new Error(`the job uses \${{ ${name} }}, which this test does not provide`);
    return values[name]!;
  });
}

describe('the README GitHub Actions job', () => {
  it('runs Codex on the checkout, applies the diff and leaves the patch for upload-artifact', async () => {
    const workflow = parse(await readmeBlock('github-actions', 'yaml'));
    const steps: any[] = workflow.jobs.codex.steps;
    const workspace = path.join(dir, 'github');
    await checkout(path.join(workspace, 'repo'));
    await symlink(ROOT, path.join(workspace, 'codex-runner'));
    const values = { 'secrets.CODEX_RUNNER_URL': h.url, 'secrets.CODEX_RUNNER_TOKEN': h.token, 'inputs.prompt': 'Add a --verbose flag to the CLI and document it' };

    const checkouts = steps.filter((s) => s.uses?.startsWith('actions/checkout@'));
    expect(checkouts.map((s) => s.with.path)).toEqual(['repo', 'codex-runner']);
    const runSteps = steps.filter((s) => s.run !== undefined);
    expect(runSteps[0].run).toBe('npm ci --prefix codex-runner');
    scriptVerboseEdit();
    let output = '';
    for (const step of runSteps.slice(1)) {
      const env = Object.fromEntries(Object.entries(step.env ?? {}).map(([k, v]) => [k, substitute(String(v), values)]));
      const { stdout } = await bash(substitute(step.run, values), path.join(workspace, step['working-directory'] ?? '.'), env);
      output += stdout;
    }
    await expectVerboseApplied(path.join(workspace, 'repo'));
    expect(output).toContain('Added --verbose and documented it.');
    expect(output).toMatch(/2 files changed/);
    const upload = steps.find((s) => s.uses?.startsWith('actions/upload-artifact@'));
    expect((await stat(path.join(workspace, upload.with.path))).size).toBeGreaterThan(0);
  });
});

describe('the README GitLab CI job', () => {
  it('runs Codex on the checkout and leaves the patch and the workspace as artifacts', async () => {
    const job = parse(await readmeBlock('gitlab-ci', 'yaml')).codex;
    const project = path.join(dir, 'gitlab');
    await checkout(project);
    expect(job.before_script).toEqual(['git clone --depth 1 https://gitlab.example.org/tools/codex-runner.git "$CODEX_RUNNER_HOME"', 'npm ci --prefix "$CODEX_RUNNER_HOME"']);
    scriptVerboseEdit();
    // The job's variables, with CODEX_RUNNER_HOME pointing at the clone its before_script would make.
    const env = { ...job.variables, CODEX_RUNNER_HOME: ROOT, CODEX_RUNNER_URL: h.url, CODEX_RUNNER_TOKEN: h.token, CODEX_PROMPT: 'Add a --verbose flag to the CLI and document it' };
    let output = '';
    for (const line of job.script as string[]) output += (await bash(line, project, env)).stdout;
    expect(output).toBe('Added --verbose and documented it.\n');
    for (const artifact of job.artifacts.paths as string[]) expect((await stat(path.join(project, artifact))).size).toBeGreaterThan(0);
    expect(await readFile(path.join(project, 'codex.patch'), 'utf8')).toContain('+Use --verbose for more output.');
    // Not applied: this job only keeps the patch.
    expect(await readFile(path.join(project, 'cli.js'), 'utf8')).toBe('console.log("hello");\n');
  });
});
