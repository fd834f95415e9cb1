// Odd files a run leaves in /workspace, as the server hands them back: symlinks out of the tree (to
// `/`, to /etc/shadow, climbing with `..`) come back as symlinks and are never followed, hard links
// as hard links, a sparse file whole, names with a newline or bytes that are not UTF-8 and a
// 1,000-character path byte for byte; a FIFO (and a hard link to it) is named in `left_out`; a unix socket is dropped
// (Docker's archive never carries one). The diff, applied with `git apply` to the uploaded tree,
// gives the returned workspace. Real Docker, real Codex; GNU tar and git on the client side.
// (Uploads of these shapes are test/workspace-corpus.test.ts's; names at Linux's limits
// test/workspace-fidelity.test.ts's.)
import { execFileSync } from 'node:child_process';
import { lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTar } from '../server/archive/test-tarballs.js';
import { docker } from './fixtures/docker.js';
import { readSse, startHarness, type Harness } from './fixtures/harness.js';

const MiB = 1024 * 1024;
const SPARSE_BYTES = 20 * MiB;
/** Nine 99-byte directories and a 100-byte file: 1,000 bytes. */
const LONG_PATH = `${Array.from({ length: 9 }, (_, i) => String(i).repeat(99)).join('/')}/${'f'.repeat(100)}`;
const NEWLINE_NAME = Buffer.from('new\nline');
const NOT_UTF8_NAME = Buffer.from([0x62, 0x61, 0x64, 0xff, 0xfe, 0x6e, 0x61, 0x6d, 0x65]); // bad\xff\xfename

const MAKE_ODD_FILES = [
  'ln -s / root-link',
  'ln -s /etc/shadow shadow-link',
  'ln -s ../../../../etc/shadow climb-link',
  'echo hard > hard-a && ln hard-a hard-b',
  'ln base.txt base-hard',
  // A hard link into a nested repository's .git, and a name git refuses (NTFS's 8.3 name of .git):
  // the workspace holds both, the diff cannot.
  'mkdir -p repo/.git && echo "[core]" > repo/.git/config && ln repo/.git/config zz-cfg-link',
  'mkdir GIT~1 && echo refused > GIT~1/f',
  'mkfifo fifo && ln fifo fifo-link',
  'setsid socat UNIX-LISTEN:sock,fork /dev/null </dev/null >/dev/null 2>&1 &',
  `truncate -s ${SPARSE_BYTES} sparse.img`,
  `printf middle | dd of=sparse.img bs=1 seek=${SPARSE_BYTES / 2} conv=notrunc status=none`,
  `printf end | dd of=sparse.img bs=1 seek=${SPARSE_BYTES - 3} conv=notrunc status=none`,
  "printf 'nl\\n' > $'new\\nline'",
  "printf 'not utf-8\\n' > $'bad\\xff\\xfename'",
  `mkdir -p ${path.posix.dirname(LONG_PATH)} && printf 'long\\n' > ${LONG_PATH}`,
  'sleep 1',
  'test -S sock && echo socket-made',
  'test -p fifo && echo fifo-made',
  'echo "sparse_kb=$(du -k sparse.img | cut -f1)"',
].join('\n');

let h: Harness;
let work: string;
let shadows: string[];

beforeAll(async () => {
  h = await startHarness();
  work = await mkdtemp(path.join(tmpdir(), 'odd-files-'));
  // The sandbox image's /etc/shadow and the host's: neither may come back through a link.
  const image = await docker.createContainer({ Image: 'codex-runner-sandbox:latest', User: '0', Entrypoint: ['cat'], Cmd: ['/etc/shadow'], NetworkDisabled: true });
  try {
    await image.start();
    await image.wait();
    const logs = (await image.logs({ stdout: true })).toString('latin1');
    shadows = [logs.split('\n').find((l) => l.includes('root:'))!, (await readFile('/etc/shadow', 'utf8')).split('\n')[0]!];
  } finally {
    await image.remove({ force: true });
  }
});

