// Workspaces as people make them: tarballs that list only files (`tar czf ws.tgz $(git ls-files)`).
// Real Docker, real Codex, GNU tar on the client side.
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import tar from 'tar-stream';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from './fixtures/harness.js';

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
    for (const d of dirs) expect([d.uid, d.gid]).toEqual([1000, 1000]);
  });
});
