// The allow-list from inside a real sandbox: the real container spec (network none, the egress
// relay), real Docker, and the image's own tools as the clients: socat's PROXY address for CONNECT,
// git (libcurl) for http:// through the proxy variables. Every upstream is a stand-in on the host's
// loopback, reached only through the proxy's socket; nothing is aimed at any other address.
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_SANDBOX_IDS } from '../server/domain/sandbox-ids.js';
import { EGRESS_SOCKET_NAME, openEgressProxy, SANDBOX_EGRESS_PORT, SANDBOX_PROXY_ENV, type EgressConnection, type EgressProxy } from '../server/egress/egress-proxy.js';
import { openGatewaySockets, type GatewaySockets, type RunSocket } from '../server/gateway/gateway-server.js';
import { DockerSandboxDriver } from '../server/sandbox/docker-driver.js';
import type { Sandbox } from '../server/sandbox/driver.js';
import { docker, leftovers } from './fixtures/docker.js';
import { startEcho, startHttpUpstream, type EchoServer, type HttpUpstream } from './fixtures/egress-stand-ins.js';
import { until } from './fixtures/until.js';

// The image with the egress relay (sandbox-image/bin/codex-runner-relay); a branch builds its own tag.
const IMAGE = process.env.EGRESS_SANDBOX_IMAGE ?? 'codex-runner-sandbox:latest';
const instance = `egress-test-${randomUUID().slice(0, 8)}`;
const log = pino({ level: 'silent' });
const driver = new DockerSandboxDriver(docker, log, { instance, gatewayVolume: '' });

let dir: string;
let gateway: GatewaySockets;
let runSocket: RunSocket;
let proxy: EgressProxy;
let sandbox: Sandbox | undefined;
let echo: EchoServer;
let unlisted: EchoServer;
let upstream: HttpUpstream;
const records: EgressConnection[] = [];
const gatewayCalls: string[] = [];

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'egress-sandbox-'));
  [echo, unlisted, upstream] = await Promise.all([startEcho(), startEcho(), startHttpUpstream()]);
  gateway = await openGatewaySockets({
    fetch: (req) => {
      gatewayCalls.push(`${req.method} ${new URL(req.url).pathname}`);
      return new Response('gateway here', { status: req.method === 'POST' ? 400 : 200 });
    },
  }, dir, DEFAULT_SANDBOX_IDS.gid, log);
  const runId = `egress_${randomUUID().slice(0, 8)}`;
  runSocket = await gateway.listen(runId);
  proxy = await openEgressProxy({
    socketPath: path.join(runSocket.dir, EGRESS_SOCKET_NAME),
    socketGid: DEFAULT_SANDBOX_IDS.gid,
    rules: [
      { host: '127.0.0.1', port: echo.port },
      { host: '127.0.0.1', port: upstream.port },
      { host: 'loopback.test', port: echo.port },
    ],
    onConnection: (c) => records.push(c),
    resolve: async (host) => (host === 'loopback.test' ? ['127.0.0.1'] : Promise.reject(new Error(`ENOTFOUND ${host}`))),
  });
  sandbox = await driver.start({
    runId,
    tenant: 'test',
    expiresAt: new Date(Date.now() + 600_000),
    image: IMAGE,
    network: 'none',
    runtime: '',
    limits: { memoryMb: 256, cpus: 1, pidsLimit: 64, workspaceMb: 16, tmpMb: 16, homeMb: 16 },
    ids: DEFAULT_SANDBOX_IDS,
    gateway: { socketDir: runSocket.dir, relativeDir: runSocket.subdir },
    egressProxy: true,
  }).catch((err: Error) => {
    throw new Error(`${err.message} (does ${IMAGE} have the egress launcher? Build one with SANDBOX_IMAGE=<tag> npm run sandbox:build and set EGRESS_SANDBOX_IMAGE=<tag>)`);
  });
  // The relays listen a moment after the start; the image must have the launcher at all.
  await until('the egress relay to listen', async () => {
    const { code, out } = await run(`grep -q ":${SANDBOX_EGRESS_PORT.toString(16).toUpperCase().padStart(4, '0')} 00000000:0000 0A" /proc/net/tcp && echo up`);
    return code === 0 && out.trim() === 'up' ? true : undefined;
  }, 10_000);
});

afterAll(async () => {
  await sandbox?.remove();
  await proxy?.close();
  await gateway?.close();
  await Promise.all([echo?.close(), unlisted?.close(), upstream?.close()]);
  await rm(dir, { recursive: true, force: true });
  expect(await leftovers(`codex-runner.instance=${instance}`)).toEqual({ containers: 0, volumes: 0 });
});

/** An exec as the executor makes one in a phase whose policy is "allowlist": with the proxy variables (the container has none). */
async function run(script: string, env: string[] = [...SANDBOX_PROXY_ENV]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const sink = (add: (s: string) => void) => new Writable({ write: (chunk, _enc, done) => (add(String(chunk)), done()) });
  const code = await sandbox!.exec(['bash', '-c', script], { env, stdout: sink((s) => (out += s)), stderr: sink((s) => (err += s)) });
  return { code, out, err };
}

const socatProxy = (host: string, port: number) => `socat -t 2 - PROXY:127.0.0.1:${host}:${port},proxyport=${SANDBOX_EGRESS_PORT}`;
const lastRecord = (match: (c: EgressConnection) => boolean) => until('the egress record', async () => records.findLast(match), 5_000);

