import { createReadStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { Config, EnvironmentConfig, ProviderConfig } from '../config/config.js';
import type { RunBudget } from '../domain/provider-usage.js';
import { RunStop, type StopRun } from '../domain/run-error.js';
import type { EgressProxy } from '../egress/egress-proxy.js';
import type { ProviderAccess, ProviderAccessOpener } from '../provider-access/index.js';
import type { Telemetry } from '../telemetry/telemetry.js';
import { buildCodexArgv, buildCodexConfigToml, CODEX_CONFIG_ENV, CODEX_LAUNCHER, CODEX_OUTPUT_SCHEMA_FILE, CODEX_RELAY_PORT_ENV, outputSchemaEnv } from '../sandbox/codex-invocation.js';
import { SANDBOX_GATEWAY_PORT, SandboxError, WORKSPACE_DIR, type Sandbox, type SandboxDriver, type SandboxLimits } from '../sandbox/driver.js';
import type { WarmPool } from '../sandbox/warm-pool.js';
import { indexBaseline, type BaselineIndex } from '../tree-diff/index.js';
import { collectArtifacts, PATCH_BYTES_PER_TREE_BYTE, type CollectLimits } from './collect-artifacts.js';
import { turnUsage, type CodexOutcome } from './codex-outcome.js';
import { restoreSession, type SessionToKeep } from './codex-session.js';
import { CodexPhase } from './codex-phase.js';
import type { EventLog } from './event-log.js';
import { withOutputOffThread } from './output-check.js';
import type { OutputSchema } from './output-schema.js';
import { enterPhase, needsPhaseNetwork, NetworkPolicyError, type PhaseNetworkState } from './phase-network.js';
import { mayUsePool, runSandboxShape } from './pool-shape.js';
import type { WorkspacePreload } from './workspace-preload.js';
import { openRunEgress } from './run-egress.js';
import { runSetup } from './setup-phase.js';
import type { RunFiles } from './run-files.js';
import { codexResult, ended, failureOf, type RunResult } from './run-result.js';
import { putImages, runImages } from './run-images.js';
import type { Run, RunUsage } from './run.js';

const MiB = 1024 * 1024;

/** How long a failing sandbox is given to finish stopping before the run says why it failed. */
const SETTLE_MS = 1_000;
/** How long a run waits for its sandbox's removal before leaving it to the orphan sweep: a stuck engine must not hold the run's slot. */
const REMOVE_WAIT_MS = 60_000;
/** Added to a sandbox's expiry past its run's own deadlines: removal and bookkeeping take a moment. */
const EXPIRY_MARGIN_S = 300;

export interface ExecutorDeps {
  driver: SandboxDriver;
  /** Each run's way to its provider: the gateway's token and socket, or the key in the environment. */
  access: ProviderAccessOpener;
  config: Pick<Config, 'sandbox' | 'limits'>;
  /** Sandboxes started ahead; a run whose shape one has takes it instead of starting its own. */
  pool?: Pick<WarmPool, 'claim'>;
  /** The values of the named server environment variables, read when a setup needs them. */
  secrets?: (names: string[]) => Record<string, string>;
}

export interface RunJob {
  run: Run;
  budget: RunBudget;
  /** The run's sandbox, as its plan decided (memory, cpus, workspace within its tenant's ceilings). */
  limits: SandboxLimits;
  /** Stops the run (the gateway's way to end what Codex would only retry). */
  stop: StopRun;
  prompt: string;
  provider: ProviderConfig;
  /** The run's image, setup and per-phase network policies. */
  environment: EnvironmentConfig;
  files: RunFiles;
  hasInput: boolean;
  /** What Codex's final message must be; the run's `output` is its JSON. */
  outputSchema?: OutputSchema | null;
  /** A pooled sandbox the upload went into while it was spooled: taken if it fits the run, else removed. */
  preload?: Pick<WorkspacePreload, 'take' | 'discard'> | null;
  /** A follow-up's: the thread it resumes (its session is `files.parentSession`) and that thread's usage so far. */
  resume?: { threadId: string; usageBefore: RunUsage | null } | null;
  events: EventLog;
  signal: AbortSignal;
  log: Logger;
  /** Told each phase's duration as it ends, and a sandbox that could not start. */
  telemetry?: Pick<Telemetry, 'runPhase' | 'sandboxStartFailed' | 'egressConnection'>;
}

export type { RunResult } from './run-result.js';

/** A run's outcome, and the removal of what it held, which goes on once the outcome is known. */
export interface ExecutedRun {
  result: RunResult;
  /** Settles (never rejects) once the sandbox and the baseline are gone: whoever holds the run's slot awaits it. */
  released: Promise<void>;
}

/**
 * Runs one run in its own sandbox. The run's provider access never outlives this call; its sandbox
 * never outlives `released`, so that the outcome is stored and answered before the removal's cost.
 */
export async function executeRun(deps: ExecutorDeps, job: RunJob): Promise<ExecutedRun> {
  const { config } = deps;
  const { run, signal } = job;
  let log = job.log;
  const timings: Record<string, number> = {};
  const time = async <T>(phase: string, work: () => Promise<T>): Promise<T> => {
    const t0 = performance.now();
    log.debug({ phase }, 'phase started');
    try {
      return await work();
    } finally {
      timings[phase] = Math.round(performance.now() - t0);
      job.telemetry?.runPhase(phase, timings[phase]);
      log.debug({ phase, ms: timings[phase] }, 'phase ended');
    }
  };

  let access: ProviderAccess | undefined;
  let egress: EgressProxy | undefined;
  let sandbox: Sandbox | undefined;
  let assigned: Promise<void> | undefined;
  const idleS = config.limits.idleTimeoutS;
  const codex = new CodexPhase(job.events, config.limits.eventLineMaxKb * 1024, log, {
    ms: idleS * 1000,
    onIdle: () => job.stop(new RunStop('timed_out', { code: 'idle_timeout', message: `codex printed no event for ${idleS} s` })),
  });
  /** Codex's session to keep when its thread started; collectArtifacts reads it under its own deadline. */
  const sessionToKeep = (): SessionToKeep | null =>
    codex.outcome.threadId === null ? null : { dest: job.files.session, limits: { maxBytes: config.limits.sessionMaxMb * MiB, owner: config.sandbox } };
  /** What Codex said, its usage this run's own (a follow-up's counts are its thread's). */
  const turnOutcome = (): CodexOutcome => ({ ...codex.outcome, usage: turnUsage(codex.outcome.usage, job.resume?.usageBefore ?? null) });
  let exitCode: number | null = null;
  let result: RunResult | undefined;
  let released: Promise<void>;
  // Indexed on the server while the sandbox starts and Codex works: the diff's baseline is what the
  // server spooled and checked, out of the run's reach.
  // Not stopped with the run: a stopped run's partial diff needs it. Stopped when this call ends.
  const baselineStop = new AbortController();
  const baselineWork = indexBaseline(job.hasInput ? job.files.inputTar : null, job.files.baselineDir, { signal: baselineStop.signal, scanFile: job.files.inputScan });
  baselineWork.catch(() => {}); // awaited when collecting; a failure before then is not unhandled
  try {
    const environment = job.environment;
    const phaseNetwork = needsPhaseNetwork(environment) ? config.sandbox.egressNetwork : null;
    const shape = runSandboxShape(config, job);
    const { egressProxy } = shape;
    const poolable = mayUsePool(deps.access, job);
    // The sandbox that took the upload while it was spooled, if it suits: its workspace is in.
    const preloaded = job.preload && poolable ? await time('preload', () => job.preload!.take(shape)) : null;
    if (!poolable) void job.preload?.discard();
    const claimed = preloaded ?? (deps.pool && poolable ? await time('claim', () => deps.pool!.claim(shape)) : null);
    sandbox = claimed?.sandbox;
    // Off the run's path: a name for operators, awaited before the removal.
    assigned = claimed?.sandbox.assign(run.id).catch((err) => log.warn({ err }, 'could not name the pooled sandbox after its run'));
    // Opened before a sandbox starts: its gateway socket is the only one the sandbox can reach. A
    // sandbox made ahead already mounts the directory the socket is opened in.
    const opened = await time('access', () =>
      deps.access.open({ runId: run.id, provider: job.provider, model: run.model, budget: job.budget, stop: job.stop, reservedSocketDir: claimed?.socketDir }),
    );
    access = opened;
    if (egressProxy) {
      // planRun gives an allowlist environment only to a provider reached through the gateway, in whose directory the proxy listens.
      if (!opened.gateway) throw new NetworkPolicyError('the "allowlist" policy needs the run\'s gateway directory, and this provider has none');
      egress = await openRunEgress(opened.gateway, config.sandbox.gid, job.events, job.telemetry, log);
    }
    const started = claimed
      ? claimed.sandbox
      : await time('start', () =>
          deps.driver.start(
            {
              ...shape,
              runId: run.id,
              tenant: run.tenant,
              network: opened.network,
              phaseNetwork,
              egressProxy,
              gateway: opened.gateway,
              // The run's own timeout, its collection's and a margin: what outlives that belongs to nobody.
              expiresAt: new Date(Date.now() + (run.timeoutS + config.limits.collectTimeoutS + EXPIRY_MARGIN_S) * 1000),
            },
            signal,
          ).catch((err: unknown) => {
            if (!signal.aborted) job.telemetry?.sandboxStartFailed(err instanceof SandboxError ? err.code : 'internal');
            throw err;
          }),
        );
    sandbox = started;
    log = log.child({ containerId: started.id.slice(0, 12) });

    if (job.hasInput && !preloaded) {
      // A MiB per read: with the default 64 KiB, the archive API took 200 MiB of random bytes in 1.2-2.3 s against 0.5-0.6 s.
      await time('upload', () => started.putArchive(createReadStream(job.files.inputTar, { highWaterMark: MiB }), WORKSPACE_DIR, signal));
    }
    const resume = job.resume ?? null;
    if (resume) await time('session', () => restoreSession(started, job.files.parentSession, signal));
    const network: PhaseNetworkState = { sandbox: started, egress: egress ?? null, joined: false };
    if (environment.setup.length) {
      await time('setup', async () => {
        const env = await enterPhase(network, environment.setupNetwork, signal);
        // Read here, at the last moment: the values are in no plan, spec or log line.
        const secrets = environment.setupSecretEnv.length ? (deps.secrets?.(environment.setupSecretEnv) ?? {}) : {};
        const spec = { commands: environment.setup, timeoutMs: environment.setupTimeoutS * 1000, env, secrets, maxLineBytes: config.limits.eventLineMaxKb * 1024 };
        await runSetup(started, spec, job.events, signal, log);
      });
    }
    const agentEnv = await enterPhase(network, environment.agentNetwork, signal);
    // After the setup, which may fill /tmp: read from the run's directory, so a run queued again after a restart still has them.
    const imageNames = await runImages(job.files.imagesDir);
    const images = imageNames.length ? await time('images', () => putImages(started, job.files.imagesDir, imageNames, signal)) : [];
    const outputSchema = job.outputSchema ?? null;

    // Not a phase: from the run's acceptance to Codex's start, queue wait included (the pool's target).
    timings.to_codex = Date.now() - run.createdAt.getTime();
    exitCode = await time('codex', () =>
      codex.run(
        started,
        {
          argv: [CODEX_LAUNCHER, ...buildCodexArgv({ outputSchemaFile: outputSchema ? CODEX_OUTPUT_SCHEMA_FILE : undefined, images, resumeThreadId: resume?.threadId })],
          env: [
            // The launcher writes it as Codex's config.toml: one exec where there were two.
            `${CODEX_CONFIG_ENV}=${buildCodexConfigToml({ model: run.model, provider: opened.codex })}`,
            // A sandbox started just now may not have its relay listening yet: the launcher waits for it.
            ...(opened.gateway ? [`${CODEX_RELAY_PORT_ENV}=${SANDBOX_GATEWAY_PORT}`] : []),
            ...(outputSchema ? outputSchemaEnv(outputSchema) : []),
            // The agent phase's proxy variables, when its policy is "allowlist".
            ...agentEnv,
            // Added here, at the last moment, so the key is in no spec or log line.
            ...opened.codexEnv(),
          ],
          // On stdin, not in the argv: an argv is visible in the host's `ps` and in the exec's inspect.
          prompt: job.prompt,
        },
        signal,
      ),
    );
    await started.freeze();

    // Codex's own exit code says nothing of why it was killed: the sandbox's state does.
    if (exitCode !== 0) {
      // Killed by a signal: the sandbox may be stopping under it, and the engine may take a moment
      // to say so (the relay's death kills every process of the sandbox before dockerd has noticed).
      const stopped = await started.stopReason(exitCode > 128 ? SETTLE_MS : 0).catch(() => null);
      if (stopped) throw stopped;
    }
    const outOfMemory = exitCode !== 0 && (await started.ranOutOfMemory().catch(() => false)) ? job.limits.memoryMb : null;
    const baseline = await time('baseline', () => baselineWork);
    const collected = await time('collect', () =>
      collectArtifacts(started, baseline, job.files, collectLimits(job.limits.workspaceMb, config.limits.collectTimeoutS), signal, log, sessionToKeep()),
    );
    result = await withOutputOffThread({
      ...codexResult(exitCode, turnOutcome(), codex.stderrText(), outOfMemory, opened.fault()),
      threadId: codex.outcome.threadId,
      hasSession: collected.hasSession,
      changes: collected.changes,
      providerUsage: null,
      hasDiff: collected.hasDiff,
      hasWorkspace: collected.hasWorkspace,
      leftOut: collected.leftOut,
      artifactProblem: collected.problem,
    }, outputSchema);
  } catch (err) {
    if (signal.aborted) {
      const stop = signal.reason instanceof RunStop ? signal.reason : new RunStop('cancelled', { code: 'cancelled', message: 'run cancelled' });
      result = ended(stop.status, stop.error, exitCode, turnOutcome());
      // A stopped run keeps what its sandbox holds, read under a deadline of its own; not at shutdown,
      // which must not wait for it.
      if (sandbox && stop.error.code !== 'shutdown') {
        const partial = await time('collect', () => collectPartial(sandbox!, baselineWork, job.files, collectLimits(job.limits.workspaceMb, config.limits.partialCollectTimeoutS), sessionToKeep(), log));
        if (partial) Object.assign(result, partial);
      }
    } else {
      // A helper that fails while the sandbox goes down says less than the sandbox's own state.
      const stopped = err instanceof SandboxError && err.code === 'sandbox_error' && sandbox ? await sandbox.stopReason(SETTLE_MS).catch(() => null) : null;
      const failure = failureOf(stopped ?? err);
      if (failure.logAs) log.error({ err }, failure.logAs);
      result = ended('failed', failure.error, exitCode, turnOutcome());
    }
  } finally {
    // The token dies with the run's result; what the sandbox holds is removed after it is answered.
    await egress?.close().catch((err) => log.error({ err }, 'could not close the run\'s egress proxy'));
    log.debug('closing the provider access');
    await access?.close().catch((err) => log.error({ err }, 'could not close the run\'s provider access'));
    baselineStop.abort();
    released = release();
  }
  result.providerUsage = access?.usage() ?? null;
  return { result, released };

  async function release(): Promise<void> {
    await assigned;
    if (sandbox) {
      await time('remove', () => beforeAbort(sandbox!.remove(), AbortSignal.timeout(REMOVE_WAIT_MS))).catch((err) =>
        log.error({ err }, 'could not remove the sandbox'),
      );
    }
    log.debug('removing the baseline');
    await baselineWork.then(
      (baseline) => baseline.dispose(),
      () => rm(job.files.baselineDir, { recursive: true, force: true }),
    ).catch((err) => log.error({ err }, 'could not remove the baseline'));
    log.info({ status: result?.status, exitCode: result?.exitCode, error: result?.error?.code, providerUsage: result?.providerUsage, timingsMs: timings }, 'run ended');
  }
}

/** `work`, or the signal's reason once it aborts first (the work itself goes on). */
function beforeAbort<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  return Promise.race([work, new Promise<never>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true }))]);
}

