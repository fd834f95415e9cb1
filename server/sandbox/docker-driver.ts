import { randomBytes } from 'node:crypto';
import { Agent } from 'node:http';
import { PassThrough, type Duplex, type Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import Dockerode from 'dockerode';
import type { Logger } from 'pino';
import { buildSandboxSpec, EXPIRES_LABEL, INSTANCE_LABEL, RUN_ID_LABEL, sandboxName, type DockerPlacement, type SandboxSpec } from './container-spec.js';
import { demuxDockerStream } from './demux.js';
import { COLLECT_DIR, SandboxError, SandboxTreeError, type BoundedTree, type ExecOptions, type Sandbox, type SandboxDriver, type SandboxRequest, type SweepResult } from './driver.js';
import { mainMarker, mainRequest, parseMainReport, parseTarReport, RELAY_ENDED_EXIT_CODE, type MainReport } from './main-request.js';
import { MarkerCut } from './marker-cut.js';
import { TreeHold } from './tree-hold.js';
import { readWorkspaceWithin } from './workspace-reader.js';

interface DockerErrorLike {
  statusCode?: number;
  message: string;
}

function statusOf(err: unknown): number | undefined {
  return (err as DockerErrorLike)?.statusCode;
}

/**
 * Why the engine refuses a new connection now (its message), or null when it answers. A stopping
 * dockerd closes its listener first and stops its containers after: requests on a kept-alive
 * connection are still answered meanwhile, so only a fresh connection tells.
 */
export type EngineProbe = () => Promise<string | null>;

const PROBE_TIMEOUT_MS = 3_000;

/** Sandboxes as containers of one Docker engine, with a tmpfs volume for the workspace. */
export class DockerSandboxDriver implements SandboxDriver {
  constructor(
    private readonly docker: Dockerode,
    private readonly log: Logger,
    private readonly placement: DockerPlacement,
    private readonly probe: EngineProbe = async () => null,
  ) {}

  /** A driver on the engine at `socketPath` (dockerode's default when unset). */
  static connect(socketPath: string | undefined, log: Logger, placement: DockerPlacement): DockerSandboxDriver {
    const options = (extra: Dockerode.DockerOptions = {}) => new Dockerode(socketPath ? { socketPath, ...extra } : extra);
    // Its own agent without keep-alive: each probe opens a new connection.
    const fresh = options({ agent: new Agent({ keepAlive: false }) } as Dockerode.DockerOptions);
    const probe: EngineProbe = () =>
      (fresh.ping as (opts: object) => Promise<unknown>)({ abortSignal: AbortSignal.timeout(PROBE_TIMEOUT_MS) }).then(
        () => null,
        (err: Error) => err.message,
      );
    return new DockerSandboxDriver(options(), log, placement, probe);
  }

  async ping(signal?: AbortSignal): Promise<void> {
    await (this.docker.ping as (opts: object) => Promise<unknown>)({ abortSignal: signal });
  }

  async hasImage(image: string): Promise<boolean> {
    try {
      await this.docker.getImage(image).inspect();
      return true;
    } catch (err) {
      if (statusOf(err) === 404) return false;
      throw err;
    }
  }

  async start(request: SandboxRequest, signal?: AbortSignal): Promise<Sandbox> {
    const spec = buildSandboxSpec(request, this.placement);
    // No abortSignal on the create calls: an aborted request does not stop dockerd, which goes on to
    // create the container with nobody left to remove it. Each call is short; the signal is
    // checked between them and what exists by then is removed.
    signal?.throwIfAborted();
    const volumes = [spec.volume, spec.codexHomeVolume];
    const made = await Promise.allSettled(volumes.map((v) => this.docker.createVolume(v as Dockerode.VolumeCreateOptions)));
    const failed = made.find((result) => result.status === 'rejected');
    if (failed) {
      await Promise.all(volumes.map((v) => removeVolume(this.docker.getVolume(v.Name!)).catch(() => {})));
      throw failed.reason;
    }
    let container: Dockerode.Container | undefined;
    let sandbox: DockerSandbox | undefined;
    try {
      signal?.throwIfAborted();
      container = await this.docker.createContainer(spec.container as Dockerode.ContainerCreateOptions);
      signal?.throwIfAborted();
      if (request.phaseNetwork) await this.docker.getNetwork(request.phaseNetwork).disconnect({ Container: container.id, Force: true });
      // Attached before the start, as `docker run -i` is: the main process waits on this stdin for its command.
      const attached = (await container.attach({ stream: true, stdin: true, stdout: true, stderr: true, hijack: true })) as unknown as Duplex;
      // Nobody reads it until the run gives the command; a broken connection ends the main process (its stdin ends).
      attached.on('error', () => {});
      sandbox = new DockerSandbox(this.docker, container, spec, this.log, this.probe, attached);
      await container.start();
      signal?.throwIfAborted();
      return sandbox;
    } catch (err) {
      await (sandbox ?? new DockerSandbox(this.docker, container, spec, this.log, this.probe, null)).remove();
      if (signal?.aborted) throw signal.reason;
      throw new SandboxError(`could not start the sandbox: ${(err as Error).message}`, { cause: err });
    }
  }

  async sweep(keepRun: (runId: string) => boolean = () => false): Promise<SweepResult> {
    return this.removeLabelled(`${INSTANCE_LABEL}=${this.placement.instance}`, (labels) => !keepRun(labels[RUN_ID_LABEL] ?? ''));
  }

  async sweepExpired(now: Date): Promise<SweepResult> {
    return this.removeLabelled(EXPIRES_LABEL, (labels) => {
      const expiresAt = Date.parse(labels[EXPIRES_LABEL] ?? '');
      return Number.isFinite(expiresAt) && expiresAt < now.getTime();
    });
  }

  /** Removes the containers, then the volumes, that carry `label` and whose labels `remove` picks. */
  private async removeLabelled(label: string, remove: (labels: Record<string, string>) => boolean): Promise<SweepResult> {
    const filters = { label: [label] };
    const containers = (await this.docker.listContainers({ all: true, filters })).filter((c) => remove(c.Labels ?? {}));
    await Promise.all(containers.map((c) => removeContainer(this.docker.getContainer(c.Id))));
    const volumes = ((await this.docker.listVolumes({ filters })).Volumes ?? []).filter((v) => remove(v.Labels ?? {}));
    await Promise.all(volumes.map((v) => removeVolume(this.docker.getVolume(v.Name))));
    return { containers: containers.length, volumes: volumes.length };
  }
}

class DockerSandbox implements Sandbox {
  private removal: Promise<void> | null = null;
  /** The main process's report once the command has ended; the sandbox runs on, for its files to be read. */
  private mainEnded: MainReport | null = null;
  /** The main process's own tar of COLLECT_DIR, when it follows its report, until it is read. */
  private ownTree: PassThrough | null = null;
  /** The main process's stdio while its tar comes through it. */
  private attachedForTree: Duplex | null = null;
  /** Set once a freeze is under way: a tar the main process makes then would stop half-way. */
  private frozen = false;
  /**
   * Execs started whose process the engine has not yet reported running or exited. Freezing the
   * sandbox while one of them starts deadlocks the engine on cgroup v1: the exec's init is frozen
   * half-joined, and every later kill, unpause or removal of the container waits on it for ever.
   */
  private readonly starting = new Set<Dockerode.Exec>();

  constructor(
    private readonly docker: Dockerode,
    private readonly container: Dockerode.Container | undefined,
    private readonly spec: SandboxSpec,
    private readonly log: Logger,
    private readonly probe: EngineProbe,
    /** The main process's stdio, attached before the start; null once its command is given. */
    private main: Duplex | null,
  ) {}

  get id(): string {
    return this.container?.id ?? '';
  }

  async putArchive(tar: Readable, dir: string, signal?: AbortSignal): Promise<void> {
    try {
      const response: unknown = await this.requireContainer().putArchive(tar, { path: dir });
      // docker-modem may hand back the response stream; drain it so the request completes.
      if (response && typeof (response as Readable).resume === 'function') (response as Readable).resume();
    } catch (err) {
      throw await this.explain(err, signal);
    }
  }

  async getArchive(path: string, signal?: AbortSignal): Promise<Readable> {
    const own = path === COLLECT_DIR ? this.ownTree : null;
    if (own) {
      this.ownTree = null;
      own.once('close', destroyOnAbort(own, signal, true));
      return own;
    }
    try {
      return (await this.requireContainer().getArchive({ path, abortSignal: signal })) as unknown as Readable;
    } catch (err) {
      throw await this.explain(err, signal);
    }
  }

  async readWorkspaceWithin(maxBytes: number, signal?: AbortSignal): Promise<BoundedTree> {
    const { Image: image, Labels: labels = {} } = this.spec.container;
    const runId = labels[RUN_ID_LABEL] ?? this.id.slice(0, 12);
    try {
      return await readWorkspaceWithin(this.docker, { runId, image: image!, volume: this.spec.volume.Name!, labels, maxBytes }, this.log, signal);
    } catch (err) {
      throw await this.explain(err, signal);
    }
  }

  async exec(argv: string[], options: ExecOptions = {}): Promise<number> {
    const { signal } = options;
    signal?.throwIfAborted();
    const container = this.requireContainer();
    const withStdin = options.stdin !== undefined;
    let exec: Dockerode.Exec;
    let stream: Duplex;
    try {
      exec = await container.exec({ Cmd: argv, Env: options.env, AttachStdin: withStdin, AttachStdout: true, AttachStderr: true, Tty: false });
      this.starting.add(exec);
      stream = (await exec.start({ hijack: true, stdin: withStdin })) as unknown as Duplex;
    } catch (err) {
      throw await this.explain(err, signal);
    }
    const stop = new AbortController();
    const keepOnAbort = destroyOnAbort(stream, signal);
    try {
      writeStdin(stream, options.stdin);
      const output = demuxDockerStream(stream, options.stdout, options.stderr);
      const exited = waitForExit(exec, stop.signal).then(async (code) => {
        await options.onExit?.();
        // dockerd closes an exec's streams at most 2 s after the process exited; whatever still
        // holds them open past that gets nothing more through.
        const timer = setTimeout(() => stream.destroy(), OUTPUT_AFTER_EXIT_MS);
        await output.catch(() => {}).finally(() => clearTimeout(timer));
        return code;
      });
      const first = await Promise.race([output.then(() => 'output' as const), exited.then(() => 'exited' as const)]);
      if (first === 'output') {
        stop.abort();
        await exited.catch(() => {});
      }
    } catch (err) {
      signal?.throwIfAborted();
      throw await this.explain(err, signal);
    } finally {
      stop.abort();
      keepOnAbort();
    }
    signal?.throwIfAborted();
    let info: Dockerode.ExecInspectInfo;
    try {
      info = await exec.inspect();
    } catch (err) {
      throw await this.explain(err, signal);
    }
    if (info.Running) {
      // The output ended while the process runs: the connection to the engine broke, not the process.
      throw new SandboxError(`lost the connection to the Docker engine while ${argv[0]} ran`, { code: 'docker_unreachable' });
    }
    if (info.ExitCode === null || info.ExitCode === undefined) {
      throw new SandboxError(`exec ${argv[0]} ended without an exit code`);
    }
    this.starting.delete(exec);
    return info.ExitCode;
  }

  async runMain(argv: string[], options: ExecOptions = {}): Promise<number> {
    const { signal } = options;
    signal?.throwIfAborted();
    const token = randomBytes(16).toString('hex');
    const request = mainRequest(token, argv, options.env ?? []);
    const container = this.requireContainer();
    const stream = this.main;
    this.main = null;
    if (!stream) throw new SandboxError('the sandbox has run its main command already');
    const stop = new AbortController();
    // Asked before the command is given: a sandbox that stops by then is answered at once.
    const stopped = (container.wait({ condition: 'not-running', abortSignal: stop.signal }) as Promise<{ StatusCode: number }>).then((r) => r.StatusCode);
    stopped.catch(() => {}); // settled below either way
    // After the report may come the tree's tar, then its own report.
    const tree = new PassThrough({ highWaterMark: TREE_QUEUE_BYTES });
    const treeHold = new TreeHold(tree, TREE_HOLD_BYTES);
    const treeCut = new MarkerCut(mainMarker(token), treeHold);
    const stdout = new MarkerCut(mainMarker(token), options.stdout, treeCut);
    const stderr = new MarkerCut(mainMarker(token), options.stderr);
    let treeFollows = false;
    const keepOnAbort = destroyOnAbort(stream, signal);
    try {
      stream.write(request);
      writeStdin(stream, options.stdin ?? '');
      const output = demuxDockerStream(stream, stdout, stderr);
      output.catch(() => {});
      // The main process reports once every other process of the sandbox is gone; a sandbox that
      // stops first (its relay ended, or it was killed) says so by its own exit code.
      const first = await Promise.race([
        stdout.report.then((line) => ({ line })),
        stopped.then((code) => ({ code })),
        output.then(() => ({ outputEnded: true as const })),
      ]);
      signal?.throwIfAborted();
      if ('line' in first) {
        const report = parseMainReport(first.line);
        if (!report) throw new SandboxError(`the sandbox's main process reported ${JSON.stringify(first.line)}`);
        // Its stderr's report comes after the command's last words there, on a stream of its own.
        await within(stderr.report.catch(() => {}), OUTPUT_AFTER_EXIT_MS, signal);
        this.mainEnded = report;
        if (report.tarFollows && !this.frozen) {
          treeFollows = true;
          treeHold.stopHolding();
          this.takeOwnTree(stream, tree, treeHold, treeCut);
        }
        await options.onExit?.();
        return report.status;
      }
      const code = 'code' in first ? first.code : await this.stoppedAfterOutput(stopped, argv[0]!, signal);
      await options.onExit?.();
      // Whatever is still in the pipe, up to the stop: every process of the sandbox is gone with it.
      await within(output, OUTPUT_AFTER_EXIT_MS, signal).catch(() => {});
      return code;
    } catch (err) {
      signal?.throwIfAborted();
      throw await this.explain(err, signal);
    } finally {
      stop.abort();
      keepOnAbort();
      if (!treeFollows) {
        // Nothing is to come after the report; the cuts pass on what they held back.
        stream.destroy();
        stdout.release();
        stderr.release();
        tree.destroy();
      }
    }
  }

  /** Keeps the tar that follows the main process's report for the first read of COLLECT_DIR; the stream goes with its end. */
  private takeOwnTree(stream: Duplex, tree: PassThrough, treeHold: TreeHold, treeCut: MarkerCut): void {
    this.ownTree = tree;
    this.attachedForTree = stream;
    const done = (err?: Error) => {
      // The tree ends through its hold: the tar's last bytes may still wait there for the reader.
      if (err) tree.destroy(err);
      else treeHold.end();
      stream.destroy();
      treeCut.release();
      if (this.attachedForTree === stream) this.attachedForTree = null;
    };
    treeCut.report.then(
      (line) => {
        const status = parseTarReport(line);
        done(status === 0 ? undefined : new SandboxTreeError(`the sandbox's own tar of its tree ended with ${status ?? JSON.stringify(line)}`));
      },
      () => done(new SandboxTreeError("the sandbox's own tar of its tree ended early")),
    );
    // A stream that ends or breaks before the tar's report ends it early; a reader that gives up stops it.
    stream.once('close', () => treeCut.release());
    tree.once('close', () => stream.destroy());
  }

  /** The exit code of a sandbox whose main process's output ended without its report: it stopped, or the connection to the engine broke. */
  private async stoppedAfterOutput(stopped: Promise<number>, command: string, signal?: AbortSignal): Promise<number> {
    const code = await within(stopped, OUTPUT_AFTER_EXIT_MS, signal).catch(() => null);
    signal?.throwIfAborted();
    if (code !== null) return code;
    const { State: state } = await this.requireContainer().inspect();
    if (state.Running) throw new SandboxError(`lost the connection to the Docker engine while ${command} ran`, { code: 'docker_unreachable' });
    return state.ExitCode;
  }

  async freeze(): Promise<void> {
    // Its command ended and nothing else is left running: there is nothing to stop.
    if (this.mainEnded?.quiet) return;
    this.frozen = true;
    await this.untilExecsStarted();
    for (let attempt = 1; ; attempt++) {
      try {
        await this.requireContainer().pause();
        return;
      } catch (err) {
        if (statusOf(err) === 409 && /already paused/i.test((err as Error).message)) return;
        // runc gives up when the cgroup does not settle FROZEN at once (processes forking or exiting
        // under load), thaws it and says so; a moment later it usually settles.
        if (attempt < FREEZE_ATTEMPTS && /unable to freeze/i.test((err as Error).message)) {
          this.log.debug({ containerId: this.id, attempt }, 'the sandbox did not freeze at once; trying again');
          await delay(FREEZE_RETRY_MS * attempt);
          continue;
        }
        throw await this.explain(err);
      }
    }
  }

  /** Waits until no exec of ours is still starting; a SandboxError when one is still starting after EXEC_START_WAIT_MS. */
  private async untilExecsStarted(): Promise<void> {
    const deadline = Date.now() + EXEC_START_WAIT_MS;
    for (const exec of this.starting) {
      for (;;) {
        const info = await exec.inspect().catch((err: unknown) => {
          if (statusOf(err) === 404) return null;
          throw err;
        });
        // The engine says Running before the process exists; its Pid comes once the start is done.
        if (!info || info.Pid > 0 || (info.ExitCode !== null && info.ExitCode !== undefined)) break;
        if (Date.now() > deadline) throw new SandboxError('could not freeze the sandbox: a command is still starting in it');
        await delay(EXEC_START_POLL_MS);
      }
      this.starting.delete(exec);
    }
  }

  async stopReason(settleMs = 0): Promise<SandboxError | null> {
    // Its main process reported the command's end: the sandbox runs on, for its files to be read.
    if (this.mainEnded) return null;
    const container = this.requireContainer();
    let state: Dockerode.ContainerInspectInfo['State'];
    try {
      ({ State: state } = await container.inspect());
      if (state.Running && settleMs > 0) {
        const settle = new AbortController();
        await Promise.race([container.wait({ condition: 'not-running', abortSignal: settle.signal }).catch(() => {}), delay(settleMs)]);
        settle.abort();
        ({ State: state } = await container.inspect());
      }
    } catch (err) {
      // Gone with its engine: that is why it failed.
      if (isEngineUnreachable(err)) return unreachable(err);
      throw err;
    }
    if (state.Running) return null;
    // An engine that stops stops its containers too (the main process gets SIGTERM): the run would
    // otherwise blame the sandbox for what the engine did.
    const engineGone = await this.probe();
    if (engineGone) {
      return new SandboxError(`the Docker engine stopped while the run ran, and stopped its sandbox (the engine is unreachable now: ${engineGone})`, {
        code: 'docker_unreachable',
      });
    }
    if (state.ExitCode === RELAY_ENDED_EXIT_CODE) return new SandboxError('the sandbox stopped: its relay to the gateway ended', { code: 'sandbox_stopped' });
    const why = state.OOMKilled ? 'it ran out of memory' : `its main process exited with code ${state.ExitCode}`;
    return new SandboxError(`the sandbox stopped: ${why}`, { code: 'sandbox_stopped' });
  }

  // No abortSignal: like a create, a dropped connect call does not stop dockerd from making it.
  async joinNetwork(signal?: AbortSignal): Promise<void> {
    const network = this.phaseNetwork();
    try {
      await this.docker.getNetwork(network).connect({ Container: this.requireContainer().id });
    } catch (err) {
      throw await this.explain(err, signal);
    }
  }

  async leaveNetwork(signal?: AbortSignal): Promise<void> {
    const network = this.phaseNetwork();
    try {
      await this.docker.getNetwork(network).disconnect({ Container: this.requireContainer().id, Force: true });
    } catch (err) {
      throw await this.explain(err, signal);
    }
  }

  private phaseNetwork(): string {
    const mode = this.spec.container.HostConfig?.NetworkMode;
    if (this.spec.container.NetworkDisabled || !mode || mode === 'none') throw new SandboxError('the sandbox was made without a phase network');
    return mode;
  }

  async ranOutOfMemory(): Promise<boolean> {
    const container = this.requireContainer();
    const info = await container.inspect();
    // OOMKilled is set only when the container's own main process was the victim; the engine's
    // event log has an `oom` event for any process of the container's cgroup (Codex included).
    if (info.State.OOMKilled) return true;
    const since = Math.floor(Date.parse(info.State.StartedAt) / 1000) - 1;
    const events = (await this.docker.getEvents({
      since,
      until: Date.now() / 1000,
      filters: { container: [container.id], event: ['oom'] },
    } as Parameters<Dockerode['getEvents']>[0])) as unknown as Readable;
    const text = (await events.toArray()).map((c: Buffer) => c.toString()).join('');
    return text.split('\n').some((line) => line.includes('"oom"'));
  }

  /** A Docker error as a SandboxError that says what happened to the sandbox. */
  private async explain(err: unknown, signal?: AbortSignal): Promise<unknown> {
    if (signal?.aborted) return signal.reason;
    if (err instanceof SandboxError) return err;
    if (isEngineUnreachable(err)) return unreachable(err);
    const status = statusOf(err);
    if (status === 404) return new SandboxError('the sandbox container was removed from outside the server', { cause: err, code: 'sandbox_gone' });
    // 409, or a 500 from the runtime ("cannot pause a stopped container"): the sandbox's own state says more.
    if (status === 409 || status === 500) {
      const stopped = await this.stopReason().catch(() => null);
      if (stopped) return stopped;
    }
    return new SandboxError(`docker: ${(err as Error).message}`, { cause: err });
  }

  async assign(runId: string): Promise<void> {
    // Docker cannot change a label: the run-id label stays the pool's, the name becomes the run's.
    await this.requireContainer().rename({ name: sandboxName(runId) });
  }

  remove(): Promise<void> {
    this.removal ??= (async () => {
      // Its connection would otherwise stay open with nobody reading it.
      this.main?.destroy();
      this.main = null;
      this.attachedForTree?.destroy();
      this.ownTree?.destroy();
      this.ownTree = null;
      const errors: unknown[] = [];
      if (this.container) await removeContainer(this.container).catch((err) => errors.push(err));
      for (const volume of [this.spec.volume, this.spec.codexHomeVolume]) {
        await removeVolume(this.docker.getVolume(volume.Name!)).catch((err) => errors.push(err));
      }
      for (const err of errors) this.log.error({ err, containerId: this.id }, 'sandbox removal failed');
      if (errors.length) throw new SandboxError(`sandbox removal failed: ${(errors[0] as Error).message}`);
    })();
    return this.removal;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.remove();
  }

  private requireContainer(): Dockerode.Container {
    if (!this.container) throw new SandboxError('sandbox has no container');
    return this.container;
  }
}

async function removeContainer(container: Dockerode.Container): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await container.remove({ force: true, v: true });
      return;
    } catch (err) {
      const status = statusOf(err);
      if (status === 404) return;
      // 409: a removal is already in progress; wait for it rather than report a leak.
      if (status === 409 && attempt < 20) {
        if (/already in progress/i.test((err as Error).message)) {
          await waitGone(container);
          return;
        }
        await delay(100);
        continue;
      }
      throw err;
    }
  }
}

