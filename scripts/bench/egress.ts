// The egress proxy on loopback: what it adds to opening a connection (CONNECT through its Unix
// socket against a direct TCP connect, each timed to the first echoed byte) and how fast a tunnel
// carries bytes each way. Issue 16 asks under 5 ms per connection and at least 50 MB/s.
// Runs on its own: node --import tsx scripts/bench/egress.ts
import { mkdtemp, rm } from 'node:fs/promises';
import net, { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { openEgressProxy } from '../../server/egress/egress-proxy.js';
import { connectThrough, startEcho } from '../../test/fixtures/egress-stand-ins.js';
import { summarize, table, type Summary } from './stats.js';

export const EGRESS_OVERHEAD_BOUND_MS = 5;
export const EGRESS_THROUGHPUT_BOUND_MB_S = 50;

export interface EgressResult {
  samples: number;
  directMs: Summary;
  proxiedMs: Summary;
  /** Median through the proxy less median direct. */
  overheadMs: number;
  bytes: number;
  upMbS: number;
  downMbS: number;
  records: number;
}

const MB = 1e6;

/** A loopback server that, per connection, sends `bytes` bytes (the download side) or reads until it has `bytes` and answers one byte (upload). */
async function startBulk(bytes: number): Promise<{ port: number; close(): Promise<void> }> {
  const chunk = Buffer.alloc(1024 * 1024, 0x61);
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    socket.once('data', (first: Buffer) => {
      if (first[0] === 0x64) {
        // 'd': download.
        writeBytes(socket, bytes, chunk, () => socket.end());
        return;
      }
      let got = first.length - 1;
      socket.on('data', (c: Buffer) => {
        got += c.length;
        if (got >= bytes) socket.end('k');
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function firstEcho(socket: net.Socket): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.once('data', () => resolve());
    socket.once('error', reject);
    socket.write('x');
  });
}

function upload(socket: net.Socket, bytes: number): Promise<void> {
  const chunk = Buffer.alloc(1024 * 1024, 0x62);
  return new Promise((resolve, reject) => {
    socket.once('data', () => resolve());
    socket.once('error', reject);
    socket.write('u');
    writeBytes(socket, bytes, chunk);
  });
}

/** Writes `bytes` bytes of `chunk`'s kind with backpressure, never buffered whole; then `done`. */
function writeBytes(socket: net.Socket, bytes: number, chunk: Buffer, done: () => void = () => {}): void {
  let left = bytes;
  const pump = () => {
    while (left > 0) {
      const n = Math.min(left, chunk.length);
      left -= n;
      if (!socket.write(n === chunk.length ? chunk : chunk.subarray(0, n))) return void socket.once('drain', pump);
    }
    done();
  };
  pump();
}

function download(socket: net.Socket, bytes: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let got = 0;
    socket.on('data', (c: Buffer) => (got += c.length));
    socket.once('end', () => (got >= bytes ? resolve() : reject(new Error(`only ${got} of ${bytes} bytes came`))));
    socket.once('error', reject);
    socket.write('d');
  });
}

export async function measureEgress(dir: string, samples = 300, bytes = 256 * 1024 * 1024): Promise<EgressResult> {
  const echo = await startEcho();
  const bulk = await startBulk(bytes);
  const socketPath = path.join(dir, 'egress.sock');
  let records = 0;
  const proxy = await openEgressProxy({
    socketPath,
    rules: [{ host: '127.0.0.1', port: echo.port }, { host: '127.0.0.1', port: bulk.port }],
    onConnection: () => records++,
  });
  try {
    const direct: number[] = [];
    const proxied: number[] = [];
    // Alternated, so a slow patch of the machine falls on both.
    for (let i = 0; i < samples + 20; i++) {
      let start = performance.now();
      const d = net.connect(echo.port, '127.0.0.1');
      await firstEcho(d);
      const directMs = performance.now() - start;
      d.destroy();
      start = performance.now();
      const { status, socket } = await connectThrough(socketPath, `127.0.0.1:${echo.port}`);
      if (status !== 200) throw new Error(`the proxy answered ${status}`);
      await firstEcho(socket);
      const proxiedMs = performance.now() - start;
      socket.destroy();
      // The first few warm up the JIT and the sockets' paths.
      if (i >= 20) {
        direct.push(directMs);
        proxied.push(proxiedMs);
      }
    }
    const through = async (work: (s: net.Socket) => Promise<void>) => {
      const { status, socket } = await connectThrough(socketPath, `127.0.0.1:${bulk.port}`);
      if (status !== 200) throw new Error(`the proxy answered ${status}`);
      const start = performance.now();
      await work(socket);
      const s = (performance.now() - start) / 1000;
      socket.destroy();
      return bytes / MB / s;
    };
    const upMbS = await through((s) => upload(s, bytes));
    const downMbS = await through((s) => download(s, bytes));
    const directMs = summarize(direct);
    const proxiedMs = summarize(proxied);
    return { samples, directMs, proxiedMs, overheadMs: proxiedMs.median - directMs.median, bytes, upMbS, downMbS, records };
  } finally {
    await proxy.close();
    await echo.close();
    await bulk.close();
  }
}

/** Prints the section; returns whether both bounds held. */
export function printEgress(title: string, r: EgressResult): boolean {
  const fine = (v: number) => `${v.toFixed(2)} ms`;
  console.log(`${title}: the egress proxy on loopback, ${r.samples} connections each way, ${r.bytes / 1024 / 1024} MiB per tunnel`);
  console.log(
    table([
      ['connect to the first echoed byte', 'min', 'median', 'max'],
      ['direct TCP', fine(r.directMs.min), fine(r.directMs.median), fine(r.directMs.max)],
      ['CONNECT through the proxy', fine(r.proxiedMs.min), fine(r.proxiedMs.median), fine(r.proxiedMs.max)],
    ]),
  );
  const overheadOk = r.overheadMs < EGRESS_OVERHEAD_BOUND_MS;
  const throughputOk = Math.min(r.upMbS, r.downMbS) >= EGRESS_THROUGHPUT_BOUND_MB_S;
  console.log(`overhead per connection (median): ${fine(r.overheadMs)} (bound < ${EGRESS_OVERHEAD_BOUND_MS} ms: ${overheadOk ? 'met' : 'MISSED'})`);
  console.log(`tunnel throughput: up ${r.upMbS.toFixed(0)} MB/s, down ${r.downMbS.toFixed(0)} MB/s (bound >= ${EGRESS_THROUGHPUT_BOUND_MB_S} MB/s: ${throughputOk ? 'met' : 'MISSED'})`);
  console.log(`connections recorded: ${r.records}`);
  return overheadOk && throughputOk;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const dir = await mkdtemp(path.join(tmpdir(), 'codex-runner-bench-egress-'));
  try {
    if (!printEgress('egress', await measureEgress(dir))) process.exitCode = 1;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
