// The tarballs people send, generated here with GNU tar and Python's tarfile, each through real
// runs (real Docker, real Codex): a run that changes nothing returns the tree GNU tar extracts
// from the upload (owner and modes normalised as the README says) and an empty diff; a run that
// edits gives a diff that, applied with `git apply` to a plain extraction of the upload, makes
// the returned workspace byte for byte.
import { createHash } from 'node:crypto';
import { lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { q, sh } from '../server/tree-diff/test-trees.js';
import { startHarness, type Harness } from './fixtures/harness.js';

let h: Harness;
let work: string;
beforeAll(async () => {
  h = await startHarness();
  work = await mkdtemp(path.join(tmpdir(), 'corpus-'));
});
afterAll(async () => {
  await h?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

interface Upload {
  bytes: Buffer;
  name: string;
}

/** A fresh directory under work holding the tree every case starts from; extra shell runs in it. */
async function baseTree(name: string, extra = ''): Promise<string> {
  const root = path.join(work, name, 'src');
  await mkdir(root, { recursive: true });
  await sh(
    "mkdir -p lib/deep empty && printf 'one\\ntwo\\n' > lib/a.txt && printf 'bye\\n' > gone.txt && printf '#!/bin/sh\\necho hi\\n' > run.sh " +
      '&& chmod 755 run.sh && head -c 2048 /dev/urandom > lib/deep/blob.bin && ln -s ../run.sh lib/link && ln lib/a.txt hard.txt' +
      (extra ? ` && ${extra}` : ''),
    root,
  );
  return root;
}

/** Runs `command` in the case's directory (the tree is in `src/`) and reads the upload it writes to `up`. */
async function made(root: string, command: string, name = 'ws.tar'): Promise<Upload> {
  const dir = path.dirname(root);
  await sh(command, dir);
  return { bytes: await readFile(path.join(dir, 'up')), name };
}

const gnuTar = (format: string, flags = '') => async (name: string) => {
  const root = await baseTree(name);
  return made(root, `tar --format=${format} ${flags} -cf up -C src .`);
};

const pythonTar = (format: string) => async (name: string) => {
  const root = await baseTree(name, `mkdir -p ${'d'.repeat(110)} && printf x > ${'d'.repeat(110)}/${'f'.repeat(100)} && printf y > naïve-文件.txt`);
  const script = `import tarfile\nwith tarfile.open('up', 'w', format=tarfile.${format}) as t: t.add('src', arcname='.')\n`;
  return made(root, `python3 -c ${q(script)}`);
};

const sparse = (flags: string) => async (name: string) => {
  const root = await baseTree(name, "truncate -s 1M disk.img && printf 'boot' | dd of=disk.img bs=1 seek=70000 conv=notrunc status=none");
  return made(root, `tar ${flags} --sparse -cf up -C src .`);
};

const gitEnv = "-c user.email=t@t -c user.name=t -c init.defaultBranch=main";

const cases: [string, (name: string) => Promise<Upload>][] = [
  ['GNU tar --format=v7', gnuTar('v7')],
  ['GNU tar --format=oldgnu', gnuTar('oldgnu')],
  ['GNU tar --format=gnu', gnuTar('gnu')],
  ['GNU tar --format=ustar', gnuTar('ustar')],
  ['GNU tar --format=posix, gzipped', async (name) => {
    const root = await baseTree(name);
    return made(root, 'tar --format=posix -czf up -C src .', 'ws.tar.gz');
  }],
  ['GNU tar --sparse, posix 0.0', sparse('--format=posix --sparse-version=0.0')],
  ['GNU tar --sparse, posix 0.1', sparse('--format=posix --sparse-version=0.1')],
  ['GNU tar --sparse, posix 1.0', sparse('--format=posix --sparse-version=1.0')],
  ['GNU tar --sparse, gnu', sparse('--format=gnu')],
  ['files only, no directory entries (tar -T list)', async (name) => {
    const root = await baseTree(name);
    return made(root, 'cd src && find . ! -type d | sort > ../list && tar -cf ../up -T ../list');
  }],
  ['odd modes: 200, 0, setuid, a directory of mode 0', async (name) => {
    const root = await baseTree(name, 'printf w > write-only && chmod 200 write-only && printf n > no-mode && chmod 0 no-mode && printf s > setuid && chmod 4755 setuid && mkdir closed && printf c > closed/in.txt');
    return made(root, 'chmod 0 src/closed && tar --format=posix -cf up -C src . && chmod 755 src/closed');
  }],
  ['nested and empty repositories, .gitattributes with eol rules', async (name) => {
    const root = await baseTree(name, "printf '* text eol=lf\\n*.bat text eol=crlf\\n' > .gitattributes && printf 'echo one\\r\\n' > win.bat");
    await sh(`git init -q && git ${gitEnv} add -A && git ${gitEnv} commit -qm top`, root);
    await sh(`mkdir sub && cd sub && printf 'one\\n' > file.txt && git init -q && git ${gitEnv} add -A && git ${gitEnv} commit -qm sub && cd .. && mkdir empty-repo && git -C empty-repo init -q`, root);
    return made(root, 'tar -czf up -C src .', 'ws.tgz');
  }],
  ['Python tarfile USTAR_FORMAT', pythonTar('USTAR_FORMAT')],
  ['Python tarfile GNU_FORMAT', pythonTar('GNU_FORMAT')],
  ['Python tarfile PAX_FORMAT', pythonTar('PAX_FORMAT')],
];

/** What Codex runs in the edit run: change a file, add one with CRLF, delete one, and edit where the tree has more. */
const EDIT = [
  'sed -i s/two/TWO/ lib/a.txt',
  "printf 'new\\r\\nline\\r\\n' > added.txt",
  'find gone.txt -delete',
  "if [ -f win.bat ]; then printf 'echo two\\r\\n' >> win.bat; fi",
  'if [ -d sub ]; then echo two >> sub/file.txt; fi',
  'echo edited',
].join(' && ');

type Node = { kind: 'dir'; mode: number } | { kind: 'file'; mode: number; sha1: string } | { kind: 'symlink'; target: string };

/** Every entry under `dir`, `.git` contents included, with its permission bits and content hash. */
async function tree(dir: string): Promise<Map<string, Node>> {
  const out = new Map<string, Node>();
  const walk = async (abs: string, rel: string) => {
    for (const name of (await readdir(abs)).sort()) {
      const key = rel ? `${rel}/${name}` : name;
      const full = path.join(abs, name);
      const st = await lstat(full);
      if (st.isSymbolicLink()) out.set(key, { kind: 'symlink', target: await readlink(full) });
      else if (st.isDirectory()) {
        out.set(key, { kind: 'dir', mode: st.mode & 0o7777 });
        await walk(full, key);
      } else out.set(key, { kind: 'file', mode: st.mode & 0o7777, sha1: createHash('sha1').update(await readFile(full)).digest('hex') });
    }
  };
  await walk(dir, '');
  return out;
}

/** The README's normalisation: permission bits only, the owner always rw (rwx on directories). */
function normalised(nodes: Map<string, Node>): Map<string, Node> {
  return new Map(
    [...nodes].map(([key, node]): [string, Node] => {
      if (node.kind === 'symlink') return [key, node];
      const extra = node.kind === 'dir' ? 0o700 : 0o600;
      return [key, { ...node, mode: (node.mode & 0o777) | extra }];
    }),
  );
}

/** Only what git records: the content and whether a file is executable. */
function asGitSees(nodes: Map<string, Node>): Map<string, string> {
  const out = new Map<string, string>();
  for (const [key, node] of nodes) {
    if (node.kind === 'file') out.set(key, `${node.mode & 0o100 ? 'x' : '-'} ${node.sha1}`);
    if (node.kind === 'symlink') out.set(key, `-> ${node.target}`);
  }
  return out;
}

async function extractInto(dir: string, upload: Buffer): Promise<string> {
  await mkdir(dir, { recursive: true });
  await writeFile(`${dir}.tar`, upload);
  // As root, GNU tar keeps modes (--preserve-permissions), setuid included; -a reads gzip too.
  await sh(`tar -xpf ${q(`${dir}.tar`)} -C ${q(dir)}`, work);
  return dir;
}

async function run(upload: Upload, steps: Parameters<Harness['prompt']>[0]): Promise<{ run: any; workspace: Buffer; diff: Buffer }> {
  const res = await h.createRun({ prompt: h.prompt(steps), workspace: upload.bytes, workspaceName: upload.name, wait: true });
  const body: any = await res.json();
  expect(res.status, JSON.stringify(body)).toBe(200);
  expect(body.status, JSON.stringify(body)).toBe('succeeded');
  const workspace = Buffer.from(await (await h.api(`/v1/runs/${body.id}/workspace`)).arrayBuffer());
  const diffRes = await h.api(`/v1/runs/${body.id}/diff`);
  expect(diffRes.status).toBe(200);
  return { run: body, workspace, diff: Buffer.from(await diffRes.arrayBuffer()) };
}

describe('a corpus of tarballs round-trips through real runs', () => {
  it.each(cases)('%s', { timeout: 180_000 }, async (label, make) => {
    const name = label.replace(/[^a-z0-9]+/gi, '-');
    const upload = await make(name);
    const dir = path.join(work, name);
    const expected = await tree(await extractInto(path.join(dir, 'expected'), upload.bytes));

    const noop = await run(upload, [{ message: 'looked, changed nothing' }]);
    expect(noop.run.changes.files_changed).toBe(0);
    expect(noop.diff.length).toBe(0);
    const returned = await tree(await extractInto(path.join(dir, 'noop'), noop.workspace));
    expect(returned).toEqual(normalised(expected));

    const edit = await run(upload, [{ exec: EDIT }, { message: 'edited' }]);
    expect(edit.run.changes.files_changed).toBeGreaterThanOrEqual(3);
    const edited = await tree(await extractInto(path.join(dir, 'edited'), edit.workspace));
    const copy = await extractInto(path.join(dir, 'copy'), upload.bytes);
    await writeFile(path.join(dir, 'edit.diff'), edit.diff);
    await sh(`git apply ${q(path.join(dir, 'edit.diff'))}`, copy);
    expect(asGitSees(await tree(copy))).toEqual(asGitSees(edited));
    expect(edited.get('added.txt')).toMatchObject({ sha1: createHash('sha1').update('new\r\nline\r\n').digest('hex') });
  });
});

describe('uploads the corpus must refuse', () => {
  async function refused(upload: Buffer): Promise<{ status: number; body: any }> {
    const res = await h.createRun({ prompt: h.prompt([{ message: 'never runs' }]), workspace: upload, wait: true });
    return { status: res.status, body: await res.json() };
  }

  it('refuses names that are not UTF-8, and two of them that would collide, with a 400 naming the entry', async () => {
    const root = path.join(work, 'latin1', 'src');
    await mkdir(root, { recursive: true });
    await writeFile(Buffer.from(`${root}/caf\xe9.txt`, 'latin1'), 'e acute');
    await writeFile(Buffer.from(`${root}/caf\xe8.txt`, 'latin1'), 'e grave');
    for (const format of ['gnu', 'posix']) {
      await sh(`tar --format=${format} -cf up -C src .`, path.dirname(root));
      const { status, body } = await refused(await readFile(path.join(path.dirname(root), 'up')));
      expect(status).toBe(400);
      expect(body.error.code).toBe('workspace_invalid');
      expect(body.error.message).toMatch(/^entry "\.\/caf\ufffd\.txt" has a name that is not valid UTF-8/);
    }
  });

  it('refuses a file over a directory that holds entries, as GNU tar does, with a 400 naming the entry', async () => {
    const script = [
      'import io, tarfile',
      "with tarfile.open('up', 'w', format=tarfile.PAX_FORMAT) as t:",
      "    d = tarfile.TarInfo('same'); d.type = tarfile.DIRTYPE; d.mode = 0o755; t.addfile(d)",
      "    f = tarfile.TarInfo('same/inner.txt'); f.size = 1; t.addfile(f, io.BytesIO(b'x'))",
      "    g = tarfile.TarInfo('same'); g.size = 1; t.addfile(g, io.BytesIO(b'y'))",
    ].join('\n');
    const dir = path.join(work, 'collide');
    await mkdir(dir);
    await sh(`python3 -c ${q(script)}`, dir);
    const { status, body } = await refused(await readFile(path.join(dir, 'up')));
    expect(status).toBe(400);
    expect(body.error.message).toBe('entry "same" is not a directory, but the archive already has entries inside it ("same/inner.txt")');
  });
});
