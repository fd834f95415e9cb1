import { createReadStream, createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { finished } from 'node:stream/promises';
import { Writable } from 'node:stream';
import type { Logger } from 'pino';
import { exportWorkspace } from '../archive/export-workspace.js';
import type { Config, ProviderConfig } from '../config/config.js';
import type { GatewayTokens, RunBudget } from '../gateway/tokens.js';
import { emptyProviderUsage } from '../gateway/usage-tap.js';
import { buildCodexArgv, buildCodexConfigToml, DIRECT_KEY_ENV, GATEWAY_TOKEN_ENV } from '../sandbox/codex-invocation.js';
import { buildSandboxSpec, WORKSPACE_DIR } from '../sandbox/container-spec.js';
import { SandboxError, type Sandbox, type SandboxDriver } from '../sandbox/driver.js';
import { parseNumstat } from './change-summary.js';
import { applyCodexEvent, emptyOutcome, type CodexOutcome } from './codex-outcome.js';
import type { EventLog } from './event-log.js';
import { lineSplitter, tailBuffer } from './line-splitter.js';
import type { RunFiles } from './run-files.js';
import type { ChangeSummary, Run, RunError, RunStatus } from './run.js';

/** How long a failing sandbox is given to finish stopping before the run says why it failed. */
const SETTLE_MS = 1_000;

/** The reason a run's signal was aborted with: how the run ends. */
export class RunAbort extends Error {
  constructor(
    readonly status: Extract<RunStatus, 'cancelled' | 'timed_out' | 'failed'>,
    readonly runError: RunError,
  ) {
    super(runError.message);
  }
}

export interface ExecutorDeps {
  driver: SandboxDriver;
  tokens: GatewayTokens;
  config: Config;
  /** The server's environment: provider keys, read only for key_delivery = "env". */
  env: Record<string, string | undefined>;
}

export interface RunJob {
  run: Run;
  budget: RunBudget;
  /** Ends the run as failed with this error (the gateway's way to stop what Codex would retry). */
  fail(error: RunError): void;
  prompt: string;
  provider: ProviderConfig;
  files: RunFiles;
  hasInput: boolean;
  events: EventLog;
  signal: AbortSignal;
  log: Logger;
}

/** How a run ended: the fields of the run that its execution decides. */
export type RunResult = Pick<Run, 'exitCode' | 'finalMessage' | 'usage' | 'error' | 'changes' | 'providerUsage' | 'hasDiff' | 'hasWorkspace'> & {
  status: Exclude<RunStatus, 'queued' | 'running'>;
};

/** Runs one run in its own sandbox; the sandbox and the run's gateway token never outlive this call. */
export async function executeRun(deps: ExecutorDeps, job: RunJob): Promise<RunResult> {
  const { config } = deps;
  const { run, signal } = job;
  let log = job.log;
  const timings: Record<string, number> = {};
  const time = async <T>(phase: string, work: () => Promise<T>): Promise<T> => {
    const t0 = performance.now();
    try {
      return await work();
    } finally {
      timings[phase] = Math.round(performance.now() - t0);
    }
  };

  // With key_delivery = "env" Codex talks to the provider itself: no gateway token, no usage seen.
  const direct = job.provider.keyDelivery === 'env';
  const providerUsage = direct ? null : emptyProviderUsage();
  const token = providerUsage && deps.tokens.issue({ runId: run.id, provider: job.provider, model: run.model, budget: job.budget, usage: providerUsage, endRun: job.fail });
  let sandbox: Sandbox | undefined;
  let outcome = emptyOutcome();
  let exitCode: number | null = null;
  let result: RunResult;
  try {
    const spec = buildSandboxSpec({
      runId: run.id,
      instance: config.server.instance,
      image: config.sandbox.image,
      network: direct ? job.provider.egressNetwork : config.sandbox.network,
      runtime: config.sandbox.runtime,
      limits: config.sandbox,
      gateway: direct
        ? null
        : config.gateway.socketVolume
          ? { kind: 'volume', volume: config.gateway.socketVolume }
          : { kind: 'bind', hostDir: config.gateway.socketDir },
    });
    const started = await time('start', () => deps.driver.start(spec, signal));
    sandbox = started;
    log = log.child({ containerId: started.containerId.slice(0, 12) });

    if (job.hasInput) {
      await time('upload', () => started.putArchive(createReadStream(job.files.inputTar), WORKSPACE_DIR, signal));
    }
    await rm(job.files.inputTar, { force: true });

    await time('prepare', () =>
      runChecked(started, ['codex-runner-prepare'], {
        stdin: buildCodexConfigToml({ model: run.model, provider: job.provider }),
        signal,
      }),
    );

    const stderr = tailBuffer();
    let warnedNotJson = false;
    const stdout = lineSplitter({
      maxLineBytes: config.limits.eventLineMaxKb * 1024,
      onLine: (line) => {
        const event = parseEvent(line);
        if (!event) {
          // Anything in the sandbox can write here: warn once, not once per line of a flood.
          if (!warnedNotJson) log.warn({ line: line.slice(0, 200) }, 'codex printed a line that is not JSON');
          warnedNotJson = true;
          return;
        }
        // Past the event log's limits the event is only counted; the outcome still sees it.
        job.events.append('codex', event);
        outcome = applyCodexEvent(outcome, event);
      },
      onOversized: () => job.events.countDropped('line_too_long'),
      // Waits for the event file to take what it has: the Docker stream, then Codex's stdout, slow down.
      ready: () => job.events.ready(),
    });
    exitCode = await time('codex', async () => {
      const code = await started.exec(buildCodexArgv(job.prompt), {
        // Added here, at the last moment, so the key is in no spec or log line.
        env: [token ? `${GATEWAY_TOKEN_ENV}=${token.token}` : `${DIRECT_KEY_ENV}=${job.provider.keyEnv ? (deps.env[job.provider.keyEnv] ?? '') : ''}`],
        stdout,
        stderr,
        signal,
      });
      stdout.end();
      await finished(stdout);
      return code;
    });

    // Codex's own exit code says nothing of why it was killed: the sandbox's state does.
    if (exitCode !== 0) {
      const stopped = await started.stopReason().catch(() => null);
      if (stopped) throw new SandboxError(stopped, { code: 'sandbox_stopped' });
    }
    const outOfMemory = exitCode !== 0 && (await started.ranOutOfMemory().catch(() => false)) ? config.sandbox.memoryMb : null;
    const collected = await time('collect', () => collectArtifacts(started, job.files, signal));
    result = {
      ...codexResult(exitCode, outcome, stderr.text(), outOfMemory),
      changes: collected.changes,
      providerUsage: null,
      hasDiff: true,
      hasWorkspace: true,
    };
  } catch (err) {
    if (signal.aborted) {
      const abort = signal.reason instanceof RunAbort ? signal.reason : new RunAbort('cancelled', { code: 'cancelled', message: 'run cancelled' });
      result = ended(abort.status, abort.runError, exitCode, outcome);
    } else if (err instanceof SandboxError) {
      log.error({ err }, 'sandbox failed');
      // A helper that fails while the sandbox goes down says less than the sandbox's own state.
      const stopped = err.code === 'sandbox_error' && sandbox ? await sandbox.stopReason(SETTLE_MS).catch(() => null) : null;
      result = ended('failed', stopped ? { code: 'sandbox_stopped', message: stopped } : { code: err.code, message: err.message }, exitCode, outcome);
    } else {
      log.error({ err }, 'run failed unexpectedly');
      result = ended('failed', { code: 'internal', message: 'internal error while running' }, exitCode, outcome);
    }
  } finally {
    token?.revoke();
    if (sandbox) {
      await time('remove', () => sandbox!.remove()).catch((err) => log.error({ err }, 'could not remove the sandbox'));
    }
  }
  result.providerUsage = providerUsage;
  log.info({ status: result.status, exitCode: result.exitCode, error: result.error?.code, providerUsage, timingsMs: timings }, 'run ended');
  return result;
}

function parseEvent(line: string): Record<string, unknown> | null {
  try {
    const value = JSON.parse(line);
    return value && typeof value === 'object' && !Array.isArray(value) ? value : null;
  } catch {
    return null;
  }
}

function codexResult(
  exitCode: number,
  outcome: CodexOutcome,
  stderrTail: string,
  outOfMemoryMb: number | null,
): Omit<RunResult, 'changes' | 'providerUsage' | 'hasDiff' | 'hasWorkspace'> {
  const base = { exitCode, finalMessage: outcome.finalMessage, usage: outcome.usage };
  if (outOfMemoryMb !== null) {
    return { ...base, status: 'failed', error: { code: 'out_of_memory', message: `the sandbox ran out of memory (${outOfMemoryMb} MB): codex exited with code ${exitCode}` } };
  }
  if (outcome.failure) return { ...base, status: 'failed', error: { code: 'codex_failed', message: outcome.failure } };
  if (exitCode !== 0) {
    const detail = lastLines(stderrTail) || outcome.lastError || 'no output';
    return { ...base, status: 'failed', error: { code: 'codex_failed', message: `codex exited with code ${exitCode}: ${detail}` } };
  }
  return { ...base, status: 'succeeded', error: null };
}

function ended(status: RunResult['status'], error: RunError, exitCode: number | null, outcome: CodexOutcome): RunResult {
  return { status, error, exitCode, finalMessage: outcome.finalMessage, usage: outcome.usage, changes: null, providerUsage: null, hasDiff: false, hasWorkspace: false };
}

function lastLines(text: string, count = 5): string {
  return text.trim().split('\n').slice(-count).join('\n');
}

async function collectArtifacts(sandbox: Sandbox, files: RunFiles, signal: AbortSignal): Promise<{ changes: ChangeSummary }> {
  const diff = (async () => {
    const partial = `${files.diff}.partial`;
    try {
      await runChecked(sandbox, ['codex-runner-diff'], { stdout: createWriteStream(partial), signal });
      await rename(partial, files.diff);
    } finally {
      await rm(partial, { force: true });
    }
    const numstat: Buffer[] = [];
    await runChecked(sandbox, ['codex-runner-diff', '--numstat'], { stdout: collectInto(numstat), signal });
    return parseNumstat(Buffer.concat(numstat).toString('utf8'));
  })();
  const workspace = (async () => {
    const tar = await sandbox.getArchive(WORKSPACE_DIR, signal);
    await exportWorkspace(tar, files.workspace, { stripPrefix: 'workspace/', signal });
  })();
  const [changes] = await Promise.all([diff, workspace]);
  return { changes };
}

/** Runs a helper in the sandbox; a non-zero exit is a SandboxError carrying its stderr. The stdout sink is ended and flushed. */
async function runChecked(
  sandbox: Sandbox,
  argv: string[],
  options: { stdin?: string; stdout?: Writable; signal: AbortSignal },
): Promise<void> {
  const stderr = tailBuffer();
  let code: number;
  try {
    code = await sandbox.exec(argv, { ...options, stderr });
  } finally {
    if (options.stdout) {
      options.stdout.end();
      await finished(options.stdout).catch(() => {});
    }
  }
  if (code !== 0) throw new SandboxError(`${argv[0]} exited with code ${code}: ${lastLines(stderr.text())}`);
}

function collectInto(chunks: Buffer[]): Writable {
  return new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk);
      cb();
    },
  });
}
