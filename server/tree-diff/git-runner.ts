import { spawn } from 'node:child_process';
import type { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { TreeDiffError } from './tree-diff-error.js';

export interface GitEnv {
  gitDir: string;
  /** An empty directory of ours for HOME and XDG_CONFIG_HOME. */
  homeDir: string;
}

export interface GitCall {
  args: string[];
  indexFile?: string;
  stdin?: Buffer;
  /** Where stdout goes; collected and returned when absent. Ended by runGit either way. */
  stdout?: Writable;
  maxStdoutBytes: number;
  signal?: AbortSignal;
}

/** What runGit throws when stdout passes `maxStdoutBytes`; git is killed first. */
export class GitOutputTooLargeError extends TreeDiffError {
  constructor(readonly maxBytes: number) {
    super('git_failed', `git printed more than ${maxBytes} bytes`);
  }
}

// Every setting that could change what a diff says, pinned, on the command line, so no config,
// attribute or hook file anywhere (the trees' `.gitattributes` included) is consulted.
const PINNED_CONFIG = [
  'core.hooksPath=/dev/null',
  'core.attributesFile=/dev/null',
  'core.autocrlf=false',
  'core.safecrlf=false',
  'core.fileMode=true',
  'core.symlinks=true',
  'core.quotePath=true',
  'core.protectNTFS=true',
  'core.protectHFS=true',
  'core.bigFileThreshold=512m',
  'core.looseCompression=0',
  'diff.external=',
  'diff.noprefix=false',
  'diff.renames=false',
  'gc.auto=0',
].flatMap((setting) => ['-c', setting]);

const STDERR_TAIL_BYTES = 4096;

/**
 * Runs git with nothing inherited: a fresh environment (no GIT_* from the server's, no user,
 * system or XDG config, no system attributes) and a bare repository as the working directory.
 * Kills git on abort or when stdout passes its cap; a non-zero exit is a TreeDiffError.
 */
export async function runGit(env: GitEnv, call: GitCall): Promise<Buffer> {
  call.signal?.throwIfAborted();
  const child = spawn('git', [...PINNED_CONFIG, ...call.args], {
    cwd: env.gitDir,
    env: {
      PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
      GIT_DIR: env.gitDir,
      ...(call.indexFile ? { GIT_INDEX_FILE: call.indexFile } : {}),
      GIT_CONFIG_NOSYSTEM: '1',
      GIT_CONFIG_GLOBAL: '/dev/null',
      GIT_ATTR_NOSYSTEM: '1',
      GIT_NO_REPLACE_OBJECTS: '1',
      GIT_TERMINAL_PROMPT: '0',
      GIT_OPTIONAL_LOCKS: '0',
      HOME: env.homeDir,
      XDG_CONFIG_HOME: env.homeDir,
      LC_ALL: 'C',
    },
    stdio: ['pipe', 'pipe', 'pipe'],
    signal: call.signal,
    killSignal: 'SIGKILL',
  });
  // Not events.once: that rejects on 'error', which here only means a kill is on its way.
  const closed = new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.on('close', (code, signal) => resolve([code, signal])));
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  // Swallowed here, reported below: EPIPE when git exits before reading stdin, AbortError.
  const spawnError = new Promise<Error>((resolve) => child.on('error', resolve));
  child.stdin.on('error', () => {});

  let stderr = Buffer.alloc(0);
  child.stderr.on('data', (chunk: Buffer) => {
    stderr = Buffer.concat([stderr, chunk]);
    if (stderr.length > STDERR_TAIL_BYTES) stderr = stderr.subarray(-STDERR_TAIL_BYTES);
  });

  let seen = 0;
  let tooLarge = false;
  const collected: Buffer[] = [];
  const sink = call.stdout;
  let sinkError: unknown;
  sink?.on('error', (error) => {
    sinkError ??= error;
    child.kill('SIGKILL');
  });
  child.stdout.on('data', (chunk: Buffer) => {
    seen += chunk.length;
    if (seen > call.maxStdoutBytes) {
      tooLarge = true;
      child.kill('SIGKILL');
      return;
    }
    if (!sink) collected.push(chunk);
    else if (!sink.write(chunk)) {
      child.stdout.pause();
      sink.once('drain', () => child.stdout.resume());
    }
  });
  child.stdin.end(call.stdin ?? Buffer.alloc(0));

  const [code, signal] = await Promise.race([closed, spawnError.then((error) => Promise.reject(error))]).catch(async (error: unknown) => {
    child.kill('SIGKILL');
    // 'exit', not 'close': a grandchild (an alias's shell) may hold the pipes open.
    if (child.exitCode === null && child.signalCode === null) await exited;
    child.stdout.destroy();
    child.stderr.destroy();
    throw call.signal?.aborted ? call.signal.reason : error;
  });
  if (sink && sinkError === undefined) {
    sink.end();
    await finished(sink).catch((error: unknown) => (sinkError ??= error));
  }
  call.signal?.throwIfAborted();
  if (sinkError !== undefined) throw sinkError;
  if (tooLarge) throw new GitOutputTooLargeError(call.maxStdoutBytes);
  if (code !== 0) {
    const detail = stderr.toString('utf8').trim().split('\n').slice(-3).join('; ');
    throw new TreeDiffError('git_failed', `git ${call.args[0]} exited with ${code ?? signal}: ${detail}`);
  }
  return Buffer.concat(collected);
}
