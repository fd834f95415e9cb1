// The egress proxy on loopback: real sockets, a real HTTP upstream and a TCP echo standing in for a
// TLS one. Loopback is refused to names, so the upstreams are listed by IP literally, and names
// that lead to loopback come from the resolver seam; nothing is aimed at any other address.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openEgressProxy, type EgressConnection, type EgressProxy, type EgressRule } from '../server/egress/egress-proxy.js';
import { connectThrough, echoThrough, jsonBody, startEcho, startHttpUpstream, type EchoServer, type HttpUpstream } from './fixtures/egress-stand-ins.js';
import { until } from './fixtures/until.js';

let dir: string;
let socketPath: string;
let echo: EchoServer;
let upstream: HttpUpstream;
let records: EgressConnection[];
let proxy: EgressProxy | undefined;
let lookups: string[];

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'egress-proxy-'));
  socketPath = path.join(dir, 'egress.sock');
  echo = await startEcho();
  upstream = await startHttpUpstream();
  records = [];
  lookups = [];
});

afterEach(async () => {
  await proxy?.close();
  proxy = undefined;
  await echo.close();
  await upstream.close();
  await rm(dir, { recursive: true, force: true });
});

// Names the seam knows; any other is an error, so a test never reaches the system resolver.
const names: Record<string, string[]> = {
  'loopback.test': ['127.0.0.1'],
  'mapped.test': ['::ffff:127.0.0.1'],
  'v6-loopback.test': ['::1'],
  'mixed.test': ['127.0.0.1', '::1'],
};
const resolve = async (host: string) => {
  lookups.push(host);
  const found = names[host];
  if (!found) throw new Error(`ENOTFOUND ${host}`);
  return found;
};

async function open(rules: EgressRule[] | null, extra: { maxConnections?: number; connectTimeoutMs?: number; resolve?: (h: string) => Promise<string[]>; socketGid?: number } = {}) {
  proxy = await openEgressProxy({ socketPath, rules, onConnection: (c) => records.push(c), resolve, ...extra });
  return proxy;
}

const recorded = (n: number) => until(`${n} egress records`, async () => (records.length >= n ? records : undefined), 5_000);

function get(url: string, headers: Record<string, string> = {}, method = 'GET', body?: string): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((done, fail) => {
    const req = http.request({ socketPath, path: url, method, headers, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => done({ status: res.statusCode!, headers: res.headers, body: text }));
    });
    req.on('error', fail);
    req.end(body);
  });
}

