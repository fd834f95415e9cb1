// A run's event stream (`GET /v1/runs/{id}/events`), resumed with Last-Event-ID when the
// connection drops, until the run's terminal event.
import { SseDecoder } from '../gateway/sse-events.js';
import type { ApiClient } from './api-client.js';
import { CliError, EXIT } from './exit-codes.js';
import type { StreamEvent } from './progress-text.js';

const TERMINAL = new Set(['run.succeeded', 'run.failed', 'run.timed_out', 'run.cancelled']);
const RECONNECTS_MAX = 10;
const RECONNECT_DELAY_MS = 1000;

export function isTerminal(event: StreamEvent): boolean {
  return event.kind === 'run' && TERMINAL.has(event.data.type);
}

export interface FollowOptions {
  /** Resume after this sequence number (0: from the start). */
  after?: number;
  signal?: AbortSignal;
  /** Stop once no event has come for this long (a look at a live run, not a follow). */
  quietMs?: number;
  /** The wait before reconnecting after a break. */
  reconnectDelayMs?: number;
}

/** Yields each event once, in order; ends after the terminal event (or when quiet for `quietMs`). */
export async function* followEvents(client: ApiClient, id: string, options: FollowOptions = {}): AsyncGenerator<StreamEvent> {
  let last = options.after ?? 0;
  let failures = 0;
  for (;;) {
    const connection = new AbortController();
    const signal = options.signal ? AbortSignal.any([options.signal, connection.signal]) : connection.signal;
    let quiet: NodeJS.Timeout | undefined;
    let quietEnded = false;
    const armQuiet = () => {
      if (options.quietMs === undefined) return;
      clearTimeout(quiet);
      quiet = setTimeout(() => {
        quietEnded = true;
        connection.abort();
      }, options.quietMs);
    };
    try {
      const res = await client.request(`/v1/runs/${encodeURIComponent(id)}/events`, { headers: { 'last-event-id': String(last), accept: 'text/event-stream' }, signal });
      failures = 0;
      armQuiet();
      const decoder = new SseDecoder();
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        for (const raw of decoder.push(chunk)) {
          const event: StreamEvent = { seq: Number(raw.id), kind: raw.event === 'run' ? 'run' : 'codex', data: JSON.parse(raw.data) };
          if (!(event.seq > last)) continue;
          last = event.seq;
          armQuiet();
          yield event;
          if (isTerminal(event)) return;
        }
      }
      // The server ends the stream only when the run has ended; an end without the terminal event
      // is a connection cut short: resume.
    } catch (err) {
      if (quietEnded) return;
      if (options.signal?.aborted || err instanceof CliError) throw err;
      if (++failures > RECONNECTS_MAX) throw new CliError(EXIT.unreachable, `the event stream of ${id} kept breaking: ${(err as Error).message}`);
    } finally {
      clearTimeout(quiet);
      connection.abort();
    }
    await new Promise((resolve) => setTimeout(resolve, options.reconnectDelayMs ?? RECONNECT_DELAY_MS));
  }
}
