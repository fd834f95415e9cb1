import type { ProviderUsage } from '../domain/provider-usage.js';
import { SseDecoder, type SseEvent } from './sse-events.js';

/**
 * Passes a Responses SSE stream through unchanged, chunk by chunk, while watching for
 * `response.completed` to report its usage. Nothing is held back: Codex sees each event as it comes.
 */
export function usageTap(onUsage: (usage: Omit<ProviderUsage, 'requests'>) => void): TransformStream<Uint8Array, Uint8Array> {
  const decoder = new SseDecoder();
  const scan = (events: SseEvent[]) => {
    for (const { data } of events) {
      if (!data.includes('response.completed')) continue;
      try {
        const event = JSON.parse(data);
        if (event?.type !== 'response.completed') continue;
        const u = event.response?.usage ?? {};
        const n = (v: unknown) => (typeof v === 'number' ? v : 0);
        onUsage({ input_tokens: n(u.input_tokens), output_tokens: n(u.output_tokens), total_tokens: n(u.total_tokens) || n(u.input_tokens) + n(u.output_tokens) });
      } catch {
        // Not JSON: not ours to judge; Codex will.
      }
    }
  };
  return new TransformStream({
    transform(chunk, controller) {
      controller.enqueue(chunk);
      scan(decoder.push(chunk));
    },
    flush() {
      scan(decoder.end());
    },
  });
}

/**
 * Copies an upstream body and, if the upstream breaks off, ends the copy with a `response.failed`
 * event carrying `failure(err)`: Codex reads its message into its error (and retries, per
 * stream_max_retries, for any code but context_length_exceeded and insufficient_quota), so the run
 * says which provider failed and how. Letting the error through would make the HTTP server write its
 * own error text into the middle of the event stream. The event is preceded by a blank line, which
 * ends any event the break cut in half (Codex skips one whose data is not JSON).
 */
export function endOnUpstreamError(body: ReadableStream<Uint8Array>, failure: (err: unknown) => { code: string; message: string }): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { value, done } = await reader.read();
        if (done) controller.close();
        else controller.enqueue(value);
      } catch (err) {
        const error = { type: 'upstream_error', ...failure(err) };
        const event = { type: 'response.failed', response: { id: 'resp_gateway', status: 'failed', error } };
        controller.enqueue(new TextEncoder().encode(`\n\nevent: response.failed\ndata: ${JSON.stringify(event)}\n\n`));
        controller.close();
      }
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });
}
