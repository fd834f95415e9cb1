// Chat Completions SSE (a `wire_api = "chat"` upstream) → Responses SSE (what Codex reads), as web
// streams so the gateway passes the upstream body through without buffering it.
import { createResponseTranslator, type ChatToResponsesOptions } from './response-translator.js';

const encoder = new TextEncoder();

/**
 * Translates an upstream Chat Completions body into a Responses SSE body, read on demand (the
 * upstream is read only as fast as Codex reads). A broken upstream connection ends the output with
 * `response.failed` naming the cause, so Codex reports it (and retries per stream_max_retries).
 * Cancelling the result (Codex went away) cancels the upstream body.
 */
export function chatToResponses(upstream: ReadableStream<Uint8Array>, options: ChatToResponsesOptions = {}): ReadableStream<Uint8Array> {
  const translator = createResponseTranslator(options);
  const reader = upstream.getReader();
  return new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(encoder.encode(translator.begin()));
    },
    async pull(controller) {
      // Loop until there is something to hand over: a pull that enqueues nothing is not called again.
      for (;;) {
        let text: string;
        let upstreamDone = false;
        try {
          const { done, value } = await reader.read();
          upstreamDone = done;
          text = done ? translator.end() : translator.push(value);
        } catch (error) {
          upstreamDone = true;
          text = translator.abort(`upstream connection lost mid-response: ${describe(error)}`);
        }
        if (text !== '') controller.enqueue(encoder.encode(text));
        if (translator.done || upstreamDone) {
          controller.close();
          // After a terminal event nothing more is read; let the upstream go.
          if (!upstreamDone) reader.cancel().catch(() => undefined);
          return;
        }
        if (text !== '') return;
      }
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });
}

function describe(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } } | null)?.cause;
  const message = cause?.message ?? (error instanceof Error ? error.message : String(error));
  return cause?.code ? `${message} (${cause.code})` : message;
}