describe('CONNECT tunnels', () => {
  it('reaches a loopback host:port listed by IP and counts the bytes each way', async () => {
    await open([{ host: '127.0.0.1', port: echo.port }]);
    const { status, socket } = await connectThrough(socketPath, `127.0.0.1:${echo.port}`);
    expect(status).toBe(200);
    const payload = randomBytes(1024 * 1024);
    const back = await echoThrough(socket, payload);
    expect(back.equals(payload)).toBe(true);
    socket.end();
    const [rec] = await recorded(1);
    expect(rec).toMatchObject({ host: '127.0.0.1', port: echo.port, address: '127.0.0.1', allowed: true, reason: null, bytesUp: payload.length, bytesDown: payload.length });
    expect(rec!.ms).toBeGreaterThan(0);
    expect(echo.accepted).toBe(1);
  });

  it('refuses and records an unlisted host without connecting to it', async () => {
    await open([{ host: '127.0.0.1', port: echo.port }]);
    const answer = await connectThrough(socketPath, `127.0.0.2:${echo.port}`);
    expect(answer.status).toBe(403);
    expect(jsonBody(answer.text)).toEqual({ error: { code: 'egress_refused', message: '127.0.0.2 is not on the allow-list' } });
    expect(await recorded(1)).toEqual([{ host: '127.0.0.2', port: echo.port, address: null, allowed: false, reason: '127.0.0.2 is not on the allow-list', bytesUp: 0, bytesDown: 0, ms: expect.any(Number) }]);
    expect(echo.accepted).toBe(0);
  });

  it('refuses CONNECT to a port the host is not listed on', async () => {
    const other = await startEcho();
    try {
      await open([{ host: '127.0.0.1', port: echo.port }]);
      const answer = await connectThrough(socketPath, `127.0.0.1:${other.port}`);
      expect(answer.status).toBe(403);
      expect(jsonBody(answer.text).error.message).toBe(`port ${other.port} is not allowed for 127.0.0.1`);
      expect((await recorded(1))[0]).toMatchObject({ allowed: false, port: other.port });
      expect(other.accepted).toBe(0);
    } finally {
      await other.close();
    }
  });

  it.each([
    ['loopback.test', '127.0.0.1 is a loopback address'],
    ['mapped.test', '::ffff:7f00:1 is a loopback address'],
    ['v6-loopback.test', '::1 is a loopback address'],
    ['mixed.test', '127.0.0.1 is a loopback address'],
  ])('refuses the listed name %s, which resolves to a refused address, before connecting', async (name, why) => {
    await open([{ host: name, port: echo.port }]);
    const answer = await connectThrough(socketPath, `${name}:${echo.port}`);
    expect(answer.status).toBe(403);
    expect(jsonBody(answer.text).error.message).toBe(`${name} resolves to a refused address: ${why}`);
    const [rec] = await recorded(1);
    expect(rec).toMatchObject({ host: name, allowed: false, bytesUp: 0, bytesDown: 0 });
    expect(rec!.address).not.toBeNull();
    expect(lookups).toEqual([name]);
    expect(echo.accepted).toBe(0);
  });

  it('does not even resolve a name that is not listed', async () => {
    await open([{ host: '127.0.0.1', port: echo.port }]);
    const answer = await connectThrough(socketPath, `loopback.test:${echo.port}`);
    expect(answer.status).toBe(403);
    expect(lookups).toEqual([]);
  });

  it('answers a CONNECT whose target is no host:port with 400', async () => {
    await open([{ host: '127.0.0.1', port: echo.port }]);
    const answer = await connectThrough(socketPath, `127.0.0.1`);
    expect(answer.status).toBe(400);
    expect(jsonBody(answer.text).error.code).toBe('bad_request');
    expect((await recorded(1))[0]).toMatchObject({ allowed: false, reason: 'CONNECT target is not host:port' });
  });

  it('reaches an IPv6 loopback literal listed as such, in brackets', async () => {
    const v6 = net.createServer((s) => s.pipe(s));
    await new Promise<void>((r) => v6.listen(0, '::1', r));
    const port = (v6.address() as AddressInfo).port;
    try {
      await open([{ host: '::1', port }]);
      const { status, socket } = await connectThrough(socketPath, `[::1]:${port}`);
      expect(status).toBe(200);
      expect((await echoThrough(socket, Buffer.from('six'))).toString()).toBe('six');
      socket.destroy();
      expect((await recorded(1))[0]).toMatchObject({ host: '::1', address: '::1', allowed: true });
      // The same address in IPv4-mapped clothing is another literal, which no rule names.
      expect((await connectThrough(socketPath, `[::ffff:127.0.0.1]:${port}`)).status).toBe(403);
    } finally {
      v6.close();
    }
  });

  it('passes on bytes a client sent right behind its CONNECT', async () => {
    await open([{ host: '127.0.0.1', port: echo.port }]);
    const socket = net.connect(socketPath);
    let got = '';
    socket.on('data', (c: Buffer) => (got += c.toString()));
    socket.write(`CONNECT 127.0.0.1:${echo.port} HTTP/1.1\r\nHost: x\r\n\r\nearly bytes`);
    await until('the echo', async () => (got.endsWith('early bytes') ? true : undefined), 5_000);
    expect(got).toBe('HTTP/1.1 200 Connection Established\r\n\r\nearly bytes');
    socket.destroy();
  });

  it('keeps memory bounded: a client that does not read stops the upstream\'s sending', async () => {
    let written = 0;
    const firehose = net.createServer((s) => {
      s.on('error', () => {});
      const chunk = Buffer.alloc(256 * 1024);
      const pump = () => {
        while (s.writable && s.write(chunk)) written += chunk.length;
        if (s.writable) {
          written += chunk.length;
          s.once('drain', pump);
        }
      };
      pump();
    });
    await new Promise<void>((r) => firehose.listen(0, '127.0.0.1', r));
    const port = (firehose.address() as AddressInfo).port;
    try {
      await open([{ host: '127.0.0.1', port }]);
      const { status, socket } = await connectThrough(socketPath, `127.0.0.1:${port}`);
      expect(status).toBe(200);
      socket.pause();
      await new Promise((r) => setTimeout(r, 500));
      const stalled = written;
      await new Promise((r) => setTimeout(r, 500));
      // Socket buffers on both hops and the streams' high-water marks, a few MiB; never the stream.
      expect(written).toBe(stalled);
      expect(written).toBeLessThan(32 * 1024 * 1024);
      socket.destroy();
    } finally {
      firehose.close();
    }
  });

  it('gives up on a name that does not resolve within the connect timeout', async () => {
    await open([{ host: 'slow.test', port: echo.port }], { connectTimeoutMs: 200, resolve: () => new Promise(() => {}) });
    const started = Date.now();
    const answer = await connectThrough(socketPath, `slow.test:${echo.port}`);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(answer.status).toBe(502);
    expect(jsonBody(answer.text).error).toEqual({ code: 'egress_unresolved', message: 'could not resolve slow.test: resolving slow.test took over 200 ms' });
    expect((await recorded(1))[0]).toMatchObject({ allowed: true, address: null });
  });

  it('says so when a listed upstream refuses the connection', async () => {
    const gone = await startEcho();
    const port = gone.port;
    await gone.close();
    await open([{ host: '127.0.0.1', port }]);
    const answer = await connectThrough(socketPath, `127.0.0.1:${port}`);
    expect(answer.status).toBe(502);
    expect(jsonBody(answer.text).error).toEqual({ code: 'egress_unreachable', message: `could not connect to 127.0.0.1:${port}: ECONNREFUSED` });
    expect((await recorded(1))[0]).toMatchObject({ allowed: true, address: '127.0.0.1', reason: `could not connect to 127.0.0.1:${port}: ECONNREFUSED` });
  });
});

