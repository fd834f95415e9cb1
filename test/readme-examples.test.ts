// Runs the README's marked examples exactly as written, against a real server, real Docker and the
// real Codex binary (the stand-in plays the model). An example that stops working fails here.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from './fixtures/harness.js';

const run = promisify(execFile);
const README = fileURLToPath(new URL('../README.md', import.meta.url));

/** The shell block that follows `<!-- readme-example: NAME -->`. */
async function readmeExample(name: string): Promise<string> {
  const text = await readFile(README, 'utf8');
  const marker = `<!-- readme-example: ${name} -->`;
  const at = text.indexOf(marker);
  if (at < 0) throw new Error(`README has no example ${name}`);
  const block = /```sh\n([\s\S]*?)```/.exec(text.slice(at));
  if (!block) throw new Error(`README example ${name} has no sh block after its marker`);
  return block[1]!;
}

describe('the README curl session', () => {
  let h: Harness;
  let dir: string;
  beforeAll(async () => {
    h = await startHarness();
    dir = await mkdtemp(path.join(tmpdir(), 'readme-curl-'));
  });
  afterAll(async () => {
    await h?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('uploads with all three parts, applies the diff, fetches the workspace and the events', async () => {
    const repo = path.join(dir, 'path/to/repo');
    await mkdir(repo, { recursive: true });
    await writeFile(path.join(repo, 'cli.js'), 'console.log("hello");\n');
    await writeFile(path.join(repo, 'README.md'), '# tool\n');
    await run('git', ['init', '-q'], { cwd: repo });
    await run('git', ['add', '-A'], { cwd: repo });
    await run('git', ['-c', 'user.email=t@t', '-c', 'user.name=t', 'commit', '-qm', 'init'], { cwd: repo });
    h.standIn.scriptUnmarked([
      { exec: `printf 'if (process.argv.includes("--verbose")) console.log("verbose");\\n' >> cli.js && printf '\\nUse --verbose for more output.\\n' >> README.md` },
      { message: 'Added --verbose and documented it.' },
    ]);

    const script = await readmeExample('curl-session');
    const { stdout } = await run('bash', ['-euo', 'pipefail', '-c', script], {
      cwd: dir,
      env: { PATH: process.env.PATH, HOME: dir, CODEX_RUNNER_URL: h.url, CODEX_RUNNER_TOKEN: h.token },
      timeout: 120_000,
      maxBuffer: 16 * 1024 * 1024,
    });

    const result = JSON.parse(await readFile(path.join(dir, 'run.json'), 'utf8'));
    expect(result).toMatchObject({ status: 'succeeded', model: 'gpt-5-codex', timeout_s: 600, final_message: 'Added --verbose and documented it.' });
    expect(result.changes.files_changed).toBe(2);
    // The diff was applied to the repository by `git apply`.
    expect(await readFile(path.join(repo, 'cli.js'), 'utf8')).toContain('--verbose');
    expect(await readFile(path.join(repo, 'README.md'), 'utf8')).toContain('Use --verbose');
    // The workspace tarball holds the edit.
    expect(gunzipSync(await readFile(path.join(dir, 'edited.tar.gz'))).toString('latin1')).toContain('console.log("verbose")');
    // The events were replayed to their end.
    expect(stdout).toContain('event: run');
    expect(stdout).toContain('"type":"run.succeeded"');
  });
});

describe('the README OpenAI-compatible example', () => {
  let h: Harness;
  let dir: string;
  beforeAll(async () => {
    h = await startHarness();
    dir = await mkdtemp(path.join(tmpdir(), 'readme-openai-'));
  });
  afterAll(async () => {
    await h?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('answers a chat completion over an inline workspace and serves the run diff by the header run id', async () => {
    h.standIn.scriptUnmarked([{ exec: "sed -i 's/helo/hello/' greet.txt" }, { message: 'Fixed the typo.' }]);

    const script = await readmeExample('openai-chat');
    const { stdout } = await run('bash', ['-euo', 'pipefail', '-c', script], {
      cwd: dir,
      env: { PATH: process.env.PATH, HOME: dir, CODEX_RUNNER_URL: h.url, CODEX_RUNNER_TOKEN: h.token },
      timeout: 120_000,
    });

    const completion = JSON.parse(await readFile(path.join(dir, 'completion.json'), 'utf8'));
    expect(completion).toMatchObject({ object: 'chat.completion', choices: [{ message: { role: 'assistant', content: 'Fixed the typo.' }, finish_reason: 'stop' }] });
    expect(completion.usage.prompt_tokens).toBeGreaterThan(0);
    const headers = await readFile(path.join(dir, 'headers.txt'), 'utf8');
    expect(headers).toContain(`x-codex-runner-run-id: ${completion.codex_runner.run_id}`);
    expect(stdout).toContain('-helo world');
    expect(stdout).toContain('+hello world');
  });
});
