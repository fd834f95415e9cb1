// `run --continue` against a fake server at ApiClient's fetch seam: the request it sends (no
// workspace, the follow-up route, only the options given), the diff it asks for, what it applies.
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ApiClient } from '../api-client.js';
import { CliError, EXIT } from '../exit-codes.js';
import { runCommand, type RunFlags } from './run.js';

interface Seen {
  method: string;
  path: string;
  contentType: string | null;
  body: string;
}

const PARENT = 'run_parent';
const CHILD = 'run_child';
const ROOT_DIFF = 'diff --git a/a.txt b/a.txt\n--- a/a.txt\n+++ b/a.txt\n@@ -1 +1 @@\n-one\n+three\n';
const OWN_DIFF = 'diff --git a/a.txt b/a.txt\n--- a/a.txt\n+++ b/a.txt\n@@ -1 +1 @@\n-two\n+three\n';

function runView(overrides: object = {}): object {
  return {
    id: CHILD,
    status: 'succeeded',
    parent_id: PARENT,
    root_id: 'run_root',
    resumable: true,
    final_message: 'Changed a.txt again.',
    output: null,
    error: null,
    changes: { files_changed: 1, insertions: 1, deletions: 1, files: [{ path: 'a.txt', insertions: 1, deletions: 1 }] },
    artifacts_expired: false,
    ...overrides,
  };
}

const sse = (seq: number, data: object) => `id: ${seq}\nevent: run\ndata: ${JSON.stringify(data)}\n\n`;

/** The API as far as `run --continue` uses it; `createAnswer` replaces the follow-up route's 202. */
function fakeServer(createAnswer?: () => Response) {
  const seen: Seen[] = [];
  const fetchImpl = (async (url: string, init: RequestInit = {}) => {
    const { pathname, search } = new URL(url);
    const body = typeof init.body === 'string' ? init.body : init.body ? '<stream>' : '';
    seen.push({ method: init.method ?? 'GET', path: pathname + search, contentType: new Headers(init.headers).get('content-type'), body });
    if (pathname === `/v1/runs/${PARENT}/follow-ups`) return createAnswer?.() ?? Response.json(runView({ status: 'queued', changes: null }), { status: 202 });
    if (pathname === `/v1/runs/${CHILD}/events`) {
      const text = sse(1, { type: 'run.queued', run: runView({ status: 'queued' }) }) + sse(2, { type: 'run.succeeded', run: runView() });
      return new Response(text, { headers: { 'content-type': 'text/event-stream' } });
    }
    if (pathname === `/v1/runs/${CHILD}/diff`) return new Response(search === '?base=root' ? ROOT_DIFF : OWN_DIFF);
    return Response.json({ error: { code: 'not_found', message: `no route ${pathname}` } }, { status: 404 });
  }) as typeof fetch;
  return { seen, client: new ApiClient({ url: 'http://server', token: 't' }, fetchImpl) };
}

const git = (cwd: string, ...args: string[]) => execFileSync('git', ['-c', 'user.email=t@t', '-c', 'user.name=t', ...args], { cwd, stdio: 'pipe' }).toString();

let dir: string;
let stdout: string;
let stderr: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'cli-run-'));
  stdout = '';
  stderr = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => ((stdout += String(chunk)), true));
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => ((stderr += String(chunk)), true));
});
afterEach(async () => {
  vi.restoreAllMocks();
  await rm(dir, { recursive: true, force: true });
});

/** A committed repository holding a.txt with `text`. */
async function repo(text: string): Promise<string> {
  const work = path.join(dir, 'repo');
  git(dir, 'init', '-q', work);
  await writeFile(path.join(work, 'a.txt'), text);
  git(work, 'add', '-A');
  git(work, 'commit', '-qm', 'init');
  return work;
}

const flags = (more: Partial<RunFlags>): RunFlags => ({ prompt: 'again', diff: path.join(dir, 'out.patch'), ...more });

