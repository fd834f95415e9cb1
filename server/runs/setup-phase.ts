import { finished } from 'node:stream/promises';
import type { Logger } from 'pino';
import type { Sandbox } from '../sandbox/driver.js';
import type { EventLog } from './event-log.js';
import { lineSplitter } from './line-splitter.js';
import { reapAfterSetup } from './setup-reap.js';

/** A setup failed: the run ends `setup_failed` with this message (the output's tail, secrets redacted). */
export class SetupFailedError extends Error {}

export interface SetupSpec {
  commands: string[];
  timeoutMs: number;
  /** Added to every setup command's environment (e.g. the allow-list proxy's variables). */
  env: string[];
  /** NAME → value, given to the setup commands only, redacted from their output. */
  secrets: Record<string, string>;
  maxLineBytes: number;
}

/** Setup output kept in the run's events; past it lines still feed the error's tail. */
const STORED_OUTPUT_MAX_BYTES = 1024 * 1024;
const TAIL_LINES = 20;

/**
 * Runs the environment's setup commands in order, as the sandbox's user, each with `bash -lc` in the
 * workspace, their output as `setup` events. When secrets were given, every process setup left
 * behind is killed and no process of the sandbox may hold a secret's value afterwards.
 */
export async function runSetup(sandbox: Sandbox, spec: SetupSpec, events: EventLog, signal: AbortSignal, log: Logger): Promise<void> {
  const values = Object.values(spec.secrets).filter((v) => v.length > 0);
  const redact = (text: string) => values.reduce((t, v) => t.split(v).join('[redacted]'), text);
  const env = [...spec.env, ...Object.entries(spec.secrets).map(([k, v]) => `${k}=${v}`)];
  const deadline = AbortSignal.timeout(spec.timeoutMs);
  const tail: string[] = [];
  let storedBytes = 0;
  let truncated = false;
  const output = (index: number, stream: 'stdout' | 'stderr') =>
    lineSplitter({
      maxLineBytes: spec.maxLineBytes,
      onLine: (raw) => {
        const text = redact(raw);
        tail.push(text);
        if (tail.length > TAIL_LINES) tail.shift();
        storedBytes += Buffer.byteLength(text);
        if (storedBytes <= STORED_OUTPUT_MAX_BYTES) events.append('setup', { type: 'setup.output', index, stream, text });
        else if (!truncated) {
          truncated = true;
          events.append('setup', { type: 'setup.output_truncated', max_bytes: STORED_OUTPUT_MAX_BYTES });
        }
      },
      onOversized: (bytes) => tail.push(`[a line of ${bytes} bytes left out]`),
    });
  const failed = (what: string) => new SetupFailedError(`${what}${tail.length ? `: ${tail.join('\n')}` : ''}`);

  for (const [index, command] of spec.commands.entries()) {
    events.append('setup', { type: 'setup.started', index, command });
    const t0 = performance.now();
    const stdout = output(index, 'stdout');
    const stderr = output(index, 'stderr');
    let exitCode: number;
    try {
      exitCode = await sandbox.exec(['bash', '-lc', command], { env, stdout, stderr, signal: AbortSignal.any([signal, deadline]) });
    } catch (err) {
      if (!signal.aborted && deadline.aborted) throw failed(`setup exceeded its setup_timeout_s of ${Math.round(spec.timeoutMs / 1000)} s in command ${index + 1}`);
      throw err;
    } finally {
      // A last line without a newline is taken when the splitter ends, before the command's end is told.
      stdout.end();
      stderr.end();
      await Promise.all([finished(stdout), finished(stderr)]).catch(() => {});
    }
    events.append('setup', { type: 'setup.finished', index, exit_code: exitCode, ms: Math.round(performance.now() - t0) });
    if (exitCode !== 0) throw failed(`setup command ${index + 1} (${redact(command)}) exited with code ${exitCode}`);
  }
  if (values.length) await reapAfterSetup(sandbox, values, signal, log);
}
