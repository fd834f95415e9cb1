// Latency: the same two-command Codex script through the floor (A) and the service (B), interleaved
// A B A B so that machine noise lands on both sides alike.
import type { ResponsesStandIn } from '../../test/fixtures/responses-stand-in.js';
import { scriptMarker } from '../../test/fixtures/responses-stand-in.js';
import type { Floor } from './floor.js';
import type { ServerChild } from './server-child.js';
import { createRunJson } from './service-client.js';

export interface LatencyResult {
  floorMs: number[];
  serviceMs: number[];
  /** The server's own per-phase timings of each measured service run. */
  servicePhases: Record<string, number>[];
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

export async function serviceOnce(server: ServerChild, token: string, prompt: string): Promise<{ ms: number; runId: string }> {
  const t0 = performance.now();
  const run = await createRunJson(server.url, token, prompt);
  const ms = performance.now() - t0;
  if (run.status !== 'succeeded' || run.final_message !== FINAL_MESSAGE) {
    throw new Error(`service run ${run.id} ended ${run.status}: ${JSON.stringify(run.error)}; server said: ${server.problems().join(' | ')}`);
  }
  return { ms, runId: run.id };
}

export async function measureLatency(floor: Floor, server: ServerChild, token: string, prompt: string, runs: number): Promise<LatencyResult> {
  const result: LatencyResult = { floorMs: [], serviceMs: [], servicePhases: [] };
  const runIds: string[] = [];
  for (let i = 0; i < runs; i++) {
    result.floorMs.push(await floorOnce(floor, prompt));
    const b = await serviceOnce(server, token, prompt);
    result.serviceMs.push(b.ms);
    runIds.push(b.runId);
  }
  result.servicePhases = runIds.map((id) => server.runEnded(id)?.timingsMs ?? {});
  return result;
}
