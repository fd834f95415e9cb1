// Starts server-entry.ts as a child process (`node --import tsx`) and keeps its 'run ended' log lines.
import { SERVER_NODE_FLAGS } from '../../server/node-flags.js';
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { MemoryParts } from './memory-parts.js';

export interface RunEnded {
  runId: string;
  status: string;
  timingsMs: Record<string, number>;
}

export interface ServerChild extends AsyncDisposable {
  pid: number;
  url: string;
  /** The server's own summary line of a run, once logged. */
  runEnded(runId: string): RunEnded | undefined;
  /** The same, waited for: the line comes once the run's sandbox is removed, just after its answer. */
  untilRunEnded(runId: string, timeoutMs?: number): Promise<RunEnded | undefined>;
  /** The last warn/error lines the server logged, for a failure message. */
  problems(): string[];
  /** Heap figures after a full GC in the server (needs --expose-gc, which start() passes), and the memory's parts. */
  memoryAfterGc(): Promise<NodeJS.MemoryUsage & { parts: MemoryParts }>;
  /** Starts sampling the server's memory parts from inside it; memoryPeak() answers those at the highest RSS since. */
  watchMemory(): void;
  memoryPeak(): Promise<MemoryParts>;
  close(): Promise<void>;
}

const ENTRY = fileURLToPath(new URL('./server-entry.ts', import.meta.url));
const START_TIMEOUT_MS = 30_000;
const CLOSE_TIMEOUT_MS = 30_000;

export async function startServerChild(rawConfig: object, env: Record<string, string>): Promise<ServerChild> {
  const child = fork(ENTRY, [], {
    // BENCH_SERVER_NODE_ARGS adds Node flags to the server alone, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof".
    execArgv: [...SERVER_NODE_FLAGS, '--import', 'tsx', '--expose-gc', ...(process.env.BENCH_SERVER_NODE_ARGS?.split(' ').filter(Boolean) ?? [])],
    env: { ...process.env, ...env, BENCH_SERVER_CONFIG: JSON.stringify(rawConfig) },
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
  });
  const ended = new Map<string, RunEnded>();
  const problems: string[] = [];
  createInterface({ input: child.stdout! }).on('line', (line) => {
    let entry: any;
    try {
      entry = JSON.parse(line);
    } catch {
      return void problems.push(line);
    }
    if (entry.msg === 'run ended') ended.set(entry.runId, entry);
    if (entry.level >= 40) problems.push(`${entry.msg}${entry.err ? `: ${entry.err.message}` : ''}`);
  });

  const close = () => stopChild(child);
  try {
    const ready = await waitForMessage(child, 'ready', START_TIMEOUT_MS);
    return {
      pid: child.pid!,
      url: ready.url,
      runEnded: (runId) => ended.get(runId),
      async untilRunEnded(runId, timeoutMs = 15_000) {
        const deadline = Date.now() + timeoutMs;
        while (!ended.has(runId) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
        return ended.get(runId);
      },
      problems: () => problems.slice(-10),
      async memoryAfterGc() {
        const answer = waitForMessage(child, 'memory', 10_000);
        child.send({ type: 'gc' });
        const { memory, parts } = await answer;
        return { ...memory, parts };
      },
      watchMemory: () => void child.send({ type: 'watch-memory' }),
      async memoryPeak() {
        const answer = waitForMessage(child, 'memory-peak', 10_000);
        child.send({ type: 'memory-peak' });
        return (await answer).parts;
      },
      close,
      [Symbol.asyncDispose]: close,
    };
  } catch (err) {
    await close().catch((closeErr) => console.error('bench: could not stop the server child', closeErr));
    throw err;
  }
}

async function waitForMessage(child: ChildProcess, type: string, timeoutMs: number): Promise<any> {
  const signal = AbortSignal.timeout(timeoutMs);
  return new Promise((resolve, reject) => {
    const onMessage = (m: any) => m?.type === type && (cleanup(), resolve(m));
    const onExit = (code: number | null) => (cleanup(), reject(new Error(`server child exited (code ${code}) before "${type}"`)));
    const onTimeout = () => (cleanup(), reject(new Error(`server child sent no "${type}" within ${timeoutMs} ms`)));
    const cleanup = () => {
      child.off('message', onMessage);
      child.off('exit', onExit);
      signal.removeEventListener('abort', onTimeout);
    };
    child.on('message', onMessage);
    child.once('exit', onExit);
    signal.addEventListener('abort', onTimeout, { once: true });
  });
}

/** Asks for an orderly shutdown (the server sweeps its containers); kills the child if it hangs. */
async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  if (child.connected) child.send({ type: 'close' });
  else child.kill('SIGKILL'); // it ignores SIGINT/SIGTERM, and without IPC it is already closing
  const timer = setTimeout(() => child.kill('SIGKILL'), CLOSE_TIMEOUT_MS);
  try {
    const [code] = await exited;
    if (code !== 0) throw new Error(`server child exited with code ${code}`);
  } finally {
    clearTimeout(timer);
  }
}
