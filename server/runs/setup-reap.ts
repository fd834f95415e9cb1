import { Writable } from 'node:stream';
import type { Logger } from 'pino';
import type { Sandbox } from '../sandbox/driver.js';
import { SetupFailedError } from './setup-phase.js';

/**
 * Kills every process of the sandbox but PID 1 (tini), the sandbox's own main process (the first
 * child of PID 1: codex-runner-main, waiting for Codex's command) with its children (the relays and
 * their connections),
 * and itself (with its children); passes until none is left (a leftover may fork while it is killed,
 * within pids_limit);
 * then prints, for each process still there, `PID <pid>` and its environ. The kill passes run
 * builtins and a short sleep between passes (its child, spared), for at most 10 s. Exit 3: some
 * would not die.
 * A process that left setup's session or cleared its own variables is found all the same.
 */
export const REAP_SCRIPT = `
main=''
for d in /proc/[0-9]*; do
  p=\${d#/proc/}
  read -r s < "$d/stat" 2>/dev/null || continue
  s=\${s##*) }; set -- $s
  if [ "$2" = 1 ] && { [ -z "$main" ] || [ "$p" -lt "$main" ]; }; then main=$p; fi
done
spared() {
  local p=$1 s
  [ "$p" = 1 ] && return 0
  while :; do
    [ "$p" = "$$" ] || [ "$p" = "$main" ] && return 0
    [ "$p" = 0 ] || [ "$p" = 1 ] && return 1
    read -r s < "/proc/$p/stat" 2>/dev/null || return 1
    s=\${s##*) }; set -- $s
    [ "$1" = Z ] && return 0
    p=$2
  done
}
deadline=$((SECONDS + 10))
while :; do
  found=0
  for d in /proc/[0-9]*; do
    p=\${d#/proc/}
    spared "$p" && continue
    found=1
    kill -KILL "$p" 2>/dev/null
  done
  [ "$found" = 0 ] || [ "$SECONDS" -ge "$deadline" ] && break
  # A killed process takes a moment to exit under load; the sleep is this script's child, spared.
  sleep 0.02
done
[ "$found" = 0 ] || exit 3
for d in /proc/[0-9]*; do
  p=\${d#/proc/}
  [ "$p" = "$$" ] && continue
  printf 'PID %s\\n' "$p"
  cat "$d/environ" 2>/dev/null || { [ -d "$d" ] && printf 'UNREADABLE %s\\n' "$p"; }
  printf '\\n'
done
`;

/** The most environ text the check reads: 512 processes (pids_limit's default) of a few KiB. */
const ENVIRON_MAX_BYTES = 16 * 1024 * 1024;

/** Ends what setup left behind and proves no process still holds a secret's value; SetupFailedError otherwise. */
export async function reapAfterSetup(sandbox: Sandbox, secretValues: string[], signal: AbortSignal, log: Logger): Promise<void> {
  const chunks: Buffer[] = [];
  let bytes = 0;
  const stdout = new Writable({
    write(chunk: Buffer, _enc, callback) {
      bytes += chunk.length;
      if (bytes <= ENVIRON_MAX_BYTES) chunks.push(chunk);
      callback();
    },
  });
  const stderr = new Writable({ write: (_c, _e, cb) => cb() });
  // No secret in this exec's own environment: it would find itself.
  const code = await sandbox.exec(['bash', '-c', REAP_SCRIPT], { stdout, stderr, signal });
  if (code !== 0) throw new SetupFailedError(`the processes setup left behind could not be ended (exit ${code}): Codex is not started while one may hold a setup secret`);
  if (bytes > ENVIRON_MAX_BYTES) throw new SetupFailedError('the sandbox\'s processes could not be checked for setup secrets (too much to read)');
  const text = Buffer.concat(chunks);
  if (text.includes('UNREADABLE ')) throw new SetupFailedError('a process of the sandbox hides its environment: Codex is not started while it may hold a setup secret');
  if (secretValues.some((v) => text.includes(v))) {
    log.error('a setup secret is still held by a process of the sandbox after setup');
    throw new SetupFailedError('a setup secret is still held by a process of the sandbox after setup: Codex is not started');
  }
}
