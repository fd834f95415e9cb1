// Workspaces as people make them: tarballs that list only files (`tar czf ws.tgz $(git ls-files)`).
// Real Docker, real Codex, GNU tar on the client side.
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import tar from 'tar-stream';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_NAME_BYTES, MAX_PATH_BYTES } from '../server/archive/entry-path.js';
import { parseConfig } from '../server/config/config.js';
import { startHarness, type Harness } from './fixtures/harness.js';
import { makeTar } from '../server/archive/test-tarballs.js';

let h: Harness;
let dir: string;
beforeAll(async () => {
  h = await startHarness();
  dir = await mkdtemp(path.join(tmpdir(), 'fidelity-'));
});
afterAll(async () => {
  await h?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function tarHeaders(gz: Buffer): Promise<tar.Header[]> {
  const headers: tar.Header[] = [];
  const extract = tar.extract();
  const done = (async () => {
    for await (const entry of extract) {
      headers.push(entry.header);
      entry.resume();
    }
  })();
  Readable.from([gunzipSync(gz)]).pipe(extract);
  await done;
  return headers;
}

describe('names at the limits Linux holds', () => {
  it('takes a path of exactly MAX_PATH_BYTES with 255-byte components through a run and back', async () => {
    const component = 'c'.repeat(MAX_NAME_BYTES);
    let name = '';
    while (name.length + component.length + 1 <= MAX_PATH_BYTES) name += `${component}/`;
    name += 'f'.repeat(MAX_PATH_BYTES - name.length);
    expect(Buffer.byteLength(name)).toBe(MAX_PATH_BYTES);
    const upload = await makeTar([{ name, content: 'deep\n' }]);
    const res = await h.createRun({ prompt: h.prompt([{ message: 'looked' }]), workspace: upload, wait: true });
    const run: any = await res.json();
    expect(run.status).toBe('succeeded');
    const headers = await tarHeaders(Buffer.from(await (await h.api(`/v1/runs/${run.id}/workspace`)).arrayBuffer()));
    expect(headers.map((e) => e.name)).toContain(name);
  });
});

describe('a tarball that lists only files', () => {
  it('gives Codex writable directories, owned by the sandbox user in the returned workspace', async () => {
    const repo = path.join(dir, 'repo');
    await mkdir(path.join(repo, 'src/deep'), { recursive: true });
    await writeFile(path.join(repo, 'src/a.txt'), 'alpha\n');
    await writeFile(path.join(repo, 'src/deep/b.txt'), 'beta\n');
    const upload = execFileSync('tar', ['-czf', '-', 'src/a.txt', 'src/deep/b.txt'], { cwd: repo });

    const edit = 'sed -i s/alpha/ALPHA/ src/a.txt && mv src/deep/b.txt src/deep/c.txt && echo new > src/deep/new.txt && ln -s c.txt src/deep/link && echo edited';
    const res = await h.createRun({ prompt: h.prompt([{ exec: edit }, { message: 'edited' }]), workspace: upload, workspaceName: 'ws.tar.gz', wait: true });
    const run: any = await res.json();
    expect(run.status).toBe('succeeded');
    expect(run.changes.files.map((f: any) => f.path).sort()).toEqual(['src/a.txt', 'src/deep/b.txt', 'src/deep/c.txt', 'src/deep/link', 'src/deep/new.txt']);

    const workspace = Buffer.from(await (await h.api(`/v1/runs/${run.id}/workspace`)).arrayBuffer());
    const headers = await tarHeaders(workspace);
    const dirs = headers.filter((e) => e.type === 'directory');
    expect(dirs.map((d) => d.name.replace(/\/$/, '')).sort()).toEqual(['src', 'src/deep']);
    const { uid, gid } = parseConfig({}).sandbox;
    for (const d of dirs) expect([d.uid, d.gid]).toEqual([uid, gid]);
  });
});

describe('repositories inside the workspace and their attributes', () => {
  async function gitRepo(at: string, files: Record<string, string>, commit = true): Promise<void> {
    await mkdir(at, { recursive: true });
    for (const [name, content] of Object.entries(files)) {
      await mkdir(path.dirname(path.join(at, name)), { recursive: true });
      await writeFile(path.join(at, name), content);
    }
    execFileSync('git', ['init', '-q'], { cwd: at });
    if (commit) execFileSync('git', ['-c', 'user.email=t@t', '-c', 'user.name=t', 'add', '-A'], { cwd: at });
    if (commit) execFileSync('git', ['-c', 'user.email=t@t', '-c', 'user.name=t', 'commit', '-qm', 'init'], { cwd: at });
  }

  it('diffs edits inside a nested repository, survives one with no commit, and keeps CRLF against eol attributes', async () => {
    const tree = path.join(dir, 'nested');
    await gitRepo(tree, { '.gitattributes': '* text eol=lf\n', 'top.txt': 'top\n' });
    await gitRepo(path.join(tree, 'sub'), { 'file.txt': 'one\n' });
    await gitRepo(path.join(tree, 'empty-repo'), {}, false);
    const upload = execFileSync('tar', ['-czf', '-', '.'], { cwd: tree });
    const subIndexBefore = await readFile(path.join(tree, 'sub/.git/index'));

    const edit = "echo two >> sub/file.txt && printf 'a\\r\\nb\\r\\n' > crlf.txt && echo edited";
    const res = await h.createRun({ prompt: h.prompt([{ exec: edit }, { message: 'edited' }]), workspace: upload, workspaceName: 'ws.tar.gz', wait: true });
    const run: any = await res.json();
    expect(run.status).toBe('succeeded');
    expect(run.changes.files.map((f: any) => f.path).sort()).toEqual(['crlf.txt', 'sub/file.txt']);

    // The diff applies to a plain extraction of the upload and gives the run's bytes, CRs included.
    const copy = path.join(dir, 'nested-copy');
    await mkdir(copy);
    execFileSync('tar', ['-xzf', '-', '-C', copy], { input: upload });
    const diff = Buffer.from(await (await h.api(`/v1/runs/${run.id}/diff`)).arrayBuffer());
    await writeFile(path.join(dir, 'nested.diff'), diff);
    execFileSync('git', ['apply', path.join(dir, 'nested.diff')], { cwd: copy });
    expect(await readFile(path.join(copy, 'crlf.txt'))).toEqual(Buffer.from('a\r\nb\r\n'));
    expect(await readFile(path.join(copy, 'sub/file.txt'), 'utf8')).toBe('one\ntwo\n');

    // The nested repository's own files come back as they went in.
    const returned = path.join(dir, 'nested-returned');
    await mkdir(returned);
    execFileSync('tar', ['-xzf', '-', '-C', returned], { input: Buffer.from(await (await h.api(`/v1/runs/${run.id}/workspace`)).arrayBuffer()) });
    expect(await readFile(path.join(returned, 'sub/.git/index'))).toEqual(subIndexBefore);
  });
});