describe('run --continue', () => {
  it('posts the prompt and only the options given to the follow-up route, as JSON, and uploads nothing', async () => {
    const { seen, client } = fakeServer();
    await writeFile(path.join(dir, 'big.txt'), 'not to be sent\n');
    const code = await runCommand(dir, flags({ continue: PARENT, model: 'm2' }), client);
    expect(code).toBe(EXIT.succeeded);
    const creates = seen.filter((r) => r.method === 'POST');
    expect(creates).toEqual([{ method: 'POST', path: `/v1/runs/${PARENT}/follow-ups`, contentType: 'application/json', body: JSON.stringify({ prompt: 'again', options: { model: 'm2' } }) }]);
    expect(seen.some((r) => r.path === '/v1/runs')).toBe(false);
    expect(seen.find((r) => r.path.startsWith(`/v1/runs/${CHILD}/diff`))?.path).toBe(`/v1/runs/${CHILD}/diff`);
    expect(stdout).toBe('Changed a.txt again.\n');
    expect(stderr).toMatch(/continuing run_parent\n/);
    expect(await readFile(path.join(dir, 'out.patch'), 'utf8')).toBe(OWN_DIFF);
  });

  it("sends --schema's JSON as output_schema", async () => {
    const { seen, client } = fakeServer();
    const schema = { type: 'object', properties: { ok: { type: 'boolean' } }, required: ['ok'], additionalProperties: false };
    await writeFile(path.join(dir, 'schema.json'), JSON.stringify(schema));
    await runCommand(dir, flags({ continue: PARENT, schema: path.join(dir, 'schema.json') }), client);
    expect(JSON.parse(seen.find((r) => r.method === 'POST')!.body)).toEqual({ prompt: 'again', options: { output_schema: schema } });
  });

  it("applies this turn's diff to DIR, a tree holding the parent's result", async () => {
    const work = await repo('two\n');
    const { client } = fakeServer();
    expect(await runCommand(work, flags({ continue: PARENT, apply: true }), client)).toBe(EXIT.succeeded);
    expect(await readFile(path.join(work, 'a.txt'), 'utf8')).toBe('three\n');
  });

  it('with --base root asks for the cumulative diff and applies it to the tree as first uploaded', async () => {
    const work = await repo('one\n');
    const { seen, client } = fakeServer();
    expect(await runCommand(work, flags({ continue: PARENT, apply: true, base: 'root' }), client)).toBe(EXIT.succeeded);
    expect(seen.filter((r) => r.path.includes('/diff')).map((r) => r.path)).toEqual([`/v1/runs/${CHILD}/diff?base=root`]);
    expect(await readFile(path.join(work, 'a.txt'), 'utf8')).toBe('three\n');
    expect(stderr).toContain("(every turn's changes, since run_root's upload)");
  });

  it.each([
    [404, 'not_found', EXIT.failed],
    [409, 'run_not_finished', EXIT.failed],
    [409, 'not_resumable', EXIT.failed],
    [410, 'artifact_expired', EXIT.failed],
  ])('ends on a %i %s from the follow-up route with its message, naming the run', async (status, code, exit) => {
    const { seen, client } = fakeServer(() => Response.json({ error: { code, message: 'the server says why' } }, { status }));
    const failure = runCommand(dir, flags({ continue: PARENT }), client);
    await expect(failure).rejects.toBeInstanceOf(CliError);
    await expect(failure).rejects.toMatchObject({ exitCode: exit, message: `cannot continue ${PARENT}: ${status} ${code}: the server says why` });
    expect(seen).toHaveLength(1);
  });

  it('refuses --with-git, an empty id, and --base without --continue, before sending anything', async () => {
    const { seen, client } = fakeServer();
    await expect(runCommand(dir, flags({ continue: PARENT, withGit: true }), client)).rejects.toMatchObject({ exitCode: EXIT.usage, message: expect.stringMatching(/--with-git .* --continue sends no workspace/) });
    await expect(runCommand(dir, flags({ continue: '' }), client)).rejects.toMatchObject({ exitCode: EXIT.usage, message: '--continue needs the id of the run to continue' });
    await expect(runCommand(dir, flags({ base: 'root' }), client)).rejects.toMatchObject({ exitCode: EXIT.usage, message: expect.stringMatching(/--base .* needs --continue/) });
    expect(seen).toEqual([]);
  });

  it('refuses --apply on a dirty tree before sending anything', async () => {
    const work = await repo('two\n');
    await writeFile(path.join(work, 'a.txt'), 'local\n');
    const { seen, client } = fakeServer();
    await expect(runCommand(work, flags({ continue: PARENT, apply: true }), client)).rejects.toMatchObject({ exitCode: EXIT.usage, message: expect.stringMatching(/--apply needs a clean work tree/) });
    expect(seen).toEqual([]);
  });
});
