import { SandboxError } from './driver.js';

/** The image's standby process (sandbox-image/bin/codex-runner-standby), started ahead for a sandbox's first exec. */
export const STANDBY_COMMAND = 'codex-runner-standby';

/**
 * What the standby process reads on its stdin before it execs the command: the environment, then
 * the argv, each as a count and that many entries, every one ended by a NUL. What follows is the
 * command's own stdin.
 */
export function standbyRequest(argv: string[], env: string[]): Buffer {
  if (argv.length === 0) throw new SandboxError('an exec needs a command');
  for (const entry of [...argv, ...env]) if (entry.includes('\0')) throw new SandboxError("an exec's argument or environment holds a NUL byte");
  for (const entry of env) if (!/^[^=]+=/.test(entry)) throw new SandboxError(`an exec's environment entry ${JSON.stringify(entry.slice(0, 40))} is not NAME=value`);
  const list = (entries: string[]) => [String(entries.length), ...entries].map((entry) => `${entry}\0`).join('');
  return Buffer.from(list(env) + list(argv));
}
