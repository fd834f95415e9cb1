// `codex-runner run --schema FILE` end to end: the real bin as a child process against a real server
// on real Docker with the real Codex (the stand-in plays the model), which holds the final message
// to the schema.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCli } from './fixtures/cli-process.js';
import { startHarness, type Harness } from './fixtures/harness.js';
import { verdictSchema } from './fixtures/verdict-schema.js';

let h: Harness;
let dir: string;
let workspace: string;
let schemaFile: string;
let env: Record<string, string>;

const cli = (args: string[]) => startCli(args, dir, env).done;
const runCount = async () => ((await (await h.api('/v1/runs?limit=100')).json()) as any).runs.length;

beforeAll(async () => {
  h = await startHarness();
  dir = await mkdtemp(path.join(tmpdir(), 'cli-schema-'));
  workspace = path.join(dir, 'ws');
  await mkdir(workspace);
  await writeFile(path.join(workspace, 'greet.txt'), 'helo\n');
  schemaFile = path.join(dir, 'verdict.json');
  await writeFile(schemaFile, JSON.stringify(verdictSchema));
  env = { CODEX_RUNNER_URL: h.url, CODEX_RUNNER_TOKEN: h.token };
});
afterAll(async () => {
  await h?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('codex-runner run --schema', () => {
  it("prints the run's output, the final message's JSON, as one pretty document on stdout", async () => {
    const answer = { verdict: 'fail', findings: ['greet.txt: "helo" is a typo'] };
    const prompt = h.prompt([{ exec: 'cat greet.txt' }, { message: JSON.stringify(answer) }], 'Review greet.txt');
    const res = await cli(['run', workspace, '-p', prompt, '--schema', schemaFile, '--diff', path.join(dir, 'review.patch')]);
    expect(res.stderr).not.toMatch(/codex-runner: /);
    expect(res.code).toBe(0);
    expect(res.stdout).toBe(`${JSON.stringify(answer, null, 2)}\n`);
    // The schema reached Codex, which sent it upstream as the text format.
    const sent = h.standIn.requests.filter((r) => prompt.includes(`[stand-in:${r.script}]`));
    expect((sent[0]!.body as any).text.format).toMatchObject({ type: 'json_schema', schema: verdictSchema });
  });

  it('prints the whole run with --json', async () => {
    const prompt = h.prompt([{ message: '{"verdict":"pass","findings":[]}' }]);
    const res = await cli(['run', workspace, '-p', prompt, '--schema', schemaFile, '--json']);
    expect(res.code).toBe(0);
    expect(JSON.parse(res.stdout)).toMatchObject({ status: 'succeeded', output: { verdict: 'pass', findings: [] }, final_message: '{"verdict":"pass","findings":[]}' });
  });

  it('exits 1 when the final message does not match, saying why on stderr and printing nothing on stdout', async () => {
    const prompt = h.prompt([{ message: '{"verdict":"maybe","findings":[]}' }]);
    const res = await cli(['run', workspace, '-p', prompt, '--schema', schemaFile]);
    expect(res.code).toBe(1);
    expect(res.stdout).toBe('');
    expect(res.stderr).toMatch(/^run_\S+ failed in /m);
    expect(res.stderr).toMatch(/^error: output_invalid: .*\/verdict must be equal to one of the allowed values/m);
    expect(res.stderr).toContain('the final message, which is not what the schema asked for:\n{"verdict":"maybe","findings":[]}\n');
  });

  it('refuses a schema file that is missing or not JSON (exit 2), sending nothing', async () => {
    const before = await runCount();
    const notJson = path.join(dir, 'broken.json');
    await writeFile(notJson, '{"type": "object",');
    const missing = await cli(['run', workspace, '-p', 'x', '--schema', path.join(dir, 'nowhere.json')]);
    expect(missing).toMatchObject({ code: 2, stdout: '', stderr: `codex-runner: --schema ${path.join(dir, 'nowhere.json')}: cannot read it: no such file\n` });
    const broken = await cli(['run', workspace, '-p', 'x', '--schema', notJson]);
    expect(broken.code).toBe(2);
    expect(broken.stderr).toMatch(/^codex-runner: --schema .*broken\.json is not JSON: /);
    expect(await runCount()).toBe(before);
  });

  it("exits 2 on a schema the server refuses (its 400 invalid_options), with the server's reason", async () => {
    const before = await runCount();
    const invalid = path.join(dir, 'invalid.json');
    await writeFile(invalid, JSON.stringify({ type: 'object', properties: { verdict: { type: 'text' } } }));
    const res = await cli(['run', workspace, '-p', 'x', '--schema', invalid]);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/codex-runner: 400 invalid_options: options\.output_schema: .*not a valid JSON Schema/);
    expect(await runCount()).toBe(before);
  });
});