afterAll(async () => {
  await h?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

/** Every path under `root`, as raw bytes relative to it, with what it is. */
async function tree(root: string): Promise<Map<string, { type: string; content?: Buffer; target?: Buffer; ino?: number }>> {
  const found = new Map<string, { type: string; content?: Buffer; target?: Buffer; ino?: number }>();
  const walk = async (dir: Buffer, rel: Buffer | null) => {
    for (const name of await readdir(dir, { encoding: 'buffer' })) {
      const full = Buffer.concat([dir, Buffer.from('/'), name]);
      const key = rel ? Buffer.concat([rel, Buffer.from('/'), name]) : name;
      const st = await lstat(full);
      const id = key.toString('latin1');
      if (st.isSymbolicLink()) found.set(id, { type: 'symlink', target: await readlink(full, { encoding: 'buffer' }) });
      else if (st.isDirectory()) await walk(full, key);
      else if (st.isFile()) found.set(id, { type: 'file', content: await readFile(full), ino: st.ino });
      else found.set(id, { type: 'other' });
    }
  };
  await walk(Buffer.from(root), null);
  return found;
}

interface OddFilesCase {
  /** More for the run to do after making the odd files. */
  extra: string;
  /** What left_out names beyond the odd files', and the run's artifact_problem. */
  leftOut: { path: string; reason: string }[];
  problem: RegExp | null;
}

function oddFilesCase(title: string, { extra, leftOut, problem }: OddFilesCase): void {
  describe(title, () => {
    let run: any;
    let commandOutput: string;
    let workspaceTar: Buffer;
    let diff: Buffer;
    let returned: string;
    let applied: string;
    // A hard link's first name in the tar is its file, the others link to it. When the first is the
    // name inside .git (Docker's archive walks in name order), the diff has no content for the link and
    // names it in left_out; when the reader container's tar (directory order) puts the link first, the
    // diff carries it as a new file. Either way it is in the workspace, and in exactly one of the two.
    const linkIntoGitInDiff = () => run.changes.files.some((f: any) => f.path === 'zz-cfg-link');

    beforeAll(async () => {
      const upload = await makeTar([{ name: 'base.txt', content: 'base\n' }]);
      const res = await h.createRun({ prompt: h.prompt([{ exec: `${MAKE_ODD_FILES}\n${extra}` }, { message: 'left odd files' }]), workspace: upload, wait: true });
      expect(res.status).toBe(200);
      run = await res.json();
      const events = await readSse(await h.api(`/v1/runs/${run.id}/events`));
      commandOutput = events.find((e) => e.data.type === 'item.completed' && e.data.item?.type === 'command_execution')?.data.item.aggregated_output ?? '';
      const workspaceAnswer = await h.api(`/v1/runs/${run.id}/workspace`);
      // CI once got no gzip here: a failure says what the run ended with, not only that.
      if (workspaceAnswer.status !== 200) {
        const ended = { status: run.status, error: run.error, artifact_problem: run.artifact_problem, left_out: run.left_out };
        throw new Error(`GET workspace answered ${workspaceAnswer.status} ${await workspaceAnswer.text()}; the run: ${JSON.stringify(ended)}`);
      }
      workspaceTar = Buffer.from(await workspaceAnswer.arrayBuffer());
      diff = Buffer.from(await (await h.api(`/v1/runs/${run.id}/diff`)).arrayBuffer());

      // What the client does: extract the workspace; apply the diff to an extraction of the upload.
      const dir = await mkdtemp(path.join(work, 'case-'));
      returned = path.join(dir, 'returned');
      applied = path.join(dir, 'applied');
      await mkdir(returned);
      await mkdir(applied);
      execFileSync('tar', ['-xzf', '-', '-C', returned], { input: workspaceTar });
      execFileSync('tar', ['-xf', '-', '-C', applied], { input: upload });
      await writeFile(path.join(dir, 'run.diff'), diff);
      execFileSync('git', ['apply', path.join(dir, 'run.diff')], { cwd: applied });
    }, 180_000);


    it('made every one of them in the sandbox, and the run succeeds naming in left_out the FIFO, its hard link and what git cannot carry', () => {
      expect(run.status).toBe('succeeded');
      expect(commandOutput).toContain('socket-made');
      expect(commandOutput).toContain('fifo-made');
      // The sparse file holds almost no blocks in the tmpfs.
      expect(Number(/sparse_kb=(\d+)/.exec(commandOutput)?.[1])).toBeLessThan(1024);
      const byPath = (a: { path: string }, b: { path: string }) => (a.path < b.path ? -1 : 1);
      expect([...run.left_out].sort(byPath)).toEqual(
        [
          { path: 'fifo', reason: 'fifo' },
          { path: 'fifo-link', reason: 'fifo' },
          // From the diff's side: in the workspace, not in the diff.
          { path: 'GIT~1/f', reason: 'unrepresentable' },
          ...(linkIntoGitInDiff() ? [] : [{ path: 'zz-cfg-link', reason: 'link_target_missing' }]),
          ...leftOut,
        ].sort(byPath),
      );
      if (problem) expect(run.artifact_problem).toMatch(problem);
      else expect(run.artifact_problem).toBeNull();
    });

    it('returns links out of the tree as symlinks, never followed: no byte of /etc/shadow in the workspace or the diff', async () => {
      expect(await readlink(path.join(returned, 'root-link'))).toBe('/');
      expect(await readlink(path.join(returned, 'shadow-link'))).toBe('/etc/shadow');
      expect(await readlink(path.join(returned, 'climb-link'))).toBe('../../../../etc/shadow');
      const plainTar = gunzipSync(workspaceTar).toString('latin1');
      for (const line of shadows) {
        expect(line.length).toBeGreaterThan(8);
        expect(plainTar).not.toContain(line);
        expect(diff.toString('latin1')).not.toContain(line);
      }
      // Nothing came back from below a link: the only entries are the run's own.
      expect([...(await tree(returned)).keys()].filter((k) => k.startsWith('root-link/') || k.startsWith('shadow-link/'))).toEqual([]);
    });

    it('returns hard links as hard links, to a file the run made and to an uploaded one', async () => {
      const [a, b, base, baseHard] = await Promise.all(['hard-a', 'hard-b', 'base.txt', 'base-hard'].map((n) => lstat(path.join(returned, n))));
      expect(a!.ino).toBe(b!.ino);
      expect(a!.nlink).toBe(2);
      expect(base!.ino).toBe(baseHard!.ino);
      expect(await readFile(path.join(returned, 'hard-b'), 'utf8')).toBe('hard\n');
    });

    it('returns the sparse file at its size with its bytes where they were written', async () => {
      const bytes = await readFile(path.join(returned, 'sparse.img'));
      expect(bytes.length).toBe(SPARSE_BYTES);
      expect(bytes.subarray(SPARSE_BYTES / 2, SPARSE_BYTES / 2 + 6).toString()).toBe('middle');
      expect(bytes.subarray(SPARSE_BYTES - 3).toString()).toBe('end');
      const nonZero = bytes.reduce((n, byte) => n + (byte === 0 ? 0 : 1), 0);
      expect(nonZero).toBe('middle'.length + 'end'.length);
    });

    it('returns a name with a newline, a name that is not UTF-8 and a 1,000-character path byte for byte', async () => {
      const names = await readdir(returned, { encoding: 'buffer' });
      expect(names.some((n) => n.equals(NEWLINE_NAME))).toBe(true);
      expect(names.some((n) => n.equals(NOT_UTF8_NAME))).toBe(true);
      expect(await readFile(Buffer.concat([Buffer.from(`${returned}/`), NEWLINE_NAME]), 'utf8')).toBe('nl\n');
      expect(await readFile(Buffer.concat([Buffer.from(`${returned}/`), NOT_UTF8_NAME]), 'utf8')).toBe('not utf-8\n');
      expect(LONG_PATH.length).toBe(1000);
      expect(await readFile(path.join(returned, LONG_PATH), 'utf8')).toBe('long\n');
    });

    it('drops the FIFO, its hard link and the unix socket from the workspace, which extracts whole', async () => {
      // (The extraction above would have failed on a hard link to the missing FIFO.)
      const names = (await readdir(returned)).sort();
      expect(names).not.toContain('fifo');
      expect(names).not.toContain('fifo-link');
      expect(names).not.toContain('sock');
    });

    it('lists every change in the run, names shown as UTF-8 (U+FFFD for bytes that are not)', () => {
      expect(run.changes.files.map((f: any) => f.path).sort()).toEqual(
        ['base-hard', 'bad\ufffd\ufffdname', 'climb-link', 'hard-a', 'hard-b', LONG_PATH, 'new\nline', 'root-link', 'shadow-link', 'sparse.img', ...(linkIntoGitInDiff() ? ['zz-cfg-link'] : [])].sort(),
      );
    });

    it('returns what the diff cannot carry in the workspace: a hard link into .git and a name git refuses', async () => {
      expect((await lstat(path.join(returned, 'zz-cfg-link'))).ino).toBe((await lstat(path.join(returned, 'repo/.git/config'))).ino);
      expect(await readFile(path.join(returned, 'GIT~1/f'), 'utf8')).toBe('refused\n');
    });

    it('gives a diff that, applied to the uploaded tree with git apply, makes the returned workspace but for what left_out names', async () => {
      const notInDiff = new Set([...run.left_out.map((l: any) => l.path), 'repo/.git/config']);
      const want = new Map([...(await tree(returned))].filter(([name]) => !notInDiff.has(name)));
      const got = await tree(applied);
      expect([...got.keys()].sort()).toEqual([...want.keys()].sort());
      for (const [name, entry] of want) {
        const other = got.get(name)!;
        expect({ name, type: other.type }).toEqual({ name, type: entry.type });
        if (entry.type === 'symlink') expect(other.target!.equals(entry.target!)).toBe(true);
        if (entry.type === 'file') expect(other.content!.equals(entry.content!), name).toBe(true);
      }
    });
  });
}

oddFilesCase('odd files a run leaves in its workspace', { extra: '', leftOut: [], problem: null });
// A file past the workspace cap sends both reads to the reader container (GNU tar, not Docker's
// archive API): the odd files must come back the same way from there.
oddFilesCase('odd files a run leaves in its workspace, read again past a file over the cap', {
  extra: 'truncate -s 1G over-cap.img',
  leftOut: [{ path: 'over-cap.img', reason: 'over_workspace_cap' }],
  problem: /pass the workspace cap/,
});
