import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { ReservedSocketDir } from '../gateway/gateway-server.js';
import { PeriodicTask } from '../scheduling/periodic-task.js';
import type { Sandbox, SandboxDriver, SandboxRequest } from './driver.js';
import { planPool } from './pool-plan.js';

/** What makes two sandboxes interchangeable: everything of a request but whose it is. */
export type SandboxShape = Pick<SandboxRequest, 'image' | 'runtime' | 'limits' | 'ids' | 'network' | 'egressProxy'>;

/** The pool's label prefix: a pooled sandbox's run id until a run claims it. */
export const POOL_ID_PREFIX = 'pool_';

export interface WarmPoolOptions {
  /** Sandboxes kept ready; 0 turns the pool off. */
  size: number;
  /** Below this much available host memory the pool holds nothing. */
  minAvailableMb: number;
  maxIdleS: number;
  refillIntervalMs: number;
  /** How long a claimed sandbox may live: the longest run's deadlines, for its expiry label. */
  maxRunLifetimeS: number;
}

export interface WarmPoolDeps {
  driver: Pick<SandboxDriver, 'start'>;
  sockets: { reserve(): Promise<ReservedSocketDir> };
  shape: SandboxShape;
  options: WarmPoolOptions;
  log: Logger;
  /** The host's available memory in MB (MemAvailable); read from /proc/meminfo by default. */
  availableMemoryMb?: () => Promise<number>;
}

/** A sandbox made ahead and handed to one run, with the socket directory it mounts. */
export interface ClaimedSandbox {
  sandbox: Sandbox;
  socketDir: ReservedSocketDir;
}

interface Member {
  id: string;
  sandbox: Sandbox;
  socketDir: ReservedSocketDir;
  readyAt: number;
}

/**
 * Started, hardened sandboxes waiting for runs, each used by one run and then removed, never given
 * back. A waiting sandbox holds nothing of any run: the run's token, Codex's config and the
 * workspace go in after the claim. The pool refills in the background and gives its sandboxes back
 * while the host is short of memory.
 */
export class WarmPool {
  private readonly idle: Member[] = [];
  /** Every sandbox the pool made and not yet removed, claimed or not, by its label id. */
  private readonly owned = new Set<string>();
  private starting = 0;
  private closed = false;
  private failing = false;
  private readonly task: PeriodicTask<void>;
  private readonly shapeKey: string;
  private readonly removals = new Set<Promise<void>>();

  constructor(private readonly deps: WarmPoolDeps) {
    this.shapeKey = shapeKey(deps.shape);
    this.task = new PeriodicTask(deps.options.refillIntervalMs, () => this.pass());
  }

  start(): void {
    if (this.deps.options.size === 0) return;
    this.task.start();
    void this.task.runOnce();
  }

  /**
   * A ready sandbox of `shape`, now the caller's to remove; null when none waits. One that stopped
   * while it waited (the engine restarted, someone removed it) is dropped for the next.
   */
  async claim(shape: SandboxShape): Promise<ClaimedSandbox | null> {
    if (this.closed || shapeKey(shape) !== this.shapeKey) return null;
    let member: Member | undefined;
    while ((member = this.idle.shift())) {
      void this.task.runOnce();
      const stopped = await stopReasonOf(member);
      if (!stopped) return this.handOut(member);
      this.dropStopped(member, stopped);
    }
    return null;
  }

  private handOut(member: Member): ClaimedSandbox {
    const removed = () => this.owned.delete(member.id);
    const sandbox = member.sandbox;
    const claimed: Sandbox = {
      get id() {
        return sandbox.id;
      },
      putArchive: (...args) => sandbox.putArchive(...args),
      getArchive: (...args) => sandbox.getArchive(...args),
      readWorkspaceWithin: (...args) => sandbox.readWorkspaceWithin(...args),
      exec: (...args) => sandbox.exec(...args),
      runMain: (...args) => sandbox.runMain(...args),
      freeze: () => sandbox.freeze(),
      stopReason: (...args) => sandbox.stopReason(...args),
      ranOutOfMemory: () => sandbox.ranOutOfMemory(),
      joinNetwork: (...args) => sandbox.joinNetwork(...args),
      leaveNetwork: (...args) => sandbox.leaveNetwork(...args),
      remove: () => sandbox.remove().finally(() => member.socketDir.release().finally(removed)),
      assign: (runId) => sandbox.assign(runId),
      [Symbol.asyncDispose]: () => claimed.remove(),
    };
    return { sandbox: claimed, socketDir: member.socketDir };
  }

  /** Whether a sandbox labelled with this run id is the pool's (waiting, or claimed and not yet removed). */
  owns(labelRunId: string): boolean {
    return this.owned.has(labelRunId);
  }

  /** How many sandboxes wait for a run now. */
  get ready(): number {
    return this.idle.length;
  }