describe('a sandbox whose egress is the allow-list proxy', () => {
  it('has no network interface but loopback, and the proxy variables set in an allowlist phase\'s exec', async () => {
    const { out } = await run('ls /sys/class/net; echo "dev=$(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d " " | tr "\\n" " ")"; echo "proxy=$HTTPS_PROXY"');
    expect(out.split('\n').slice(0, -3)).toEqual(['lo']);
    expect(out).toContain('dev=lo \n');
    expect(out).toContain(`proxy=http://127.0.0.1:${SANDBOX_EGRESS_PORT}`);
  });

  it('reaches a listed loopback host:port through CONNECT, and the connection is recorded with its bytes', async () => {
    const { code, out } = await run(`printf 'through the tunnel' | ${socatProxy('127.0.0.1', echo.port)}`);
    expect({ code, out }).toEqual({ code: 0, out: 'through the tunnel' });
    expect(await lastRecord((c) => c.port === echo.port && c.allowed)).toMatchObject({ host: '127.0.0.1', address: '127.0.0.1', bytesUp: 18, bytesDown: 18 });
  });

  it('is refused an unlisted one, which is recorded and never connected to', async () => {
    const { code, err } = await run(`printf x | ${socatProxy('127.0.0.1', unlisted.port)}`);
    expect(code).not.toBe(0);
    expect(err).toContain('Forbidden');
    expect(await lastRecord((c) => c.port === unlisted.port)).toMatchObject({ allowed: false, reason: `port ${unlisted.port} is not allowed for 127.0.0.1` });
    expect(unlisted.accepted).toBe(0);
  });

  it('is refused a listed name that resolves to a refused address', async () => {
    const before = echo.accepted;
    const { code, err } = await run(`printf x | ${socatProxy('loopback.test', echo.port)}`);
    expect(code).not.toBe(0);
    expect(err).toContain('Forbidden');
    expect(await lastRecord((c) => c.host === 'loopback.test')).toMatchObject({ allowed: false, address: '127.0.0.1', reason: 'loopback.test resolves to a refused address: 127.0.0.1 is a loopback address' });
    expect(echo.accepted).toBe(before);
  });

  it('sends a tool\'s plain http:// through the proxy by its variables (git, libcurl)', async () => {
    // NO_PROXY keeps 127.0.0.1 (the gateway relay) direct; the stand-in's address is the host's
    // loopback, reachable only through the proxy, so this one call goes without it.
    await run(`env -u NO_PROXY -u no_proxy git ls-remote http://127.0.0.1:${upstream.port}/repo.git`);
    // The stand-in is no git server; what matters is that git's request reached it, by the proxy.
    expect(upstream.seen.map((s) => s.url)).toContain('/repo.git/info/refs?service=git-upload-pack');
    expect(await lastRecord((c) => c.port === upstream.port)).toMatchObject({ allowed: true, address: '127.0.0.1' });
  });

  it('has no other way out: the stand-in\'s port on the sandbox\'s own loopback is closed', async () => {
    const { code } = await run(`exec 3<>/dev/tcp/127.0.0.1/${echo.port}`);
    expect(code).not.toBe(0);
  });

  it('still reaches its gateway on the other relay', async () => {
    const { out } = await run(`exec 3<>/dev/tcp/127.0.0.1/8089; printf 'GET /v1/models HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n' >&3; cat <&3`);
    expect(out).toContain('gateway here');
  });

  it('leaves real Codex\'s calls to its gateway direct: NO_PROXY keeps the relay off the proxy', async () => {
    const config = ['model = "stand-in-model"', 'model_provider = "gw"', '[model_providers.gw]', 'name = "gw"', 'base_url = "http://127.0.0.1:8089/v1"', 'env_key = "K"', 'wire_api = "responses"', 'request_max_retries = 0', 'stream_max_retries = 0'].join('\n');
    await run(`mkdir -p "$CODEX_HOME" && printf '%s\\n' '${config}' > "$CODEX_HOME/config.toml" && K=k timeout 30 codex exec --skip-git-repo-check hi`);
    expect(gatewayCalls).toContain('POST /v1/responses');
    expect(records.filter((c) => c.port === 8089)).toEqual([]);
  });

  it('refuses everything once the policy is null, as for an agent phase with no egress', async () => {
    proxy.setPolicy(null);
    const { code, err } = await run(`printf x | ${socatProxy('127.0.0.1', echo.port)}`);
    expect(code).not.toBe(0);
    expect(err).toContain('Forbidden');
    expect(await lastRecord((c) => c.reason === 'no egress is allowed now')).toMatchObject({ allowed: false, port: echo.port });
  });
});

describe('the relay launcher', () => {
  it('stops the sandbox when one of its relays ends, rather than running half-connected', async () => {
    const second = await driver.start({
      runId: `egress_${randomUUID().slice(0, 8)}`,
      tenant: 'test',
      expiresAt: new Date(Date.now() + 600_000),
      image: IMAGE,
      network: 'none',
      runtime: '',
      limits: { memoryMb: 128, cpus: 1, pidsLimit: 32, workspaceMb: 8, tmpMb: 8, homeMb: 8 },
      ids: DEFAULT_SANDBOX_IDS,
      gateway: { socketDir: runSocket.dir, relativeDir: runSocket.subdir },
      egressProxy: true,
    });
    try {
      expect(await second.stopReason()).toBeNull();
      // The egress relay is the socat whose argv names the proxy's port.
      await second.exec(['bash', '-c', `for p in /proc/[0-9]*; do tr '\\0' ' ' < $p/cmdline 2>/dev/null | grep -q '^socat TCP-LISTEN:${SANDBOX_EGRESS_PORT}' && kill \${p#/proc/}; done`]).catch(() => {});
      const why = await until('the sandbox to stop', async () => (await second.stopReason()) ?? undefined, 10_000);
      expect(why.message).toContain('the sandbox stopped');
    } finally {
      await second.remove();
    }
  });
});