async function waitGone(container: Dockerode.Container): Promise<void> {
  for (let i = 0; i < 100; i++) {
    try {
      await container.inspect();
    } catch (err) {
      if (statusOf(err) === 404) return;
      throw err;
    }
    await delay(100);
  }
  throw new SandboxError(`container ${container.id} is still there after removal`);
}

async function removeVolume(volume: Dockerode.Volume): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await volume.remove();
      return;
    } catch (err) {
      const status = statusOf(err);
      if (status === 404) return;
      // 409: still in use by a container that is being removed.
      if (status === 409 && attempt < 50) {
        await delay(100);
        continue;
      }
      throw err;
    }
  }
}

/**
 * Destroys `stream` when `signal` aborts (at once if it has), with the abort's reason as its error
 * when `withReason` (a reader then sees why); the function returned stops that.
 */
function destroyOnAbort(stream: Duplex | Readable, signal: AbortSignal | undefined, withReason = false): () => void {
  const onAbort = () => stream.destroy(withReason ? (signal!.reason as Error) : undefined);
  if (signal?.aborted) onAbort();
  signal?.addEventListener('abort', onAbort, { once: true });
  return () => signal?.removeEventListener('abort', onAbort);
}

/**
 * Writes `stdin` to a hijacked connection, then half-closes it: Docker then closes the process's
 * stdin. A stream is piped, and half-closes it at its end.
 */
