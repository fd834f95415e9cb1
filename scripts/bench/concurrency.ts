// Throughput and latency with runs in flight at once: the same two-command script, `level` clients
// each posting a run and waiting for its end, then the next, until the level's runs are done.
import type { ServerChild } from './server-child.js';
import { serviceOnce } from './latency.js';

export interface ConcurrencyLevel {
  level: number;
  runs: number;
  errors: string[];
  wallMs: number;
  latencyMs: number[];
  /** Runs that took a sandbox from the warm pool (a `claim` phase and no `start`). */
  pooled: number;
}

export async function measureConcurrency(server: ServerChild, token: string, prompt: string, levels: number[], runsAt: (level: number) => number): Promise<ConcurrencyLevel[]> {
  const results: ConcurrencyLevel[] = [];
  for (const level of levels) {
    const runs = runsAt(level);
    const result: ConcurrencyLevel = { level, runs, errors: [], wallMs: 0, latencyMs: [], pooled: 0 };
    const ids: string[] = [];
    let next = 0;
    const t0 = performance.now();
    const client = async () => {
      while (next++ < runs) {
        try {
          const run = await serviceOnce(server, token, prompt);
          result.latencyMs.push(run.ms);
          ids.push(run.runId);
        } catch (err) {
          result.errors.push((err as Error).message);
        }
      }
    };
    await Promise.all(Array.from({ length: level }, client));
    result.wallMs = performance.now() - t0;
    const phases = await Promise.all(ids.map(async (id) => (await server.untilRunEnded(id))?.timingsMs ?? {}));
    result.pooled = phases.filter((p) => p.claim !== undefined && p.start === undefined).length;
    results.push(result);
  }
  return results;
}

/** The p-th percentile (0..100) by nearest rank. */
export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}