function collectLimits(workspaceMb: number, timeoutS: number): CollectLimits {
  return {
    maxBytes: workspaceMb * MiB,
    maxPatchBytes: PATCH_BYTES_PER_TREE_BYTE * workspaceMb * MiB,
    timeoutMs: timeoutS * 1000,
  };
}

/** What a stopped run's sandbox holds, frozen; null when it cannot be read within the deadline. */
async function collectPartial(
  sandbox: Sandbox,
  baselineWork: Promise<BaselineIndex>,
  files: RunFiles,
  limits: CollectLimits,
  session: SessionToKeep | null,
  log: Logger,
): Promise<Partial<RunResult> | null> {
  const deadline = AbortSignal.timeout(limits.timeoutMs);
  const beforeDeadline = <T>(work: Promise<T>) => beforeAbort(work, deadline);
  try {
    await beforeDeadline(sandbox.freeze());
    const baseline = await beforeDeadline(baselineWork);
    // A stopped run can be followed up too ("go on"), from what it had done.
    const collected = await collectArtifacts(sandbox, baseline, files, limits, deadline, log, session);
    const stopped = 'the run was stopped before it ended: its diff and workspace are what the sandbox held then';
    return {
      changes: collected.changes,
      hasDiff: collected.hasDiff,
      hasWorkspace: collected.hasWorkspace,
      leftOut: collected.leftOut,
      artifactProblem: collected.problem ? `${stopped}; ${collected.problem}` : stopped,
      hasSession: collected.hasSession,
    };
  } catch (err) {
    log.warn({ err }, "could not collect a stopped run's partial diff and workspace");
    return null;
  }
}