function writeStdin(stream: Duplex, stdin: string | Readable | undefined): void {
  if (typeof stdin === 'string') {
    stream.write(stdin);
    stream.end();
  } else if (stdin) {
    stdin.once('error', (err) => stream.destroy(err));
    stream.once('close', () => stdin.destroy());
    stdin.pipe(stream);
  }
}

/**
 * What the tree's tar may hold while its report on stderr is awaited: that report comes behind the
 * first of the tar on the one attach stream, and must get through (TreeHold). Afterwards the tar
 * queues no more than a socket read or two for its reader.
 */
const TREE_HOLD_BYTES = 4 * 1024 * 1024;
const TREE_QUEUE_BYTES = 64 * 1024;

/** How long an exec's output may go on after its process exited (dockerd's own wait is 2 s). */
const OUTPUT_AFTER_EXIT_MS = 2_500;
/** Tries at freezing a sandbox whose cgroup would not settle, FREEZE_RETRY_MS x attempt apart. */
const FREEZE_ATTEMPTS = 6;
const FREEZE_RETRY_MS = 100;
/** How long a freeze waits for the sandbox's starting execs: the engine starts one in milliseconds. */
const EXEC_START_WAIT_MS = 5_000;
const EXEC_START_POLL_MS = 25;
/** How often a running exec is asked whether its process is still there. */
const EXIT_POLL_MS = 200;