describe('plain http:// forwarding', () => {
  it('forwards an absolute-form request to a listed upstream, hop-by-hop headers stripped both ways', async () => {
    await open([{ host: '127.0.0.1', port: upstream.port }]);
    const answer = await get(`http://127.0.0.1:${upstream.port}/pkg/a?v=1`, {
      'proxy-authorization': 'Basic c2VjcmV0',
      connection: 'x-drop',
      'x-drop': 'no',
      'x-keep': 'yes',
    });
    expect(answer).toMatchObject({ status: 200, body: `hello /pkg/a?v=1` });
    expect(answer.headers['x-upstream']).toBe('yes');
    // The upstream's own Keep-Alive (timeout=1) stays on its hop; the proxy's listener sends its own.
    expect(answer.headers['keep-alive']).not.toBe('timeout=1');
    const [seen] = upstream.seen;
    expect(seen!.url).toBe('/pkg/a?v=1');
    expect(seen!.headers.host).toBe(`127.0.0.1:${upstream.port}`);
    expect(seen!.headers['x-keep']).toBe('yes');
    expect(seen!.headers['x-drop']).toBeUndefined();
    expect(seen!.headers['proxy-authorization']).toBeUndefined();
    const [rec] = await recorded(1);
    expect(rec).toMatchObject({ host: '127.0.0.1', port: upstream.port, address: '127.0.0.1', allowed: true, reason: null });
    expect(rec!.bytesUp).toBeGreaterThan(50);
    expect(rec!.bytesDown).toBeGreaterThan(`hello /pkg/a?v=1`.length);
  });

  it('forwards a request body', async () => {
    await open([{ host: '127.0.0.1', port: upstream.port }]);
    const body = 'x'.repeat(100_000);
    const answer = await get(`http://127.0.0.1:${upstream.port}/upload`, { 'content-type': 'text/plain' }, 'POST', body);
    expect(answer.status).toBe(200);
    expect(upstream.seen[0]).toMatchObject({ method: 'POST', body });
    expect((await recorded(1))[0]!.bytesUp).toBeGreaterThan(body.length);
  });

  it('refuses an unlisted upstream with the JSON envelope and records it', async () => {
    await open([{ host: '127.0.0.1', port: echo.port }]);
    const answer = await get(`http://127.0.0.1:${upstream.port}/x`);
    expect(answer.status).toBe(403);
    expect(JSON.parse(answer.body)).toEqual({ error: { code: 'egress_refused', message: `port ${upstream.port} is not allowed for 127.0.0.1` } });
    expect(upstream.seen).toEqual([]);
    expect((await recorded(1))[0]).toMatchObject({ allowed: false, port: upstream.port });
  });

  it('refuses a listed name that resolves to loopback, before connecting', async () => {
    await open([{ host: 'loopback.test', port: upstream.port }]);
    const answer = await get(`http://loopback.test:${upstream.port}/x`);
    expect(answer.status).toBe(403);
    expect(JSON.parse(answer.body).error.message).toBe('loopback.test resolves to a refused address: 127.0.0.1 is a loopback address');
    expect(upstream.seen).toEqual([]);
  });

  it('answers an Upgrade with 501 and what Node\'s parser refuses with the JSON envelope', async () => {
    await open([{ host: '127.0.0.1', port: upstream.port }]);
    const raw = (text: string) =>
      new Promise<string>((done) => {
        const s = net.connect(socketPath);
        let got = '';
        s.on('data', (c: Buffer) => (got += c.toString()));
        s.on('close', () => done(got));
        s.on('error', () => {});
        s.write(text);
      });
    const upgrade = await raw(`GET http://127.0.0.1:${upstream.port}/ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n`);
    expect(upgrade).toMatch(/^HTTP\/1\.1 501/);
    expect(jsonBody(upgrade).error.code).toBe('not_implemented');
    const garbage = await raw('NOT HTTP AT ALL\r\n\r\n');
    expect(garbage).toMatch(/^HTTP\/1\.1 400/);
    expect(jsonBody(garbage).error.code).toBe('bad_request');
    expect(upstream.seen).toEqual([]);
  });

  it('answers an origin-form request and an https:// one with 400', async () => {
    await open([{ host: '127.0.0.1', port: upstream.port }]);
    expect(JSON.parse((await get('/x')).body).error.code).toBe('bad_request');
    const https = await get(`https://127.0.0.1:${upstream.port}/x`);
    expect(https.status).toBe(400);
    expect(JSON.parse(https.body).error.message).toBe('https:// goes through CONNECT');
    expect(upstream.seen).toEqual([]);
  });
});

