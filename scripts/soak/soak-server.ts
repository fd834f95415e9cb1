// A server process with the soak's config and its own stand-in provider, in a temp dir of its own.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startResponsesStandIn, STAND_IN_MODEL } from '../../test/fixtures/responses-stand-in.js';
import { SOAK_SERVER_CONFIG, type SoakTarget } from '../../test/fixtures/soak-mix.js';
import { startServerChild, type ServerChild } from '../bench/server-child.js';

export interface SoakServer extends AsyncDisposable {
  server: ServerChild;
  target: SoakTarget;
  instance: string;
  dataDir: string;
  close(): Promise<void>;
}

export async function startSoakServer(): Promise<SoakServer> {
  const dir = await mkdtemp(path.join(tmpdir(), 'codex-runner-soak-'));
  const instance = `soak-${randomBytes(4).toString('hex')}`;
  const token = `soak-${randomBytes(8).toString('hex')}`;
  const dataDir = path.join(dir, 'data');
  const standIn = await startResponsesStandIn();
  let server: ServerChild | undefined;
  const close = async () => {
    try {
      await server?.close();
    } finally {
      await standIn.close();
      await rm(dir, { recursive: true, force: true });
    }
  };
  try {
    server = await startServerChild(
      {
        ...SOAK_SERVER_CONFIG,
        server: { listen: '127.0.0.1:0', data_dir: dataDir, instance, log_level: 'warn', shutdown_grace_s: 0 },
        defaults: { provider: 'standin', model: STAND_IN_MODEL },
        providers: { standin: { ...SOAK_SERVER_CONFIG.providers.standin, base_url: standIn.url, key_env: 'STANDIN_KEY' } },
      },
      { CODEX_RUNNER_TOKEN: token, STANDIN_KEY: 'sk-soak-stand-in' },
    );
    return { server, target: { url: server.url, token, standIn }, instance, dataDir, close, [Symbol.asyncDispose]: close };
  } catch (err) {
    await close();
    throw err;
  }
}
