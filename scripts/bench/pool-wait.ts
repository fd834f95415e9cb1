// Waits for a server's warm pool to hold its size again, read from the engine (the pool's sandboxes
// carry a pool id as their run-id label and their pool name): a bench or a soak counts from a settled pool.
import { setTimeout as sleep } from 'node:timers/promises';
import type Dockerode from 'dockerode';
import { INSTANCE_LABEL, RUN_ID_LABEL } from '../../server/sandbox/container-spec.js';
import { POOL_ID_PREFIX } from '../../server/sandbox/warm-pool.js';

/** True once `size` pooled sandboxes of `instance` run; false if that took longer than `timeoutMs`. */
export async function untilPoolFull(docker: Dockerode, instance: string, size: number, timeoutMs = 20_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const running = await docker.listContainers({ filters: { label: [`${INSTANCE_LABEL}=${instance}`], status: ['running'] } });
    // Still under its pool name: a claimed one takes its run's name.
    const waiting = running.filter((c) => c.Labels[RUN_ID_LABEL]?.startsWith(POOL_ID_PREFIX) && c.Names.some((n) => n.startsWith(`/codex-runner-${POOL_ID_PREFIX}`)));
    if (waiting.length >= size) return true;
    if (Date.now() > deadline) return false;
    await sleep(50);
  }
}