describe('the proxy as a whole', () => {
  it('caps the connections open at once and records the refusal', async () => {
    await open([{ host: '127.0.0.1', port: echo.port }], { maxConnections: 2 });
    const a = await connectThrough(socketPath, `127.0.0.1:${echo.port}`);
    const b = await connectThrough(socketPath, `127.0.0.1:${echo.port}`);
    expect([a.status, b.status]).toEqual([200, 200]);
    const c = await connectThrough(socketPath, `127.0.0.1:${echo.port}`);
    expect(c.status).toBe(503);
    expect(jsonBody(c.text).error).toEqual({ code: 'egress_busy', message: 'the run already has 2 egress connections open' });
    expect((await recorded(1))[0]).toMatchObject({ allowed: false, reason: 'the run already has 2 egress connections open' });
    a.socket.destroy();
    await recorded(2);
    const d = await connectThrough(socketPath, `127.0.0.1:${echo.port}`);
    expect(d.status).toBe(200);
    b.socket.destroy();
    d.socket.destroy();
  });

  it('ends open tunnels a new policy no longer allows, and refuses everything under none', async () => {
    const p = await open([{ host: '127.0.0.1', port: echo.port }]);
    const { socket } = await connectThrough(socketPath, `127.0.0.1:${echo.port}`);
    const closed = new Promise((r) => socket.once('close', r));
    p.setPolicy([{ host: '127.0.0.1', port: echo.port }]);
    expect((await echoThrough(socket, Buffer.from('still open'))).toString()).toBe('still open');
    p.setPolicy(null);
    await closed;
    expect((await recorded(1))[0]).toMatchObject({ allowed: true, reason: 'ended: the egress policy changed', bytesUp: 10, bytesDown: 10 });
    const again = await connectThrough(socketPath, `127.0.0.1:${echo.port}`);
    expect(again.status).toBe(403);
    expect(jsonBody(again.text).error.message).toBe('no egress is allowed now');
    p.setPolicy([{ host: '127.0.0.1', port: echo.port }]);
    const after = await connectThrough(socketPath, `127.0.0.1:${echo.port}`);
    expect(after.status).toBe(200);
    after.socket.destroy();
  });

  it('refuses a bad rule when it is set, naming it', async () => {
    const p = await open([]);
    expect(() => p.setPolicy([{ host: 'a..b', port: 80 }])).toThrow('"a..b"');
    await expect(openEgressProxy({ socketPath: path.join(dir, 'other.sock'), rules: [{ host: 'x.test', port: 0 }], onConnection: () => {} })).rejects.toThrow('port 0');
  });

  it('ends every tunnel and removes its socket file on close; closing twice is harmless', async () => {
    const p = await open([{ host: '127.0.0.1', port: echo.port }]);
    const { socket } = await connectThrough(socketPath, `127.0.0.1:${echo.port}`);
    const closed = new Promise((r) => socket.once('close', r));
    await p.close();
    await closed;
    await expect(stat(socketPath)).rejects.toMatchObject({ code: 'ENOENT' });
    expect((await recorded(1))[0]).toMatchObject({ reason: 'the egress proxy closed' });
    await p.close();
  });

  it('gives its socket to the sandboxes\' group alone when it may (0660), else to all (0666)', async () => {
    await open([], { socketGid: 70_000 });
    const st = await stat(socketPath);
    const root = process.getuid?.() === 0;
    expect(st.mode & 0o777).toBe(root ? 0o660 : 0o666);
    if (root) expect(st.gid).toBe(70_000);
  });

  it('survives a recorder that throws', async () => {
    proxy = await openEgressProxy({ socketPath, rules: [], onConnection: () => { throw new Error('recorder down'); } });
    expect((await connectThrough(socketPath, `127.0.0.1:${echo.port}`)).status).toBe(403);
    expect((await connectThrough(socketPath, `127.0.0.1:${echo.port}`)).status).toBe(403);
  });
});
