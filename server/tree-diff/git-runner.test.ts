import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GitOutputTooLargeError, runGit, type GitEnv } from './git-runner.js';
import { ObjectStore } from './object-store.js';
import { TreeDiffError } from './tree-diff-error.js';

let dir: string;
let git: GitEnv;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'git-runner-'));
  git = (await ObjectStore.create(dir)).git;
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('runGit', () => {
  it('sees no config but its own command line, whatever the server environment and HOME hold', async () => {
    // What a hostile or careless host could have lying around.
    await mkdir(join(git.homeDir, 'git'), { recursive: true });
    await writeFile(join(git.homeDir, '.gitconfig'), '[diff]\n\texternal = /bin/false\n');
    await writeFile(join(git.homeDir, 'git', 'config'), '[core]\n\tautocrlf = true\n');
    await writeFile(join(git.homeDir, 'git', 'attributes'), '* text eol=crlf\n');
    const saved = { ...process.env };
    Object.assign(process.env, { GIT_CONFIG_PARAMETERS: "'core.autocrlf=true'", GIT_EXTERNAL_DIFF: '/bin/false', GIT_DIR: '/nonexistent' });
    try {
      const listed = (await runGit(git, { args: ['config', '--list', '--show-origin'], maxStdoutBytes: 64 * 1024 })).toString();
      const origins = new Set(listed.trim().split('\n').map((line) => line.split('\t')[0]));
      // `git init` wrote the repository's own config; nothing else may show up.
      expect([...origins].filter((origin) => origin !== 'command line:' && origin !== `file:${git.gitDir}/config`)).toEqual([]);
      expect(listed).toContain('core.autocrlf=false');
      expect(listed).not.toContain('external = /bin/false');
    } finally {
      process.env = saved;
    }
  });

  it('passes stdin and returns stdout', async () => {
    const id = (await runGit(git, { args: ['hash-object', '-w', '--stdin'], stdin: Buffer.from('hello\n'), maxStdoutBytes: 100 })).toString().trim();
    expect(id).toBe('ce013625030ba8dba906f756967f9e9ca394464a');
    const body = await runGit(git, { args: ['cat-file', 'blob', id], maxStdoutBytes: 100 });
    expect(body.toString()).toBe('hello\n');
  });

  it('kills git and throws once stdout passes its cap, into a sink too', async () => {
    const id = (await runGit(git, { args: ['hash-object', '-w', '--stdin'], stdin: Buffer.alloc(4 * 1024 * 1024, 0x61), maxStdoutBytes: 100 })).toString().trim();
    await expect(runGit(git, { args: ['cat-file', 'blob', id], maxStdoutBytes: 64 * 1024 })).rejects.toBeInstanceOf(GitOutputTooLargeError);
    const sinkPath = join(dir, 'out');
    await expect(runGit(git, { args: ['cat-file', 'blob', id], stdout: createWriteStream(sinkPath), maxStdoutBytes: 64 * 1024 })).rejects.toBeInstanceOf(GitOutputTooLargeError);
    expect((await readFile(sinkPath)).length).toBeLessThanOrEqual(64 * 1024);
  });

  it('turns a failure into a TreeDiffError carrying git stderr', async () => {
    const error = await runGit(git, { args: ['cat-file', 'blob', '0'.repeat(40)], maxStdoutBytes: 100 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TreeDiffError);
    expect((error as TreeDiffError).code).toBe('git_failed');
    expect((error as Error).message).toMatch(/cat-file exited with 128/);
  });

  it('rejects with the abort reason and stops git when the signal fires', async () => {
    const controller = new AbortController();
    const reason = new Error('deadline');
    // An alias is the simplest git command that waits; the abort must not wait for it.
    const pending = runGit(git, { args: ['-c', 'alias.wait=!sleep 3', 'wait'], maxStdoutBytes: 100, signal: controller.signal });
    setTimeout(() => controller.abort(reason), 50);
    await expect(pending).rejects.toBe(reason);
    await expect(runGit(git, { args: ['version'], maxStdoutBytes: 100, signal: controller.signal })).rejects.toBe(reason);
  });
});