  /** Stops refilling and removes every sandbox still waiting; claimed ones are their runs' to remove. */
  async close(): Promise<void> {
    this.closed = true;
    await this.task.stop();
    for (const member of this.idle.splice(0)) this.retire(member);
    await Promise.all(this.removals);
  }

  private async pass(): Promise<void> {
    if (this.closed) return;
    const { options } = this.deps;
    const availableMb = await (this.deps.availableMemoryMb ?? hostAvailableMemoryMb)().catch(() => Number.POSITIVE_INFINITY);
    // One that stopped while it waited (removed from outside, the engine restarted) is replaced now,
    // not met by a run.
    const waiting = [...this.idle];
    const stopped = await Promise.all(waiting.map(stopReasonOf));
    for (const [i, reason] of stopped.entries()) {
      const at = this.idle.indexOf(waiting[i]!);
      // Claimed meanwhile: its run meets the stop itself.
      if (!reason || at < 0) continue;
      this.idle.splice(at, 1);
      this.dropStopped(waiting[i]!, reason);
    }
    const now = Date.now();
    const plan = planPool({
      idle: this.idle.map((m) => ({ id: m.id, idleMs: now - m.readyAt })),
      starting: this.starting,
      size: options.size,
      availableMb,
      minAvailableMb: options.minAvailableMb,
      maxIdleMs: options.maxIdleS * 1000,
      maxStarting: 2,
    });
    for (const id of plan.retire) {
      const at = this.idle.findIndex((m) => m.id === id);
      if (at >= 0) this.retire(this.idle.splice(at, 1)[0]!);
    }
    if (plan.retire.length && availableMb < options.minAvailableMb) {
      this.deps.log.warn({ availableMb, minAvailableMb: options.minAvailableMb }, 'the host is short of memory: the warm pool gave its sandboxes back');
    }
    await Promise.all(Array.from({ length: plan.start }, () => this.add()));
  }

  private async add(): Promise<void> {
    const id = `${POOL_ID_PREFIX}${randomBytes(9).toString('base64url').replace(/[^A-Za-z0-9]/g, '0')}`;
    this.starting++;
    this.owned.add(id);
    let socketDir: ReservedSocketDir | undefined;
    try {
      socketDir = await this.deps.sockets.reserve();
      const sandbox = await this.deps.driver.start({
        ...this.deps.shape,
        runId: id,
        tenant: '',
        gateway: { socketDir: socketDir.dir, relativeDir: socketDir.subdir },
        expiresAt: new Date(Date.now() + (this.deps.options.maxIdleS + this.deps.options.maxRunLifetimeS) * 1000),
      });
      const member = { id, sandbox, socketDir, readyAt: Date.now() };
      if (this.closed) this.retire(member);
      else this.idle.push(member);
      if (this.failing) this.deps.log.info('the warm pool starts sandboxes again');
      this.failing = false;
    } catch (err) {
      this.owned.delete(id);
      await socketDir?.release().catch(() => {});
      // Once per streak: an engine that is away fails every pass until it is back.
      if (!this.failing) this.deps.log.warn({ err }, 'the warm pool could not start a sandbox');
      this.failing = true;
    } finally {
      this.starting--;
    }
  }

  private dropStopped(member: Member, reason: string): void {
    this.deps.log.warn({ containerId: member.sandbox.id, reason }, 'a pooled sandbox stopped while it waited');
    this.retire(member);
  }

  private retire(member: Member): void {
    const removal = member.sandbox
      .remove()
      .catch((err) => this.deps.log.error({ err, containerId: member.sandbox.id }, 'could not remove a pooled sandbox'))
      .finally(() => member.socketDir.release().catch(() => {}))
      .finally(() => {
        this.owned.delete(member.id);
        this.removals.delete(removal);
      });
    this.removals.add(removal);
  }
}

/** Why a waiting sandbox no longer runs, or null while it does; a sandbox the engine cannot say of counts as stopped. */
function stopReasonOf(member: Member): Promise<string | null> {
  return member.sandbox.stopReason().then((reason) => reason?.message ?? null, (err: Error) => err.message);
}

/** Equal for two shapes exactly when a sandbox of one may serve the other. */
export function shapeKey(shape: SandboxShape): string {
  const { image, runtime, limits, ids, network } = shape;
  return JSON.stringify([image, runtime, network, Boolean(shape.egressProxy), ids.uid, ids.gid, limits.memoryMb, limits.cpus, limits.pidsLimit, limits.workspaceMb, limits.tmpMb, limits.homeMb]);
}

/** MemAvailable from /proc/meminfo, in MB. */
export async function hostAvailableMemoryMb(): Promise<number> {
  const meminfo = await readFile('/proc/meminfo', 'utf8');
  const kb = /^MemAvailable:\s+(\d+) kB$/m.exec(meminfo)?.[1];
  if (!kb) throw new Error('no MemAvailable in /proc/meminfo');
  return Number(kb) / 1024;
}
