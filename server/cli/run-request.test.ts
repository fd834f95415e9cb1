import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from './exit-codes.js';
import { buildRunRequest } from './run-request.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'cli-request-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('buildRunRequest', () => {
  it('sends only the options given, timeout as timeout_s', async () => {
    expect(await buildRunRequest({ prompt: 'p' })).toEqual({ prompt: 'p', options: {} });
    expect(await buildRunRequest({ prompt: 'p', provider: 'x', timeout: 30 })).toEqual({ prompt: 'p', options: { provider: 'x', timeout_s: 30 } });
  });

  it("sends --schema's file, parsed, as output_schema, leaving its checks to the server", async () => {
    const file = path.join(dir, 'not-an-object.json');
    await writeFile(file, '"verdict"');
    expect(await buildRunRequest({ prompt: 'p', schema: file })).toEqual({ prompt: 'p', options: { output_schema: 'verdict' } });
  });

  it('refuses a --schema file that is missing, a directory or not JSON, as a usage error', async () => {
    const bad = path.join(dir, 'bad.json');
    await writeFile(bad, '{"type": "object",');
    await expect(buildRunRequest({ prompt: 'p', schema: path.join(dir, 'nowhere.json') })).rejects.toMatchObject({
      exitCode: EXIT.usage,
      message: `--schema ${path.join(dir, 'nowhere.json')}: cannot read it: no such file`,
    });
    await expect(buildRunRequest({ prompt: 'p', schema: dir })).rejects.toMatchObject({ exitCode: EXIT.usage, message: `--schema ${dir}: cannot read it: it is a directory` });
    await expect(buildRunRequest({ prompt: 'p', schema: bad })).rejects.toMatchObject({ exitCode: EXIT.usage, message: expect.stringMatching(/^--schema .*bad\.json is not JSON: /) });
  });
});
