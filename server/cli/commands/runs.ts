// `status ID`, `logs ID [--follow]`, `cancel ID`, `list`: the API's run routes for a person or a script.
import type { RunView } from '../../runs/run-wire.js';
import { ApiClient, type ApiTarget } from '../api-client.js';
import { followEvents } from '../event-follow.js';
import { EXIT, type ExitCode } from '../exit-codes.js';
import { eventLine } from '../progress-text.js';

/** A look at a live run's log without --follow stops once the stored events have come and the stream went quiet. */
const LOOK_QUIET_MS = 500;

const runPath = (id: string) => `/v1/runs/${encodeURIComponent(id)}`;
const out = (text: string) => process.stdout.write(`${text}\n`);

export function describeRun(run: RunView): string {
  const lines = [
    `${run.id}  ${run.status}${run.queue_position ? ` (#${run.queue_position} in the queue)` : ''}`,
    `  provider ${run.provider}, model ${run.model}, timeout ${run.timeout_s}s`,
    `  created ${run.created_at}${run.started_at ? `, started ${run.started_at}` : ''}${run.finished_at ? `, finished ${run.finished_at}` : ''}`,
  ];
  if (run.changes) lines.push(`  ${run.changes.files_changed} files changed, +${run.changes.insertions} -${run.changes.deletions}`);
  if (run.error) lines.push(`  error: ${run.error.code}: ${run.error.message}`);
  if (run.final_message) lines.push(`  final message: ${run.final_message.split('\n')[0]}`);
  return lines.join('\n');
}

export async function statusCommand(id: string, flags: { json?: boolean }, target: ApiTarget): Promise<ExitCode> {
  const run = await new ApiClient(target).json<RunView>(runPath(id));
  out(flags.json ? JSON.stringify(run) : describeRun(run));
  return EXIT.succeeded;
}

export async function cancelCommand(id: string, flags: { json?: boolean }, target: ApiTarget): Promise<ExitCode> {
  const run = await new ApiClient(target).json<RunView>(`${runPath(id)}/cancel`, { method: 'POST' });
  out(flags.json ? JSON.stringify(run) : `${run.id} ${run.status}`);
  return EXIT.succeeded;
}

export async function logsCommand(id: string, flags: { follow?: boolean; after?: number; json?: boolean }, target: ApiTarget): Promise<ExitCode> {
  const client = new ApiClient(target);
  const events = followEvents(client, id, { after: flags.after, quietMs: flags.follow ? undefined : LOOK_QUIET_MS });
  for await (const event of events) {
    if (flags.json) out(JSON.stringify(event));
    else {
      const line = eventLine(event);
      if (line !== null) out(`${event.seq} ${line}`);
    }
  }
  return EXIT.succeeded;
}

export async function listCommand(flags: { status?: string; limit?: number; cursor?: string; json?: boolean }, target: ApiTarget): Promise<ExitCode> {
  const query = new URLSearchParams();
  if (flags.status) query.set('status', flags.status);
  if (flags.limit !== undefined) query.set('limit', String(flags.limit));
  if (flags.cursor) query.set('cursor', flags.cursor);
  const page = await new ApiClient(target).json<{ runs: RunView[]; next_cursor: string | null }>(`/v1/runs${query.size ? `?${query}` : ''}`);
  if (flags.json) {
    out(JSON.stringify(page));
    return EXIT.succeeded;
  }
  for (const run of page.runs) out([run.id, run.status.padEnd(9), run.created_at, run.model, (run.final_message ?? run.error?.code ?? '').split('\n')[0]].join('  '));
  if (page.next_cursor) out(`more: --cursor ${page.next_cursor}`);
  return EXIT.succeeded;
}
