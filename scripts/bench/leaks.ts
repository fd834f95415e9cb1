// What a server process holds, and which sandboxes are still around.
import type Dockerode from 'dockerode';
import { INSTANCE_LABEL, RUN_ID_LABEL } from '../../server/sandbox/container-spec.js';
import { sandboxesOf } from './pool-wait.js';
import { countFds, readRss } from './proc.js';
import type { ServerChild } from './server-child.js';

export interface Holdings {
  rss: number;
  heapUsed: number;
  fds: number;
}

export async function holdings(server: ServerChild): Promise<Holdings> {
  const { heapUsed } = await server.memoryAfterGc();
  const { rss } = await readRss(server.pid);
  return { rss, heapUsed, fds: await countFds(server.pid) };
}

/** Containers and volumes carrying all these labels (`key` or `key=value`) but the warm pool's waiting ones, which its shutdown removes. */
export async function leftoverSandboxes(docker: Dockerode, labels: string[]): Promise<{ containers: string[]; volumes: string[] }> {
  const { containers, volumes } = await sandboxesOf(docker, labels);
  return { containers, volumes };
}

/** A run's sandbox is removed just after its answer: this long is given to the last one's removal. */
const REMOVAL_WAIT_MS = 15_000;

/** Fails the bench if a sandbox carrying these labels is left. */
export async function assertNoLeftovers(docker: Dockerode, when: string, labels: string[]): Promise<void> {
  const deadline = Date.now() + REMOVAL_WAIT_MS;
  let left = await leftoverSandboxes(docker, labels);
  while ((left.containers.length || left.volumes.length) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    left = await leftoverSandboxes(docker, labels);
  }
  if (left.containers.length || left.volumes.length) {
    throw new Error(`${when}: sandboxes labelled ${labels.join(', ')} remain: ${JSON.stringify(left)}`);
  }
}

/** The labels of this server instance's run sandboxes (other servers may share the Docker engine). */
export const runSandboxLabels = (instance: string) => [RUN_ID_LABEL, `${INSTANCE_LABEL}=${instance}`];
