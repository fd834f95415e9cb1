// The server under measurement, in its own process so /proc/<pid> shows only the server. Started by
// server-child.ts with an IPC channel: config in BENCH_SERVER_CONFIG (raw config-file shape), pino
// lines on stdout, {url} sent once listening. Messages: "gc" (answers memoryUsage and the memory's
// parts after a full GC), "watch-memory" and "memory-peak" (the parts at the highest RSS sampled in
// between), "close" (shuts down in order, then exits).
import { parseConfig } from '../../server/config/config.js';
import { createLogger } from '../../server/logger.js';
import { startServer } from '../../server/server.js';
import { memoryParts, watchMemoryPeak } from './memory-parts.js';

const config = parseConfig(JSON.parse(process.env.BENCH_SERVER_CONFIG ?? '{}'));
const server = await startServer({
  config,
  env: { CODEX_RUNNER_TOKEN: process.env.CODEX_RUNNER_TOKEN, STANDIN_KEY: process.env.STANDIN_KEY },
  log: createLogger(config.server.logLevel),
});
process.send!({ type: 'ready', url: server.url });

const close = () =>
  server.close().then(
    () => process.exit(0),
    (err) => {
      console.error('bench server: close failed', err);
      process.exit(1);
    },
  );
// Ctrl-C reaches the whole process group: the bench decides when the server stops, so that it
// still sweeps its sandboxes. If the bench itself dies, the IPC channel closes: stop then.
process.on('SIGINT', () => {});
process.on('SIGTERM', () => {});
process.once('disconnect', close);
let memoryWatch: ReturnType<typeof watchMemoryPeak> | null = null;
process.on('message', (message: { type: string }) => {
  if (message.type === 'gc') {
    (globalThis as { gc?: () => void }).gc?.();
    process.send!({ type: 'memory', memory: process.memoryUsage(), parts: memoryParts() });
  } else if (message.type === 'watch-memory') {
    memoryWatch?.stop();
    memoryWatch = watchMemoryPeak();
  } else if (message.type === 'memory-peak') {
    process.send!({ type: 'memory-peak', parts: memoryWatch?.stop() ?? memoryParts() });
    memoryWatch = null;
  } else if (message.type === 'close') {
    void close();
  }
});
