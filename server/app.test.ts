import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { createApp } from './app.js';
import { parseConfig } from './config/config.js';
import { sha256Hex, TokenAuthenticator, defaultTenant } from './http/auth.js';
import { FileRunArtifacts } from './runs/run-artifacts.js';
import { FairQueue } from './runs/fair-queue.js';
import { planRun } from './runs/run-plan.js';
import { MemoryRunStore } from './runs/run-store.js';
import { RunService } from './runs/run-service.js';
import type { SandboxDriver } from './sandbox/driver.js';
import { noTelemetry } from './telemetry/telemetry.js';

function fakeDriver(state: { reachable: boolean; image: boolean }): SandboxDriver {
  return {
    ping: async () => {
      if (!state.reachable) throw new Error('connect ENOENT /var/run/docker.sock');
    },
    hasImage: async () => state.image,
    start: async () => {
      throw new Error('not in unit tests');
    },
    sweep: async () => ({ containers: 0, volumes: 0 }),
    sweepExpired: async () => ({ containers: 0, volumes: 0 }),
  };
}

function appWith(
  state = { reachable: true, image: true },
  providerProblems: Record<string, string> = {},
  admission = new FairQueue({ maxConcurrentRuns: 1, maxQueuedRuns: 1 }, () => ({ maxConcurrentRuns: 1, maxQueuedRuns: 1, weight: 1 })),
) {
  const config = parseConfig({ server: { data_dir: '/nonexistent-unit' } });
  const log = pino({ level: 'silent' });
  const driver = fakeDriver(state);
  const service = new RunService({
    executor: { driver, access: { open: async () => { throw new Error('not in unit tests'); }, usesGateway: () => true }, config },
    plan: (tenant, options) => planRun({ ...config, providerProblems }, tenant, options),
    admission,
    store: new MemoryRunStore(),
    artifacts: new FileRunArtifacts(config.server.dataDir),
    telemetry: noTelemetry,
    limits: config.limits,
    log,
  });
  const auth = new TokenAuthenticator([{ name: 'ci', tokenSha256: sha256Hex('secret') }]);
  return createApp({ config, service, driver, auth, log, providerProblems });
}

describe('GET /readyz', () => {
  it('is 200 when Docker answers and the image is there', async () => {
    const res = await appWith().request('/readyz');
    expect(res.status).toBe(200);
  });

  it('is 503 naming the problem when the image is missing, Docker is down or a key is unset', async () => {
    const noImage = await appWith({ reachable: true, image: false }).request('/readyz');
    expect(noImage.status).toBe(503);
    expect(((await noImage.json()) as any).problems[0]).toMatch(/sandbox image codex-runner-sandbox:latest is missing/);
    const down = await appWith({ reachable: false, image: false }).request('/readyz');
    expect(((await down.json()) as any).problems[0]).toMatch(/docker is not reachable: connect ENOENT/);
    const noKey = await appWith(undefined, { openai: 'environment variable OPENAI_API_KEY is not set' }).request('/readyz');
    expect(((await noKey.json()) as any).problems).toEqual(['provider openai: environment variable OPENAI_API_KEY is not set']);
  });
});

describe('authentication', () => {
  it('answers 401 in the error envelope with WWW-Authenticate, and lets a right token through to the route', async () => {
    const app = appWith();
    const res = await app.request('/v1/runs/run_x');
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Bearer');
    expect(await res.json()).toMatchObject({ error: { code: 'unauthorized' } });
    const ok = await app.request('/v1/runs/run_x', { headers: { authorization: 'Bearer secret' } });
    expect(ok.status).toBe(404);
  });

  it('makes a token when none is configured, and takes CODEX_RUNNER_TOKEN when set', () => {
    const made = defaultTenant({});
    expect(made.generatedToken).toMatch(/^cr_/);
    expect(made.tenant.tokenSha256).toBe(sha256Hex(made.generatedToken!));
    const fromEnv = defaultTenant({ CODEX_RUNNER_TOKEN: 'mine' });
    expect(fromEnv.generatedToken).toBeUndefined();
    expect(new TokenAuthenticator([fromEnv.tenant]).tenantFor('mine')).toBe('default');
    expect(new TokenAuthenticator([fromEnv.tenant]).tenantFor('other')).toBeUndefined();
  });
});

describe('a full queue', () => {
  it('answers 429 queue_full with Retry-After, before the body is read and in create()', async () => {
    const admission = new FairQueue({ maxConcurrentRuns: 1, maxQueuedRuns: 0 }, () => ({ maxConcurrentRuns: 1, maxQueuedRuns: 0, weight: 1 }));
    admission.submit('ci', 'run_busy', () => new Promise(() => {}));
    const app = appWith(undefined, undefined, admission);
    const auth = { authorization: 'Bearer secret' };
    const json = await app.request('/v1/runs', { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ prompt: 'x' }) });
    expect(json.status).toBe(429);
    expect(json.headers.get('retry-after')).toBe('60');
    expect(await json.json()).toMatchObject({ error: { code: 'queue_full', message: expect.stringMatching(/too many runs are waiting.*retry later/) } });
    const form = new FormData();
    form.set('prompt', 'x');
    form.set('workspace', new Blob([new Uint8Array(1024)]), 'w.tar');
    const multipart = await app.request('/v1/runs', { method: 'POST', headers: auth, body: form });
    expect(multipart.status).toBe(429);
    expect(multipart.headers.get('retry-after')).toBe('60');
  });
});
