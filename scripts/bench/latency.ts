// Latency: the same two-command Codex script through the floor (A) and the service (a warm pool, B;
// none, C; an environment's own pool, D), interleaved A B C D A B C D so that machine noise lands on
// every side alike.
import type { ResponsesStandIn } from '../../test/fixtures/responses-stand-in.js';
import { scriptMarker } from '../../test/fixtures/responses-stand-in.js';
import type { Floor } from './floor.js';
import type { ServerChild } from './server-child.js';
import { createRunJson } from './service-client.js';

/** One way of reaching the service: its server, and what to wait for before each timed run. */
export interface ServiceSide {
  label: string;
  server: ServerChild;
  token: string;
  /** Not timed: e.g. until the warm pool is full again. */
  before?: () => Promise<unknown>;
  /** The run's options (e.g. an environment). */
  options?: object;
}

export interface LatencyResult {
  floorMs: number[];
  sides: {
    label: string;
    ms: number[];
    /** The server's own per-phase timings of each measured run. */
    phases: Record<string, number>[];
  }[];
}

const FINAL_MESSAGE = 'done';

export function latencyPrompt(standIn: ResponsesStandIn): string {
  standIn.script('bench-latency', [{ exec: "printf 'x\\n' > a.txt" }, { exec: 'cat a.txt' }, { message: FINAL_MESSAGE }]);
  return `${scriptMarker('bench-latency')} write a file and read it back`;
}

export async function floorOnce(floor: Floor, prompt: string): Promise<number> {
  const t0 = performance.now();
  const output = await floor.run(prompt);
  const elapsed = performance.now() - t0;
  // Codex --json ends a good run with the agent's message as an item.completed event.
  if (!output.includes(`"text":"${FINAL_MESSAGE}"`)) throw new Error(`floor run did not end with "${FINAL_MESSAGE}": ${output.slice(-500)}`);
  return elapsed;
}

export async function serviceOnce(server: ServerChild, token: string, prompt: string, options?: object): Promise<{ ms: number; runId: string }> {
  const t0 = performance.now();
  const run = await createRunJson(server.url, token, prompt, options);
  const ms = performance.now() - t0;
  if (run.status !== 'succeeded' || run.final_message !== FINAL_MESSAGE) {
    throw new Error(`service run ${run.id} ended ${run.status}: ${JSON.stringify(run.error)}; server said: ${server.problems().join(' | ')}`);
  }
  return { ms, runId: run.id };
}

/** Floor, then each service side, in turn, `runs` times: machine noise lands on every side alike. */
export async function measureLatency(floor: Floor, sides: ServiceSide[], prompt: string, runs: number): Promise<LatencyResult> {
  const floorMs: number[] = [];
  const measured = sides.map(() => ({ ms: [] as number[], runIds: [] as string[] }));
  for (let i = 0; i < runs; i++) {
    floorMs.push(await floorOnce(floor, prompt));
    for (const [n, side] of sides.entries()) {
      await side.before?.();
      const b = await serviceOnce(side.server, side.token, prompt, side.options);
      measured[n]!.ms.push(b.ms);
      measured[n]!.runIds.push(b.runId);
    }
  }
  return {
    floorMs,
    sides: await Promise.all(
      sides.map(async (side, n) => ({
        label: side.label,
        ms: measured[n]!.ms,
        phases: await Promise.all(measured[n]!.runIds.map(async (id) => (await side.server.untilRunEnded(id))?.timingsMs ?? {})),
      })),
    ),
  };
}
