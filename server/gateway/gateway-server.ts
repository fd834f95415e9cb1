import { chmod, chown, mkdir, rm } from 'node:fs/promises';
import type { Server } from 'node:http';
import path from 'node:path';
import { createAdaptorServer } from '@hono/node-server';
import { GATEWAY_SOCKET_NAME } from '../sandbox/container-spec.js';

export interface RunningGateway extends AsyncDisposable {
  socketPath: string;
  /** False when the socket could not be given to the sandboxes' group alone (the server is not root). */
  restricted: boolean;
  close(): Promise<void>;
}

/**
 * Serves the gateway app on `<socketDir>/gateway.sock`, connectable by the sandboxes' group only
 * (`sandboxGid`): no host user can reach it. A server that may not give files to that group (not
 * root) falls back to a socket anyone on the host may connect to, the run token being the check.
 */
export async function listenGateway(
  app: { fetch: (request: Request) => Response | Promise<Response> },
  socketDir: string,
  sandboxGid: number,
): Promise<RunningGateway> {
  await mkdir(socketDir, { recursive: true });
  const restricted = await chown(socketDir, -1, sandboxGid).then(() => true, () => false);
  await chmod(socketDir, restricted ? 0o710 : 0o755);
  const socketPath = path.join(socketDir, GATEWAY_SOCKET_NAME);
  await rm(socketPath, { force: true });
  const server = createAdaptorServer({ fetch: app.fetch }) as Server;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => resolve());
  });
  if (restricted) await chown(socketPath, -1, sandboxGid);
  await chmod(socketPath, restricted ? 0o660 : 0o666);
  let closing: Promise<void> | null = null;
  const close = () =>
    (closing ??= new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }).then(() => rm(socketPath, { force: true })));
  return { socketPath, restricted, close, [Symbol.asyncDispose]: close };
}
