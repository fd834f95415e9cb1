import { chmod, chown, rm } from 'node:fs/promises';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { pipeline } from 'node:stream';
import type { Duplex } from 'node:stream';
import { closeSoon, onParserRefusal, parserRefusal, rawJsonResponse } from '../domain/parser-refusal.js';
import { addressAllowed, compilePolicy, decide, normalizeHost, type EgressPolicy, type EgressRule } from './egress-policy.js';
import { openUpstream, resolveAll, type Opened, type Resolve } from './open-upstream.js';
import { endToEndHeaders, parseConnectTarget, parseForwardTarget } from './proxy-target.js';

export type { EgressRule } from './egress-policy.js';
export { SANDBOX_EGRESS_PORT, SANDBOX_PROXY_URL, SANDBOX_PROXY_ENV, EGRESS_SOCKET_NAME } from '../domain/sandbox-egress.js';

/** One connection a sandbox asked for, as the run records it (an `egress` event, the metrics). */
export interface EgressConnection {
  host: string;
  port: number;
  /** The address connected to (or the one that was refused); null when none was reached. */
  address: string | null;
  allowed: boolean;
  /** Why it was refused or failed, or why an allowed one was ended; null for one that ran its course. */
  reason: string | null;
  /** Bytes sent to the upstream and received from it, HTTP headers included for a forwarded request. */
  bytesUp: number;
  bytesDown: number;
  ms: number;
}

export interface EgressProxy extends AsyncDisposable {
  /** Replaces the allow-list (null: refuse everything); open connections it no longer allows are ended. */
  setPolicy(rules: EgressRule[] | null): void;
  /** Stops listening, ends every tunnel and removes the socket file; idempotent. */
  close(): Promise<void>;
}

export interface EgressProxyOptions {
  socketPath: string;
  rules: EgressRule[] | null;
  onConnection(c: EgressConnection): void;
  /** Upstream connections open at once, tunnels and forwarded requests together. */
  maxConnections?: number;
  /** Resolving and connecting, together. */
  connectTimeoutMs?: number;
  /** A tunnel or a forwarded request with no byte either way for this long is ended. */
  idleTimeoutMs?: number;
  /** Given, the socket is the group's alone (0660), as the gateway's; a server that may not chown falls back to 0666. */
  socketGid?: number;
  /** The name resolver (a test seam); the system's, every address, by default. */
  resolve?: Resolve;
}

const DEFAULTS = { maxConnections: 32, connectTimeoutMs: 10_000, idleTimeoutMs: 300_000 };

interface Live {
  host: string;
  port: number;
  address: string;
  end(reason: string): void;
}

type Refusal = Extract<Opened, { ok: false }>;

const errorBody = (code: string, message: string) => ({ error: { code, message } });

