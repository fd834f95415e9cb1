import { SandboxError } from './driver.js';

/**
 * The image's main process (sandbox-image/bin/codex-runner-main): given PORT SOCKET pairs, it relays
 * each, then stands by on its stdin for the sandbox's one command.
 */
export const MAIN_COMMAND = 'codex-runner-main';

/**
 * How the main process ends when one of its relays ended first: killed by SIGUSR1, as tini reports
 * it (128 + 10). The sandbox stops with it, whatever its command was doing.
 */
export const RELAY_ENDED_EXIT_CODE = 138;

/** A token of the run's own, for one main command: 32 lowercase hex digits. */
export const MAIN_TOKEN = /^[0-9a-f]{32}$/;

/**
 * What the main process reads on its stdin before it runs the command: `token`, then the
 * environment, then the argv, each as a count and that many entries, every one ended by a NUL.
 * What follows is the command's own stdin.
 */
export function mainRequest(token: string, argv: string[], env: string[]): Buffer {
  if (!MAIN_TOKEN.test(token)) throw new SandboxError('a main command\'s token is 32 hex digits');
  if (argv.length === 0) throw new SandboxError('a command is needed');
  for (const entry of [...argv, ...env]) if (entry.includes('\0')) throw new SandboxError("a command's argument or environment holds a NUL byte");
  for (const entry of env) if (!/^[^=]+=/.test(entry)) throw new SandboxError(`a command's environment entry ${JSON.stringify(entry.slice(0, 40))} is not NAME=value`);
  const list = (entries: string[]) => [String(entries.length), ...entries].map((entry) => `${entry}\0`).join('');
  return Buffer.from(`${token}\0${list(env)}${list(argv)}`);
}

/**
 * What the main process prints once the command has exited and every other process of the sandbox
 * is gone, after all the command printed: this, then the report, on stdout (`STATUS:quiet`, or
 * `STATUS:busy` when some process would not go) and on stderr (`end`). Neither stream carries a
 * NUL otherwise (Codex prints JSON lines and text), and the token is the run's own.
 */
export function mainMarker(token: string): Buffer {
  return Buffer.from(`\0codex-runner-main:${token}:`);
}

export interface MainReport {
  status: number;
  /** Whether nothing but the main process was left running in the sandbox. */
  quiet: boolean;
  /** Whether the tree under COLLECT_DIR follows on stdout, as a tar, then the `tar:STATUS` report. */
  tarFollows: boolean;
}

/** The stdout report, or null when it is not one. */
export function parseMainReport(line: string): MainReport | null {
  const match = /^(\d{1,3}):(quiet|busy)(:tar)?$/.exec(line);
  if (!match || Number(match[1]) > 255 || (match[3] && match[2] !== 'quiet')) return null;
  return { status: Number(match[1]), quiet: match[2] === 'quiet', tarFollows: Boolean(match[3]) };
}

/** The report after the tree's tar: the tar's exit status, or null when it is not one. */
export function parseTarReport(line: string): number | null {
  const match = /^tar:(\d{1,3})$/.exec(line);
  return match ? Number(match[1]) : null;
}
