// A server's sandboxes as the engine lists them, the warm pool's waiting ones apart (they carry a
// pool id as their run-id label and their pool name until a run claims one): a bench or a soak
// counts from a settled pool and never takes a waiting sandbox for a leak.
import { setTimeout as sleep } from 'node:timers/promises';
import type Dockerode from 'dockerode';
import { INSTANCE_LABEL, RUN_ID_LABEL } from '../../server/sandbox/container-spec.js';
import { POOL_ID_PREFIX } from '../../server/sandbox/warm-pool.js';

export interface Sandboxes {
  /** The pool's sandboxes waiting for a run: running, under their pool name. */
  waiting: string[];
  /** Every other container carrying the labels, a claimed pool sandbox (renamed after its run) among them. */
  containers: string[];
  /** Every volume carrying the labels but the waiting sandboxes' own. */
  volumes: string[];
}

/** The containers and volumes carrying all these labels (`key` or `key=value`), the waiting pool sandboxes apart. */
export async function sandboxesOf(docker: Dockerode, labels: string[]): Promise<Sandboxes> {
  const filters = { label: labels };
  const all = await docker.listContainers({ all: true, filters });
  const isWaiting = (c: Dockerode.ContainerInfo) =>
    c.State === 'running' && Boolean(c.Labels[RUN_ID_LABEL]?.startsWith(POOL_ID_PREFIX)) && c.Names.some((n) => n.startsWith(`/codex-runner-${POOL_ID_PREFIX}`));
  const waiting = all.filter(isWaiting);
  const waitingIds = new Set(waiting.map((c) => c.Labels[RUN_ID_LABEL]));
  const volumes = ((await docker.listVolumes({ filters })).Volumes ?? []).filter((v) => !waitingIds.has(v.Labels?.[RUN_ID_LABEL]));
  const name = (c: Dockerode.ContainerInfo) => c.Names[0] ?? c.Id;
  return { waiting: waiting.map(name), containers: all.filter((c) => !isWaiting(c)).map(name), volumes: volumes.map((v) => v.Name) };
}

/** True once `size` pooled sandboxes of `instance` wait for a run; false if that took longer than `timeoutMs`. */
export async function untilPoolFull(docker: Dockerode, instance: string, size: number, timeoutMs = 20_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if ((await sandboxesOf(docker, [`${INSTANCE_LABEL}=${instance}`])).waiting.length >= size) return true;
    if (Date.now() > deadline) return false;
    await sleep(50);
  }
}