/** One run's egress proxy on a Unix socket: CONNECT tunnels and plain `http://` requests to the allow-list only. */
export async function openEgressProxy(opts: EgressProxyOptions): Promise<EgressProxy> {
  let policy: EgressPolicy = compilePolicy(opts.rules);
  const max = opts.maxConnections ?? DEFAULTS.maxConnections;
  const connectTimeoutMs = opts.connectTimeoutMs ?? DEFAULTS.connectTimeoutMs;
  const idleTimeoutMs = opts.idleTimeoutMs ?? DEFAULTS.idleTimeoutMs;
  const resolve = opts.resolve ?? resolveAll;
  const live = new Set<Live>();
  const clients = new Set<Socket>();
  let opening = 0;
  let closed = false;

  const record = (c: EgressConnection) => {
    try {
      opts.onConnection(c);
    } catch {
      // The recorder's failure is the run's to see; it must not take the proxy down with it.
    }
  };
  const refusedRecord = (host: string, port: number, r: Refusal, started: number): EgressConnection => ({
    host, port, address: r.address, allowed: r.allowed, reason: r.reason, bytesUp: 0, bytesDown: 0, ms: performance.now() - started,
  });

  async function admit(rawHost: string, port: number): Promise<Opened> {
    if (closed) return { ok: false, allowed: false, status: 503, code: 'egress_closed', reason: 'the egress proxy is closing', address: null };
    if (live.size + opening >= max) {
      return { ok: false, allowed: false, status: 503, code: 'egress_busy', reason: `the run already has ${max} egress connections open`, address: null };
    }
    opening++;
    try {
      return await openUpstream(() => policy, rawHost, port, resolve, connectTimeoutMs);
    } finally {
      opening--;
    }
  }

  // Shown in records and answers as asked when it is not even a host: a sandbox's bytes, cut short.
  const shown = (raw: string) => normalizeHost(raw) ?? raw.slice(0, 255);

  function tunnel(req: IncomingMessage, client: Duplex, head: Buffer): void {
    const started = performance.now();
    client.on('error', () => {});
    const target = parseConnectTarget(req.url);
    if (!target) {
      record({ host: String(req.url).slice(0, 255), port: 0, address: null, allowed: false, reason: 'CONNECT target is not host:port', bytesUp: 0, bytesDown: 0, ms: 0 });
      client.end(rawJsonResponse(400, errorBody('bad_request', 'CONNECT needs a host:port target')));
      closeSoon(client);
      return;
    }
    void admit(target.host, target.port).then((opened) => {
      if (!opened.ok) {
        record(refusedRecord(shown(target.host), target.port, opened, started));
        client.end(rawJsonResponse(opened.status, errorBody(opened.code, opened.reason)));
        closeSoon(client);
        return;
      }
      const upstream = opened.socket;
      let reason: string | null = null;
      const end = (why: string | null) => {
        reason ??= why;
        upstream.destroy();
        client.destroy();
      };
      const entry: Live = { host: opened.host, port: target.port, address: opened.address, end };
      live.add(entry);
      upstream.once('close', () => {
        client.destroy();
        live.delete(entry);
        record({ host: opened.host, port: target.port, address: opened.address, allowed: true, reason, bytesUp: upstream.bytesWritten, bytesDown: upstream.bytesRead, ms: performance.now() - started });
      });
      if (client.destroyed) return end('the client left before the tunnel opened');
      upstream.on('error', (err: NodeJS.ErrnoException) => end(`upstream: ${err.code ?? err.message}`));
      client.once('close', () => end(null));
      upstream.setTimeout(idleTimeoutMs, () => end(`idle for ${idleTimeoutMs} ms`));
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
  }

  function forward(req: IncomingMessage, res: ServerResponse): void {
    const started = performance.now();
    const target = parseForwardTarget(req.url);
    const answer = (status: number, code: string, message: string) => {
      if (res.headersSent) return void res.destroy();
      res.writeHead(status, { 'content-type': 'application/json', connection: 'close' }).end(JSON.stringify(errorBody(code, message)));
    };
    if (!target) {
      req.resume();
      const https = /^https:/i.test(String(req.url));
      return answer(400, 'bad_request', https ? 'https:// goes through CONNECT' : 'a proxy request needs an absolute http:// target');
    }
    void admit(target.host, target.port).then((opened) => {
      if (opened.ok && res.destroyed) {
        // The client left while its upstream was being opened: nothing goes out on its behalf.
        opened.socket.destroy();
        return record({ host: opened.host, port: target.port, address: opened.address, allowed: true, reason: 'the client left before the request went out', bytesUp: 0, bytesDown: 0, ms: performance.now() - started });
      }
      if (!opened.ok) {
        req.resume();
        record(refusedRecord(shown(target.host), target.port, opened, started));
        return answer(opened.status, opened.code, opened.reason);
      }
      const upstream = opened.socket;
      let reason: string | null = null;
      const end = (why: string | null) => {
        reason ??= why;
        upstream.destroy();
        if (!res.writableEnded) res.destroy();
      };
      const entry: Live = { host: opened.host, port: target.port, address: opened.address, end };
      live.add(entry);
      upstream.once('close', () => {
        live.delete(entry);
        record({ host: opened.host, port: target.port, address: opened.address, allowed: true, reason, bytesUp: upstream.bytesWritten, bytesDown: upstream.bytesRead, ms: performance.now() - started });
      });
      upstream.setTimeout(idleTimeoutMs, () => end(`idle for ${idleTimeoutMs} ms`));
      res.once('close', () => {
        if (!res.writableFinished) end('the client left');
      });
      // One upstream connection per request, to the address that was checked: no pooling across names.
      const headers = { ...endToEndHeaders(req.headers), host: target.authority, connection: 'close' };
      const out = http.request({ createConnection: () => upstream, method: req.method, path: target.path, headers });
      out.on('error', (err: NodeJS.ErrnoException) => {
        reason ??= `upstream: ${err.code ?? err.message}`;
        answer(502, 'egress_unreachable', `${target.authority} answered no HTTP: ${err.code ?? err.message}`);
        upstream.destroy();
      });
      out.on('response', (up) => {
        res.writeHead(up.statusCode ?? 502, up.statusMessage, endToEndHeaders(up.headers));
        pipeline(up, res, (err) => {
          if (err) end(`response: ${(err as NodeJS.ErrnoException).code ?? err.message}`);
          else upstream.end();
        });
      });
      pipeline(req, out, (err) => {
        if (err) end(`request: ${(err as NodeJS.ErrnoException).code ?? err.message}`);
      });
    });
  }

  const server = http.createServer({ headersTimeout: 30_000, requestTimeout: 0, keepAliveTimeout: 5_000 });
  // Idle clients hold no upstream, but each is a socket and a relay process: capped too.
  server.maxConnections = max * 2;
  server.on('connection', (socket: Socket) => {
    clients.add(socket);
    socket.once('close', () => clients.delete(socket));
  });
  server.on('connect', tunnel);
  server.on('request', forward);
  server.on('upgrade', (_req: IncomingMessage, socket: Duplex) => {
    socket.on('error', () => {});
    socket.end(rawJsonResponse(501, errorBody('not_implemented', 'Upgrade is not forwarded: use CONNECT')));
    closeSoon(socket);
  });
  onParserRefusal(server, (err) => {
    const { code, message } = parserRefusal(err, 'egress proxy');
    return rawJsonResponse(code === 'headers_too_large' ? 431 : code === 'request_timeout' ? 408 : 400, errorBody(code, message));
  });

  await rm(opts.socketPath, { force: true });
  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(opts.socketPath, () => {
      server.off('error', reject);
      resolveListen();
    });
  });
  let closing: Promise<void> | null = null;
  const close = () =>
    (closing ??= (async () => {
      closed = true;
      const stopped = new Promise<void>((done) => server.close(() => done()));
      for (const c of live) c.end('the egress proxy closed');
      for (const s of clients) s.destroy();
      server.closeAllConnections();
      await stopped;
      await rm(opts.socketPath, { force: true });
    })());
  try {
    const restricted = opts.socketGid !== undefined && (await chown(opts.socketPath, -1, opts.socketGid).then(() => true, () => false));
    await chmod(opts.socketPath, restricted ? 0o660 : 0o666);
  } catch (err) {
    await close();
    throw err;
  }

  return {
    setPolicy(rules) {
      const next = compilePolicy(rules);
      policy = next;
      for (const c of live) {
        const d = decide(next, c.host, c.port);
        if (!d.allowed || !addressAllowed(c.address, d.rule).allowed) c.end('ended: the egress policy changed');
      }
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
