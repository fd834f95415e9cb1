import type { RunStreamEvent } from '../../runs/run-wire.js';

/** A stream event (Codex's, setup's, egress's) as a short line for a person, or null (progress-text.ts). */
export type DescribeEvent = (event: Exclude<RunStreamEvent, { kind: 'run' }>) => string | null;

/**
 * Reads a run's events to their end and reports one step per line worth showing: the run's queued
 * and started events (they carry its id, which the client otherwise learns only at the end) and each
 * other event the describer makes a line of. Each report is awaited before the next read.
 */
export async function followProgress(
  events: AsyncIterable<RunStreamEvent>,
  describe: DescribeEvent,
  report: (step: number, message: string) => Promise<void>,
): Promise<number> {
  let step = 0;
  for await (const event of events) {
    const line = event.kind === 'run' ? lifecycleLine(event) : describe(event);
    if (line) await report(++step, line);
  }
  return step;
}

function lifecycleLine(event: Extract<RunStreamEvent, { kind: 'run' }>): string | null {
  const data = event.data;
  if (data.type === 'run.queued') return `run ${data.run.id} queued`;
  if (data.type === 'run.started') return `run ${data.run.id} started`;
  return null;
}