/**
 * Resolves with the exit code once the exec's process has exited, found by polling: its output
 * stream is no sign, since a process it left behind can hold it open. Rejects when `signal` aborts.
 */
async function waitForExit(exec: Dockerode.Exec, signal: AbortSignal): Promise<number> {
  for (;;) {
    await delay(EXIT_POLL_MS, signal);
    const info = await exec.inspect();
    if (!info.Running && info.ExitCode !== null && info.ExitCode !== undefined) return info.ExitCode;
  }
}

function unreachable(err: unknown): SandboxError {
  return new SandboxError(`the Docker engine is unreachable: ${(err as Error).message}`, { cause: err, code: 'docker_unreachable' });
}

function isEngineUnreachable(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ECONNREFUSED' || code === 'ENOENT' || code === 'ECONNRESET' || code === 'EPIPE';
}

function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return sleep(ms, undefined, { signal });
}

/** What `promise` gives, or null once `ms` have passed; rejects when `signal` aborts. */
async function within<T>(promise: Promise<T>, ms: number, signal?: AbortSignal): Promise<T | null> {
  const done = new AbortController();
  try {
    return await Promise.race([promise, sleep(ms, null, { signal: signal ? AbortSignal.any([signal, done.signal]) : done.signal })]);
  } finally {
    done.abort();
  }
}
