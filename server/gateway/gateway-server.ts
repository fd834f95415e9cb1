import { chmod, mkdir, rm } from 'node:fs/promises';
import type { Server } from 'node:http';
import path from 'node:path';
import { createAdaptorServer } from '@hono/node-server';
import { GATEWAY_SOCKET_NAME } from '../sandbox/container-spec.js';

export interface RunningGateway extends AsyncDisposable {
  socketPath: string;
  close(): Promise<void>;
}

/** Serves the gateway app on `<socketDir>/gateway.sock`, connectable by the sandbox user. */
export async function listenGateway(app: { fetch: (request: Request) => Response | Promise<Response> }, socketDir: string): Promise<RunningGateway> {
  await mkdir(socketDir, { recursive: true });
  await chmod(socketDir, 0o755);
  const socketPath = path.join(socketDir, GATEWAY_SOCKET_NAME);
  await rm(socketPath, { force: true });
  const server = createAdaptorServer({ fetch: app.fetch }) as Server;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => resolve());
  });
  // The sandbox runs as uid 1000 while the server may run as anyone; the run token is the access check.
  await chmod(socketPath, 0o666);
  let closing: Promise<void> | null = null;
  const close = () =>
    (closing ??= new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }).then(() => rm(socketPath, { force: true })));
  return { socketPath, close, [Symbol.asyncDispose]: close };
}
